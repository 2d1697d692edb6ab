"""Release windows: when a window's collection closes, draw its requests by the lottery.

Requests that arrive inside a window's collection wait (services.request_booking marks them,
allocate() leaves them be). A beat sweep finds the windows whose collection has closed and
draws each once: the requests are decided one by one in the lottery's order
(api/bookings/lottery.py), each through services.decide() (every rule, the fair-use caps, the
exclusion constraint), and a request that finds its slot gone loses the draw (`lost_draw`).
The order drawn, with each outcome, is stored on the window beside its seed, in the
transaction that writes the decisions, so what operators see is what happened.
"""

import logging
from collections import defaultdict
from datetime import datetime

from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from api.bookings import lottery, rules, services
from api.bookings.choices import BookingStatus, RejectReason, RequestStatus
from api.bookings.models import Booking, BookingRequest, ReleaseWindow
from api.catalogue.models import OpeningHours

log = logging.getLogger(__name__)


def draw_closed_windows(now: datetime | None = None) -> int:
    """Draw every window whose collection has closed and that is not drawn yet; the number."""
    now = now or timezone.now()
    due = ReleaseWindow.objects.filter(drawn_at__isnull=True, collect_until__lte=now)
    return sum(draw(window_id) for window_id in list(due.values_list("id", flat=True)))


def draw(window_id: int) -> bool:
    """Draw one window whose collection has closed; False if it is drawn already (or being
    drawn: the window's row is held, and a second sweep skips it)."""
    with transaction.atomic():
        window = (
            ReleaseWindow.objects.select_for_update(skip_locked=True)
            .filter(pk=window_id, drawn_at__isnull=True, collect_until__lte=timezone.now())
            .first()
        )
        if window is None:
            return False
        now = timezone.now()
        requests = {
            str(request.pk): request for request in _waiting(window).select_for_update(of=("self",))
        }
        tickets = [
            lottery.Ticket(key, request.user_id, _minutes(request.start, request.end))
            for key, request in requests.items()
        ]
        outcomes = {}
        # What this draw has given so far, by space, widened by the space's buffer: a request
        # that meets one of these has lost, and needs no query to say so.
        given = defaultdict(list)

        def decide(ticket: lottery.Ticket) -> bool:
            request = requests[ticket.request]
            if any(s < request.end and request.start < e for s, e in given[request.space_id]):
                booking, reason = None, RejectReason.LOST_DRAW
            else:
                booking, reason = services.decide(request, now)
            if reason == RejectReason.SLOT_TAKEN:
                reason = RejectReason.LOST_DRAW
            if booking is not None:
                given[booking.space_id] += rules.widen(
                    [(booking.start, booking.end)], booking.space.buffer
                )
            services.record_decision(request, booking, reason, now)
            outcomes[ticket.request] = (reason or "confirmed", booking.pk if booking else None)
            return booking is not None

        order = lottery.draw(tickets, granted_minutes(window, tickets), window.seed, decide)
        window.draw = [
            {
                "request": ticket.request,
                "user": ticket.person,
                "outcome": outcomes[ticket.request][0],
                "booking": outcomes[ticket.request][1],
            }
            for ticket, _won in order
        ]
        window.drawn_at = now
        window.save(update_fields=["draw", "drawn_at"])
    log.info(
        "release window drawn",
        extra={"window_id": window.pk, "requests": len(order), "seed": window.seed},
    )
    return True


def _waiting(window: ReleaseWindow):
    """The window's requests still pending, in the order they were made, with what the rules
    read of their spaces (so deciding thousands reads each space's hours once per request at
    most)."""
    return (
        BookingRequest.objects.filter(release_window=window, status=RequestStatus.PENDING)
        .select_related("space__venue", "series", "release_window")
        .prefetch_related(
            Prefetch("space__opening_hours", queryset=OpeningHours.objects.all()),
            "space__activities",
        )
        .order_by("created_at", "id")
    )


def _minutes(start: datetime, end: datetime) -> int:
    return int((end - start).total_seconds() // 60)


def granted_minutes(window: ReleaseWindow, tickets: list[lottery.Ticket]) -> dict[int, int]:
    """Each person's minutes already booked at the window's venue in its period, before the
    draw: the lottery serves those with fewer first."""
    granted = defaultdict(int)
    booked = Booking.objects.filter(
        space__venue_id=window.venue_id,
        status__in=BookingStatus.live(),
        start__gte=window.period_start,
        start__lt=window.period_end,
        user_id__in={ticket.person for ticket in tickets},
    ).values_list("user_id", "start", "end")
    for person, start, end in booked:
        granted[person] += _minutes(start, end)
    return dict(granted)
