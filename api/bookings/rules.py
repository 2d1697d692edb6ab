"""The booking rules, each written once, as plain functions on plain values.

Every caller applies them through this module: the request serializer (to tell a person at
once), the allocation worker (again at decision time, so a space edited after a request was
queued is honoured), availability, slot search, flexible allocation and the rejection email's
alternatives. A rule takes a space's rule values (`SpaceRules`), times and `now`, and returns a
`RejectReason` or None. None of them reads the database (api/bookings/availability.py loads the
values), so each is tested alone, and a later rule is one more function here.

The local wall-clock rules (opening hours, the slot grid) are read in the venue's zone, so they
hold across daylight-saving changes; every other time is an aware instant.
"""

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from api.bookings.choices import RejectReason
from api.catalogue import hours

Interval = tuple[datetime, datetime]
MINUTE = timedelta(minutes=1)
DAY_MINUTES = 24 * 60


@dataclass(frozen=True)
class Hours:
    """When a space is open, in its venue's local time: the weekly pattern and the dated extra
    openings (date, opens, closes), minus the dated closures of the space and of its venue
    (first_date, last_date, opens, closes; without hours a closure takes whole days)."""

    zone: ZoneInfo
    weekly: tuple[tuple[int, int, int], ...]
    openings: tuple[tuple[date, int, int], ...] = ()
    closures: tuple[tuple[date, date, int | None, int | None], ...] = ()


@dataclass(frozen=True)
class SpaceRules:
    """A space's rule values, as plain values (availability.rules_of builds them)."""

    hours: Hours
    capacity: int
    activities: frozenset[int]
    slot_minutes: int
    min_duration_minutes: int
    max_duration_minutes: int
    lead_time_minutes: int
    max_advance_days: int
    buffer_minutes: int

    @property
    def zone(self) -> ZoneInfo:
        return self.hours.zone

    @functools.cached_property
    def buffer(self) -> timedelta:
        return timedelta(minutes=self.buffer_minutes)


# --- the rules ---------------------------------------------------------------------------------


def booking_window(space: SpaceRules, now: datetime) -> Interval:
    """The earliest and the latest start the space takes at `now`: after its lead time and at
    most its max advance ahead."""
    return (
        now + timedelta(minutes=space.lead_time_minutes),
        now + timedelta(days=space.max_advance_days),
    )


def check_window(space: SpaceRules, start: datetime, now: datetime) -> RejectReason | None:
    earliest, latest = booking_window(space, now)
    if start < earliest:
        return RejectReason.TOO_LATE
    if start > latest:
        return RejectReason.TOO_FAR_AHEAD
    return None


def on_grid(space: SpaceRules, instant: datetime) -> bool:
    """Whether the local wall-clock time is a whole multiple of the slot from local midnight."""
    local = instant.astimezone(space.zone)
    minute = local.hour * 60 + local.minute
    return local.second == 0 and local.microsecond == 0 and minute % space.slot_minutes == 0


def check_grid(space: SpaceRules, instant: datetime) -> RejectReason | None:
    return None if on_grid(space, instant) else RejectReason.OFF_GRID


def check_duration(space: SpaceRules, start: datetime, end: datetime) -> RejectReason | None:
    minutes = (end - start) / MINUTE
    if space.min_duration_minutes <= minutes <= space.max_duration_minutes:
        return None
    return RejectReason.DURATION_NOT_ALLOWED


def check_capacity(space: SpaceRules, party_size: int) -> RejectReason | None:
    return None if party_size <= space.capacity else RejectReason.OVER_CAPACITY


def check_activity(space: SpaceRules, activity: int | None) -> RejectReason | None:
    """A request names an activity (by id) or none; the space must offer a named one."""
    if activity is None or activity in space.activities:
        return None
    return RejectReason.ACTIVITY_NOT_OFFERED


@functools.lru_cache(maxsize=4096)
def open_intervals(opening: Hours, start: datetime, end: datetime) -> tuple[Interval, ...]:
    """The merged UTC intervals that meet [start, end) when the space is open: its weekly hours
    and extra openings, minus its closures. Cached: spaces that share their hours share the
    answer (slot search asks for thousands at once)."""
    weekly = hours.opening_intervals(opening.weekly, opening.zone, start, end)
    extra = hours.clip(hours.dated_intervals(opening.openings, opening.zone), start, end)
    closed = hours.closed_intervals(opening.closures, opening.zone, start, end)
    return tuple(hours.subtract(hours.merge(weekly + extra), closed))


def check_open(space: SpaceRules, start: datetime, end: datetime) -> RejectReason | None:
    for opens, closes in open_intervals(space.hours, start, end):
        if opens <= start and end <= closes:
            return None
    return RejectReason.SPACE_CLOSED


@dataclass(frozen=True)
class Breach:
    """A rule a booking breaks, and the part of the booking it is about (`start`, `end`,
    `party_size` or `activity`: the request's field a person is told to change)."""

    reason: RejectReason
    concerns: str


def breach(
    space: SpaceRules,
    start: datetime,
    end: datetime,
    party_size: int,
    activity: int | None,
    now: datetime,
) -> Breach | None:
    """The first rule a booking of the space for [start, end) would break, or None.

    Checked in the order a person is told about them: when, the grid, how long, how many, what,
    and last whether the space is open then. Whether the slot is free is the database's word
    (the exclusion constraint), not a rule here.
    """
    checks = (
        ("start", lambda: check_window(space, start, now)),
        ("start", lambda: check_grid(space, start)),
        ("end", lambda: check_grid(space, end)),
        ("end", lambda: check_duration(space, start, end)),
        ("party_size", lambda: check_capacity(space, party_size)),
        ("activity", lambda: check_activity(space, activity)),
        ("start", lambda: check_open(space, start, end)),
    )
    for concerns, check in checks:
        if reason := check():
            return Breach(reason, concerns)
    return None


def check_quota(active_bookings: int, limit: int) -> RejectReason | None:
    """A person holds at most `limit` confirmed bookings that have not ended."""
    return RejectReason.QUOTA_EXCEEDED if active_bookings >= limit else None


# --- fair use ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FairUse:
    """A venue's fair-use values (its own, or the defaults in settings; see docs/fair-use.md)."""

    max_active_bookings: int
    max_weekly_hours: int
    no_show_after_minutes: int
    no_show_limit: int
    no_show_period_days: int
    pause_days: int


def week_of(zone: ZoneInfo, instant: datetime) -> Interval:
    """The local week (Monday 00:00 to the next Monday 00:00, in the venue's zone) that holds
    `instant`, as UTC instants: the week the weekly-hours cap counts in."""
    monday = instant.astimezone(zone).date()
    monday -= timedelta(days=monday.weekday())
    return (
        hours.local_instant(monday, 0, zone),
        hours.local_instant(monday + timedelta(days=7), 0, zone),
    )


def check_weekly_hours(
    booked: timedelta, wanted: timedelta, limit_hours: int
) -> RejectReason | None:
    """A person books at most `limit_hours` in one local week: what they hold in the week of
    the start (`booked`) and what they ask for now (`wanted`) together."""
    if booked + wanted > timedelta(hours=limit_hours):
        return RejectReason.WEEKLY_HOURS_EXCEEDED
    return None


def check_paused(paused_until: datetime | None, now: datetime) -> RejectReason | None:
    """A person whose new bookings are paused (for no-shows) gets none until the pause ends."""
    return RejectReason.PAUSED if paused_until is not None and now < paused_until else None


def no_show_at(fair: FairUse, start: datetime) -> datetime:
    """When a booking whose code the lock has not accepted is released as a no-show."""
    return start + timedelta(minutes=fair.no_show_after_minutes)


def is_no_show(
    fair: FairUse,
    start: datetime,
    end: datetime,
    checked_in_at: datetime | None,
    has_lock: bool,
    now: datetime,
) -> bool:
    """Whether a booking is a no-show at `now`: on a space with a lock (only a lock can tell),
    not checked in, past its no-show time and not yet over."""
    return has_lock and checked_in_at is None and no_show_at(fair, start) <= now < end


def pause_until(fair: FairUse, no_show_times: Sequence[datetime], now: datetime) -> datetime | None:
    """The end of the pause that the person's no-shows (when each was released) earn now: with
    `no_show_limit` of them in the last `no_show_period_days`, a pause of `pause_days`."""
    since = now - timedelta(days=fair.no_show_period_days)
    recent = [moment for moment in no_show_times if since < moment <= now]
    if len(recent) >= fair.no_show_limit:
        return now + timedelta(days=fair.pause_days)
    return None


# --- weekly series -----------------------------------------------------------------------------

# A series spans at most a year, so it holds at most 7 · 53 occurrences.
SERIES_MAX_DAYS = 366


def series_occurrences(
    zone: ZoneInfo,
    weekdays: Iterable[int],
    start_minute: int,
    end_minute: int,
    first_date: date,
    last_date: date,
) -> list[tuple[date, datetime, datetime]]:
    """(local date, start, end) of each occurrence of a weekly series: every local date from
    `first_date` to `last_date` on one of `weekdays` (0 is Monday), at the same wall-clock
    minutes in the venue's zone whatever its UTC offset that day, so 18:00 stays 18:00 across
    daylight-saving changes. (A wall-clock time inside a spring-forward gap is read as the zone
    reads it, an hour on; the grid rule then judges it.)"""
    days = set(weekdays)
    found = []
    day = first_date
    while day <= last_date:
        if day.weekday() in days:
            found.append(
                (
                    day,
                    hours.local_instant(day, start_minute, zone),
                    hours.local_instant(day, end_minute, zone),
                )
            )
        day += timedelta(days=1)
    return found


# --- the slot grid -----------------------------------------------------------------------------


def grid_at_or_after(space: SpaceRules, instant: datetime) -> datetime:
    """The first instant on the space's grid at or after `instant`."""
    zone, step = space.zone, space.slot_minutes
    local = instant.astimezone(zone)
    minute = local.hour * 60 + local.minute
    fraction = timedelta(seconds=local.second, microseconds=local.microsecond)
    into = timedelta(minutes=minute % step) + fraction
    if not into:
        return instant
    # The next multiple of the step, or local midnight if sooner (a step that does not divide
    # the day starts again there).
    to_midnight = timedelta(minutes=DAY_MINUTES - minute) - fraction
    candidate = instant + min(timedelta(minutes=step) - into, to_midnight)
    if candidate.astimezone(zone).utcoffset() == local.utcoffset():
        return candidate
    return _grid_near(zone, step, instant, after=True)


def grid_at_or_before(space: SpaceRules, instant: datetime) -> datetime:
    """The last instant on the space's grid at or before `instant`."""
    zone, step = space.zone, space.slot_minutes
    local = instant.astimezone(zone)
    minute = local.hour * 60 + local.minute
    into = timedelta(minutes=minute % step, seconds=local.second, microseconds=local.microsecond)
    candidate = instant - into
    if candidate.astimezone(zone).utcoffset() == local.utcoffset():
        return candidate
    return _grid_near(zone, step, instant, after=False)


def _grid_near(zone: ZoneInfo, step: int, instant: datetime, after: bool) -> datetime:
    """The grid point nearest `instant` on one side, found by listing every wall-clock grid time
    of the local days around it: for the rare instants next to a daylight-saving change, where
    local time jumps (a time that does not exist) or repeats (one that exists twice)."""
    day = instant.astimezone(zone).date()
    points = []
    for offset in (-1, 0, 1):
        local_day = day + timedelta(days=offset)
        for minute in range(0, DAY_MINUTES, step):
            wall = datetime.combine(local_day, time(minute // 60, minute % 60), tzinfo=zone)
            for fold in (0, 1):
                point = wall.replace(fold=fold).astimezone(UTC)
                shown = point.astimezone(zone)
                if (shown.date(), shown.hour * 60 + shown.minute) == (local_day, minute):
                    points.append(point)
    if after:
        return min(point for point in points if point >= instant)
    return max(point for point in points if point <= instant)


# --- free time and the starts a booking may take -----------------------------------------------


def widen(bookings: Iterable[Interval], buffer: timedelta) -> list[Interval]:
    """Where no new booking may be: each live booking widened by the space's buffer on both
    sides. (Instants and spans of one kind: datetimes and a timedelta, or, for slot search,
    epoch seconds and seconds.)"""
    return [(start - buffer, end + buffer) for start, end in bookings]


def free_intervals(
    space: SpaceRules,
    busy: Iterable[Interval],
    start: datetime,
    end: datetime,
    now: datetime,
) -> list[Interval]:
    """The intervals inside [start, end) where a booking of the space may lie now: open, clear of
    `busy` (see `widen`), from the earliest start to the latest start plus the longest booking,
    on the grid at both ends, and at least the shortest booking long."""
    earliest, latest = booking_window(space, now)
    start = max(start, earliest)
    end = min(end, latest + timedelta(minutes=space.max_duration_minutes))
    if start >= end:
        return []
    free = hours.subtract(list(open_intervals(space.hours, start, end)), busy)
    shortest = timedelta(minutes=space.min_duration_minutes)
    aligned = []
    for free_start, free_end in hours.clip(free, start, end):
        free_start = grid_at_or_after(space, free_start)
        free_end = grid_at_or_before(space, free_end)
        if free_end - free_start >= shortest and free_start <= latest:
            aligned.append((free_start, free_end))
    return aligned


def candidate_starts(
    space: SpaceRules,
    start: datetime,
    end: datetime,
    duration: timedelta,
    now: datetime,
) -> list[datetime]:
    """Every start, in order, whose booking of `duration` lies inside [start, end) and keeps
    every rule of `breach` (window, grid, duration, opening hours), whatever other bookings
    there are (see `ruled_out`). Empty when the space does not take bookings that long."""
    if check_duration(space, start, start + duration):
        return []
    earliest, latest = booking_window(space, now)
    start, end = max(start, earliest), min(end, latest + duration)
    if start >= end:
        return []
    step = timedelta(minutes=space.slot_minutes)
    divides_day = DAY_MINUTES % space.slot_minutes == 0
    starts = []
    for opens, closes in hours.clip(list(open_intervals(space.hours, start, end)), start, end):
        first = grid_at_or_after(space, opens)
        last = min(closes - duration, latest)
        if first > last:
            continue
        last = grid_at_or_before(space, last)
        if divides_day and _same_offset(space.zone, first, last + duration):
            # One UTC offset throughout and a step that divides the day: the grid is every
            # `step` in real time, so the ends are on it exactly when the duration is a whole
            # number of steps.
            if duration % step == timedelta(0):
                starts.extend(first + n * step for n in range((last - first) // step + 1))
            continue
        # Next to a daylight-saving change, or on a grid that starts again at midnight: point
        # by point.
        moment = first
        while moment <= last:
            if on_grid(space, moment + duration):
                starts.append(moment)
            moment = grid_at_or_after(space, moment + timedelta(microseconds=1))
    return starts


def _same_offset(zone: ZoneInfo, first: datetime, last: datetime) -> bool:
    # Offsets change at most twice a year, and these spans are at most weeks long.
    return first.astimezone(zone).utcoffset() == last.astimezone(zone).utcoffset()


def ruled_out(
    bookings: Sequence[Interval], buffer: timedelta, duration: timedelta
) -> list[Interval]:
    """The starts that live bookings of a space rule out for a booking of `duration`: every
    start strictly inside one of these (merged, in order) intervals. (Of one kind, as `widen`.)

    [t, t + duration) keeps clear of a booking widened by the buffer, [s, e) (see `widen`),
    exactly when it ends by s or starts at e or later: t is ruled out when s - duration < t < e.
    """
    return ruled_out_by_space({None: bookings}, buffer, duration)[None]


def ruled_out_by_space(
    bookings: Mapping[int, Sequence[Interval]], buffer: timedelta, duration: timedelta
) -> dict[int, list[Interval]]:
    """`ruled_out` for many spaces that share a buffer, by space: slot search asks it for every
    booking in a city's window, so it is written for speed (`widen`, then `duration` earlier,
    in one step)."""
    before, after = buffer + duration, buffer
    found = {}
    for key, booked in bookings.items():
        if len(booked) == 1:  # the usual case: nothing to merge
            ((start, end),) = booked
            found[key] = [(start - before, end + after)]
            continue
        merged: list[Interval] = []
        for lo, hi in sorted((start - before, end + after) for start, end in booked):
            # Open intervals: two that only touch leave the point between them free.
            if merged and lo < merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
            else:
                merged.append((lo, hi))
        found[key] = merged
    return found


# --- ranking -----------------------------------------------------------------------------------


def space_rank(capacity: int, distance_km: float | None) -> tuple[int, float]:
    """How slot search and flexible allocation order spaces: the smallest space that fits the
    party first (it leaves the big rooms to big groups), then the nearest. Within spaces of one
    rank, offers go earliest first (`offer_rank`)."""
    return (capacity, 0.0 if distance_km is None else distance_km)


def offer_rank(capacity: int, distance_km: float | None, start: datetime, space_id: int) -> tuple:
    """The order of offers: by `space_rank`, then the earliest, then by the space's id (so two
    equal rooms of a venue alternate in time: 18:00 in one, 18:00 in the other, 18:30 …)."""
    return (*space_rank(capacity, distance_km), start, space_id)


def time_rank(start: datetime, wanted: datetime) -> tuple[timedelta, datetime]:
    """Alternatives in one space: the nearest in time to what was wanted, earlier first on a tie."""
    return (abs(start - wanted), start)


def gap_to(start: datetime, window_start: datetime, window_end: datetime) -> timedelta:
    """How far a start lies outside a wanted window (zero inside it)."""
    return max(window_start - start, start - window_end, timedelta(0))


def interleave(*ranked: Sequence, limit: int) -> list:
    """Up to `limit` items, taken in turn from each ranked list (an email's alternatives mix
    'the same time elsewhere' with 'the same place at another time')."""
    mixed = []
    queues = [list(items) for items in ranked]
    while any(queues) and len(mixed) < limit:
        for queue in queues:
            if queue and len(mixed) < limit:
                mixed.append(queue.pop(0))
    return mixed
