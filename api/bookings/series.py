"""Weekly series: request one, decide its occurrences, cancel what is left.

A series is only a way of asking: each occurrence is a direct BookingRequest of its own, decided
by services.allocate() like any other (every rule, the fair-use caps, the exclusion constraint),
so each confirmed occurrence has its own booking, grant, reminders and calendar event, and
counts against the caps like the bookings it makes.
"""

from django.db import transaction
from django.utils import timezone

from api.accounts.models import User
from api.bookings import rules, services
from api.bookings.choices import BookingStatus, RequestStatus
from api.bookings.models import Booking, BookingRequest, BookingSeries
from workers.queue import enqueue_on_commit


def occurrences_of(series: BookingSeries) -> list:
    """(local date, start, end) of each occurrence, in the venue's zone."""
    return rules.series_occurrences(
        series.space.venue.zone,
        series.weekdays,
        series.start_minute,
        series.end_minute,
        series.first_date,
        series.last_date,
    )


def request_series(user: User, **fields) -> BookingSeries:
    """Record the series and one pending request per occurrence, then queue its decision."""
    with transaction.atomic():
        series = BookingSeries.objects.create(user=user, **fields)
        BookingRequest.objects.bulk_create(
            BookingRequest(
                user=user,
                space=series.space,
                start=start,
                end=end,
                party_size=series.party_size,
                activity=series.activity,
                series=series,
            )
            for _, start, end in occurrences_of(series)
        )
        enqueue_on_commit("allocation.allocate_series", str(series.id))
    return series


def allocate_series(series_id) -> None:
    """Decide the series' pending occurrences, earliest first (so the caps, when they bite,
    keep the nearest weeks). Each is its own allocate(): safe to run twice, and a request the
    sweeper queued meanwhile is decided once."""
    pending = BookingRequest.objects.filter(series_id=series_id, status=RequestStatus.PENDING)
    for request_id in pending.order_by("start").values_list("id", flat=True):
        services.allocate(request_id)


def cancel_series(series: BookingSeries) -> BookingSeries:
    """Cancel every occurrence that has not started (each through cancel_booking, so its code
    leaves the lock and the waitlist gets its slot); occurrences not yet decided are then
    refused. Cancelling again changes nothing."""
    now = timezone.now()
    with transaction.atomic():
        BookingSeries.objects.filter(pk=series.pk, cancelled_at__isnull=True).update(
            cancelled_at=now
        )
        future = Booking.objects.filter(
            request__series=series, status=BookingStatus.CONFIRMED, start__gt=now
        ).select_related("space")
        for booking in future:
            services.cancel_booking(booking)
    series.refresh_from_db()
    return series


def status_of(occurrence: BookingRequest) -> str:
    """An occurrence's status as the series shows it: its request's, and once confirmed its
    booking's (confirmed, cancelled, completed)."""
    if occurrence.status == RequestStatus.CONFIRMED and occurrence.booking is not None:
        return occurrence.booking.status
    return occurrence.status
