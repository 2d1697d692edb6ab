"""A space's calendar from the database, for the rules (api/bookings/rules.py) to judge.

It loads a space's rule values with the dated openings and closures that meet a period, and
the live bookings that meet it, always with indexed range queries: the GiST index of the
bookings' exclusion constraint (space, blocked) and the closures' GiST index on their dates.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.db.backends.postgresql.psycopg_any import DateRange, DateTimeTZRange
from django.db.models import BigIntegerField, FloatField, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Cast, Extract
from django.utils import timezone

from api.bookings import rules
from api.bookings.choices import BookingStatus
from api.bookings.models import Booking
from api.catalogue.models import (
    MAX_ADVANCE_DAYS,
    MAX_DURATION_MINUTES,
    Closure,
    ExtraOpening,
    LocalDates,
    Space,
    Venue,
)

# The values of a space that decide which starts it takes (with its hours), by name.
TIMING_FIELDS = (
    "slot_minutes",
    "min_duration_minutes",
    "max_duration_minutes",
    "lead_time_minutes",
    "max_advance_days",
)
# Every value of a space that the rules read (SpaceRules has fields of these names).
RULE_FIELDS = ("capacity", *TIMING_FIELDS, "buffer_minutes")


# No booking may lie outside [now - REACH_BEFORE, now + REACH_AFTER) (the space's validators):
# queries about times beyond are cut there, so a time in the year 1 or 9999 finds nothing
# rather than leaving the calendar.
REACH_BEFORE = timedelta(days=1)
REACH_AFTER = timedelta(days=MAX_ADVANCE_DAYS + 1, minutes=MAX_DURATION_MINUTES)


def within_reach(start: datetime, end: datetime, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) cut to where bookings can be (empty when start >= end afterwards)."""
    return max(start, now - REACH_BEFORE), min(end, now + REACH_AFTER)


def local_dates(zone: ZoneInfo, start: datetime, end: datetime) -> tuple[date, date]:
    """The local dates whose hours may meet [start, end) (within reach), a day wider."""
    start, end = within_reach(start, end, timezone.now())
    return (
        start.astimezone(zone).date() - timedelta(days=1),
        max(start, end).astimezone(zone).date() + timedelta(days=1),
    )


def space_rules(
    values: dict,
    zone: ZoneInfo,
    weekly: Iterable[tuple[int, int, int]],
    activities: Iterable[int],
    openings: Iterable[tuple] = (),
    closures: Iterable[tuple] = (),
) -> rules.SpaceRules:
    """SpaceRules from a space's values (RULE_FIELDS) and its hours, however they were read."""
    return rules.SpaceRules(
        hours=rules.Hours(zone, tuple(sorted(weekly)), tuple(sorted(openings)), tuple(closures)),
        activities=frozenset(activities),
        **{name: values[name] for name in RULE_FIELDS},
    )


def rules_for(
    spaces: Iterable[Space], start: datetime, end: datetime
) -> dict[int, rules.SpaceRules]:
    """The rules of each space (by id) for bookings that meet [start, end): its values, its
    weekly hours and activities (prefetch `opening_hours` and `activities`, and select the
    venue), and the dated openings and closures of those dates, read for all at once."""
    spaces = list(spaces)
    if not spaces:
        return {}
    first = min(local_dates(space.venue.zone, start, end)[0] for space in spaces)
    last = max(local_dates(space.venue.zone, start, end)[1] for space in spaces)
    openings, closures = dated_hours_for({s.pk: s.venue_id for s in spaces}, first, last)
    return {
        space.pk: space_rules(
            {name: getattr(space, name) for name in RULE_FIELDS},
            space.venue.zone,
            [(h.weekday, h.opens, h.closes) for h in space.opening_hours.all()],
            [activity.pk for activity in space.activities.all()],
            openings[space.pk],
            closures[space.pk],
        )
        for space in spaces
    }


def rules_of(space: Space, start: datetime, end: datetime) -> rules.SpaceRules:
    return rules_for([space], start, end)[space.pk]


def dated_hours_for(
    spaces: dict[int, int], first: date, last: date
) -> tuple[dict[int, list[tuple]], dict[int, list[tuple]]]:
    """The extra openings and the closures (of the space or its venue) on the dates first to
    last, for many spaces at once (`spaces` maps a space's id to its venue's): two queries on
    the dates alone (an index each), since a city has few of them on any dates."""
    openings, closures = defaultdict(list), defaultdict(list)
    for opening in ExtraOpening.objects.filter(date__range=(first, last)):
        if opening.space_id in spaces:
            openings[opening.space_id].append(opening.hours)
    by_venue = defaultdict(list)
    for space_id, venue_id in spaces.items():
        by_venue[venue_id].append(space_id)
    closing = Closure.objects.alias(dates=LocalDates()).filter(
        dates__overlap=DateRange(first, last, "[]")
    )
    for closure in closing:
        if closure.space_id:
            if closure.space_id in spaces:
                closures[closure.space_id].append(closure.hours)
        else:
            for space_id in by_venue.get(closure.venue_id, ()):
                closures[space_id].append(closure.hours)
    return openings, closures


def bookings_of(space: Space, start: datetime, end: datetime) -> list[rules.Interval]:
    """The live bookings of the space that come within its buffer of [start, end)."""
    return list(
        Booking.objects.filter(
            # As bigint: a plain literal is an int4, and btree_gist has no int8 = int4
            # operator, so the exclusion constraint's GiST index (space, blocked) could then
            # match only on `blocked`, reading every space's bookings in the window (slower as
            # history grows).
            space_id=Cast(Value(space.pk), BigIntegerField()),
            status__in=BookingStatus.live(),
            blocked__overlap=DateTimeTZRange(start - space.buffer, end + space.buffer, "[)"),
        ).values_list("start", "end")
    )


def id_array(ids: Iterable[int]) -> RawSQL:
    """Ids for `__in` as one array parameter rather than one parameter each (thousands of those
    cost more to build into SQL than the query takes)."""
    return RawSQL("SELECT unnest(%s::bigint[])", (list(ids),))


def bookings_for(
    start: datetime, end: datetime, spaces: Iterable[int] | None = None
) -> dict[int, list[tuple[float, float]]]:
    """The live bookings that meet [start, end), by space (of `spaces`, or of any), as epoch
    seconds: for slot search across a city. The index on (status, end) reads only the bookings
    that end after `start`: those of the coming weeks, however long the history.

    Epoch seconds (a float each, read by psycopg in C) rather than datetimes: Django reads a
    timestamptz in Python, which for a city's week of bookings costs more than the search."""
    bookings = Booking.objects.filter(status__in=BookingStatus.live(), end__gt=start, start__lt=end)
    if spaces is not None:
        bookings = bookings.filter(space__in=id_array(spaces))
    rows = bookings.order_by().values_list(
        "space_id",
        # In UTC: Django reads a datetime's parts in the current zone otherwise.
        Cast(Extract("start", "epoch", tzinfo=UTC), FloatField()),
        Cast(Extract("end", "epoch", tzinfo=UTC), FloatField()),
    )
    with connection.cursor() as cursor:
        # Straight from the cursor: Django's row-by-row converters cost as much as the query.
        cursor.execute(*rows.query.sql_with_params())
        rows = cursor.fetchall()
    found = defaultdict(list)
    for space_id, booking_start, booking_end in rows:
        found[space_id].append((booking_start, booking_end))
    return found


def free_intervals(
    space: Space, start: datetime, end: datetime, now: datetime | None = None
) -> list[rules.Interval]:
    """GET /spaces/{id}/availability/: where a booking of the space may lie in [start, end)."""
    now = now or timezone.now()
    start, end = within_reach(start, end, now)
    if start >= end:
        return []
    space_rules = rules_of(space, start, end)
    busy = rules.widen(bookings_of(space, start, end), space_rules.buffer)
    return rules.free_intervals(space_rules, busy, start, end, now)


FAIR_USE_FIELDS = {
    "max_active_bookings": "MAX_ACTIVE_BOOKINGS_PER_USER",
    "max_weekly_hours": "MAX_WEEKLY_HOURS_PER_USER",
    "no_show_after_minutes": "NO_SHOW_AFTER_MINUTES",
    "no_show_limit": "NO_SHOW_LIMIT",
    "no_show_period_days": "NO_SHOW_PERIOD_DAYS",
    "pause_days": "PAUSE_DAYS",
}


def fair_use_of(venue: Venue) -> rules.FairUse:
    """A venue's fair-use values: its own where it has them, the defaults in settings elsewhere
    (read at each call, so a changed setting counts at once)."""
    values = {}
    for field, name in FAIR_USE_FIELDS.items():
        own = getattr(venue, field)
        values[field] = getattr(settings, name) if own is None else own
    return rules.FairUse(**values)
