"""When a space can be booked: opening hours minus live bookings and their buffers."""

from datetime import datetime, timedelta

from django.contrib.postgres.fields import DateTimeRangeField
from django.db.backends.postgresql.psycopg_any import DateTimeTZRange
from django.db.models import (
    BigIntegerField,
    DateTimeField,
    Exists,
    ExpressionWrapper,
    Func,
    OuterRef,
    QuerySet,
    Value,
)
from django.db.models.functions import Cast
from django.utils import timezone

from api.bookings.choices import BookingStatus
from api.bookings.models import Booking
from api.catalogue import hours
from api.catalogue.models import Space


def busy_intervals(space: Space, start: datetime, end: datetime) -> list[hours.Interval]:
    """Where no new booking may be: each live booking widened by the buffer on both sides."""
    bookings = Booking.objects.filter(
        # As bigint: a plain literal is an int4, and btree_gist has no int8 = int4 operator, so
        # the exclusion constraint's GiST index (space, blocked) could then match only on
        # `blocked`, reading every space's bookings in the window (slower as history grows).
        space_id=Cast(Value(space.pk), BigIntegerField()),
        status__in=BookingStatus.live(),
        blocked__overlap=DateTimeTZRange(start - space.buffer, end + space.buffer, "[)"),
    ).values_list("start", "end")
    return [(s - space.buffer, e + space.buffer) for s, e in bookings]


def bookable_window(space: Space, now: datetime) -> hours.Interval:
    return (
        now + timedelta(minutes=space.lead_time_minutes),
        now + timedelta(days=space.max_advance_days),
    )


def free_intervals(
    space: Space, start: datetime, end: datetime, now: datetime | None = None
) -> list[hours.Interval]:
    """Intervals inside [start, end) where a booking of at least the minimum duration fits."""
    earliest, latest = bookable_window(space, now or timezone.now())
    start, end = max(start, earliest), min(end, latest)
    if start >= end:
        return []
    free = hours.subtract(space.opening_intervals(start, end), busy_intervals(space, start, end))
    shortest = timedelta(minutes=space.min_duration_minutes)
    aligned = []
    for s, e in hours.clip(free, start, end):
        s, e = _round_to_grid(space, s, up=True), _round_to_grid(space, e, up=False)
        if e - s >= shortest:
            aligned.append((s, e))
    return aligned


def _round_to_grid(space: Space, instant: datetime, up: bool) -> datetime:
    local = instant.astimezone(space.venue.zone)
    midnight_offset = timedelta(
        hours=local.hour, minutes=local.minute, seconds=local.second, microseconds=local.microsecond
    )
    step = timedelta(minutes=space.slot_minutes)
    remainder = midnight_offset % step
    if not remainder:
        return instant
    return instant - remainder + (step if up else timedelta(0))


def spaces_free_for(spaces: QuerySet[Space], start: datetime, end: datetime) -> QuerySet[Space]:
    """The spaces in `spaces` where [start, end) could be booked right now."""
    # [start, end + the space's buffer) meets a live booking's [start, end + buffer) exactly
    # when the two bookings would be closer than the buffer.
    wanted = Func(
        Value(start),
        ExpressionWrapper(
            Value(end) + OuterRef("buffer_minutes") * Value(timedelta(minutes=1)),
            output_field=DateTimeField(),
        ),
        function="tstzrange",
        output_field=DateTimeRangeField(),
    )
    taken = Booking.objects.filter(
        space=OuterRef("pk"), status__in=BookingStatus.live(), blocked__overlap=wanted
    )
    now = timezone.now()
    candidates = (
        spaces.exclude(Exists(taken)).select_related("venue").prefetch_related("opening_hours")
    )
    free = [
        space.pk
        for space in candidates
        if _within(bookable_window(space, now), start, end) and space.is_open(start, end)
    ]
    return spaces.filter(pk__in=free)


def _within(window: hours.Interval, start: datetime, end: datetime) -> bool:
    return window[0] <= start and end <= window[1]
