"""Weekly opening hours in local wall-clock time, turned into UTC intervals.

Plain functions on plain values, so daylight-saving arithmetic is tested without a database.
"""

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.utils.translation import gettext as _

Interval = tuple[datetime, datetime]


def parse_minute(text: str) -> int:
    """'16:30' → 990; '24:00' is the end of the day."""
    hour, sep, minute = text.partition(":")
    if not sep or not (hour.isdigit() and minute.isdigit()) or len(minute) != 2:
        raise ValueError(_("Use HH:MM."))
    value = int(hour) * 60 + int(minute)
    if int(minute) > 59 or value > 24 * 60:
        raise ValueError(_("Use a time from 00:00 to 24:00."))
    return value


def format_minute(value: int) -> str:
    return f"{value // 60:02d}:{value % 60:02d}"


def weekly_key(weekly: Iterable[tuple[int, int, int]]) -> tuple[int, ...]:
    """Weekly hours (weekday, opens, closes) as catalogue_space.weekly_hours holds them."""
    return tuple(
        sorted(weekday * 4_000_000 + opens * 2000 + closes for weekday, opens, closes in weekly)
    )


def from_weekly_key(key: Iterable[int]) -> tuple[tuple[int, int, int], ...]:
    """catalogue_space.weekly_hours back into weekly hours (weekday, opens, closes), sorted."""
    return tuple((value // 4_000_000, value % 4_000_000 // 2000, value % 2000) for value in key)


def local_instant(day: date, minute: int, zone: ZoneInfo) -> datetime:
    """The UTC instant of a wall-clock minute on a local day ('24:00' is the next midnight)."""
    day = day + timedelta(days=minute // (24 * 60))
    minute %= 24 * 60
    wall = datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)
    return wall.astimezone(UTC)


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, with touching or overlapping intervals joined."""
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def opening_intervals(
    weekly: Iterable[tuple[int, int, int]], zone: ZoneInfo, start: datetime, end: datetime
) -> list[Interval]:
    """Merged UTC intervals of the weekly hours (weekday, opens, closes) that meet [start, end)."""
    weekly = list(weekly)
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    intervals = []
    day = first
    while day <= last:
        for weekday, opens, closes in weekly:
            if weekday == day.weekday():
                interval = (local_instant(day, opens, zone), local_instant(day, closes, zone))
                if interval[0] < end and interval[1] > start:
                    intervals.append(interval)
        day += timedelta(days=1)
    return merge(intervals)


def dated_intervals(dated: Iterable[tuple[date, int, int]], zone: ZoneInfo) -> list[Interval]:
    """Merged UTC intervals of one-off local hours (date, opens, closes)."""
    return merge(
        (local_instant(day, opens, zone), local_instant(day, closes, zone))
        for day, opens, closes in dated
    )


def closed_intervals(
    closures: Iterable[tuple[date, date, int | None, int | None]],
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
) -> list[Interval]:
    """Merged UTC intervals of the closures (first_date, last_date, opens, closes) on the local
    dates that meet [start, end); a closure without hours closes its whole days."""
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    days = []
    for first_date, last_date, opens, closes in closures:
        day = max(first_date, first)
        while day <= min(last_date, last):
            days.append((day, 0 if opens is None else opens, 24 * 60 if closes is None else closes))
            day += timedelta(days=1)
    return dated_intervals(days, zone)


def subtract(intervals: list[Interval], busy: Iterable[Interval]) -> list[Interval]:
    """The parts of `intervals` not covered by any of `busy`."""
    free = intervals
    for b_start, b_end in merge(busy):
        remaining = []
        for start, end in free:
            if b_end <= start or b_start >= end:
                remaining.append((start, end))
                continue
            if start < b_start:
                remaining.append((start, b_start))
            if b_end < end:
                remaining.append((b_end, end))
        free = remaining
    return free


def clip(intervals: list[Interval], start: datetime, end: datetime) -> list[Interval]:
    return [(max(s, start), min(e, end)) for s, e in intervals if s < end and e > start]
