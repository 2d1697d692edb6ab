"""No-shows: release the bookings nobody came to, and pause those who keep not coming.

A beat sweep (`allocation.release_no_shows`) finds the confirmed bookings, on spaces with a
lock, whose code the lock has not accepted by the venue's no-show time after their start
(rules.is_no_show). Each is cancelled and marked a no-show, its grant withdrawn through the
access app's one withdrawal (so the lock refuses the code from its next version on), its owner
told, and its slot offered to the waitlist. A person with the venue's number of no-shows in its
period has their new bookings paused (rules.pause_until). Claimed with FOR UPDATE SKIP LOCKED
in chunks, so two sweeps at once release each booking once.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import DateTimeField, ExpressionWrapper, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from api.access import services as access
from api.access.choices import WithdrawReason
from api.accounts.models import User
from api.bookings import availability, rules, services
from api.bookings.choices import BookingStatus
from api.bookings.models import Booking
from api.notifications import services as notifications

CHUNK = 500


def release_no_shows(now: datetime | None = None) -> int:
    """Release every booking that is a no-show now; the number released. Safe to run twice."""
    now = now or timezone.now()
    total = 0
    while True:
        with transaction.atomic():
            released = _release_chunk(now)
        total += released
        if released < CHUNK:
            return total


def _due(now: datetime):
    """Confirmed bookings with a lock, not checked in, started and not over, past their venue's
    no-show time: on the index of bookings not checked in, by their start."""
    after = Coalesce(
        F("space__venue__no_show_after_minutes"), Value(settings.NO_SHOW_AFTER_MINUTES)
    ) * Value(timedelta(minutes=1))
    return (
        Booking.objects.filter(
            status=BookingStatus.CONFIRMED,
            checked_in_at__isnull=True,
            start__lte=now,
            end__gt=now,
            grant__isnull=False,
        )
        .alias(due=ExpressionWrapper(F("start") + after, output_field=DateTimeField()))
        .filter(due__lte=now)
    )


def _release_chunk(now: datetime) -> int:
    claimed = list(
        _due(now)
        .select_for_update(skip_locked=True, of=("self",))
        .select_related("space__venue", "user")
        .order_by("start", "id")[:CHUNK]
    )
    # The rule itself decides; the query only found the candidates.
    released = [
        booking
        for booking in claimed
        if rules.is_no_show(
            availability.fair_use_of(booking.space.venue),
            booking.start,
            booking.end,
            booking.checked_in_at,
            has_lock=True,
            now=now,
        )
    ]
    if not released:
        return 0
    ids = [booking.pk for booking in released]
    Booking.objects.filter(pk__in=ids).update(
        status=BookingStatus.CANCELLED, cancelled_at=now, no_show_at=now
    )
    access.withdraw_grants(ids, WithdrawReason.NO_SHOW)
    for booking in released:
        booking.status, booking.cancelled_at, booking.no_show_at = (
            BookingStatus.CANCELLED,
            now,
            now,
        )
        pause_if_due(booking.user, availability.fair_use_of(booking.space.venue), now)
        notifications.booking_cancelled(booking)
        services.slot_freed(booking)
    return len(released)


def pause_if_due(user: User, fair: rules.FairUse, now: datetime) -> None:
    """Pause the person's new bookings if their no-shows now earn a pause (never shortening one
    already running)."""
    since = now - timedelta(days=fair.no_show_period_days)
    times = list(
        Booking.objects.filter(user=user, no_show_at__gt=since).values_list("no_show_at", flat=True)
    )
    until = rules.pause_until(fair, times, now)
    if until is None:
        return
    User.objects.filter(
        Q(paused_until__isnull=True) | Q(paused_until__lt=until), pk=user.pk
    ).update(paused_until=until)
    user.paused_until = max(until, user.paused_until or until)


def no_show_count(user: User, now: datetime | None = None) -> int:
    """The person's no-shows within the default period (what GET /auth/me/ shows)."""
    since = (now or timezone.now()) - timedelta(days=settings.NO_SHOW_PERIOD_DAYS)
    return Booking.objects.filter(user=user, no_show_at__gt=since).count()
