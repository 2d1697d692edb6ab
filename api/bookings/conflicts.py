"""Confirmed bookings that a closure added later overlaps, for GET /api/v1/alerts/.

A closure never cancels a booking by itself: the booking was promised. It shows here until an
operator cancels it or removes the closure; both end the alert, because alerts are read afresh.
"""

from datetime import datetime, timedelta

from django.db.backends.postgresql.psycopg_any import DateRange
from django.db.models import Q

from api.bookings.availability import REACH_AFTER
from api.bookings.choices import BookingStatus
from api.bookings.models import Booking
from api.catalogue import hours
from api.catalogue.models import Closure, LocalDates


def bookings_in_closures(now: datetime) -> list[dict]:
    """One alert per confirmed booking, not yet ended, that a closure overlaps."""
    yesterday = now.date() - timedelta(days=1)
    horizon = (now + REACH_AFTER).date()
    closures = (
        Closure.objects.alias(dates=LocalDates())
        .filter(dates__overlap=DateRange(yesterday, None, "[)"))
        .select_related("venue", "space__venue")
    )
    alerts = []
    for closure in closures:
        zone = (closure.venue or closure.space.venue).zone
        # The closure's whole local days (cut to where bookings can be) find the candidates;
        # its hours, day by day, decide.
        first_day, last_day = max(closure.first_date, yesterday), min(closure.last_date, horizon)
        if first_day > last_day:
            continue
        first = hours.local_instant(first_day, 0, zone)
        last = hours.local_instant(last_day, 24 * 60, zone)
        of_spaces = (
            Q(space=closure.space_id) if closure.space_id else Q(space__venue=closure.venue_id)
        )
        candidates = Booking.objects.filter(
            of_spaces, status=BookingStatus.CONFIRMED, end__gt=max(now, first), start__lt=last
        )
        for booking in candidates:
            closed = hours.closed_intervals([closure.hours], zone, booking.start, booking.end)
            if any(start < booking.end and booking.start < end for start, end in closed):
                alerts.append(
                    {
                        "kind": "booking_in_closure",
                        "since": closure.created_at,
                        "lock": None,
                        "space": booking.space_id,
                        "booking": booking.pk,
                        "grant": None,
                        "detail": f"Booking {booking.pk} falls in closure {closure.pk} "
                        f"({closure.reason_en}); cancel the booking or remove the closure.",
                    }
                )
    return alerts
