"""The waitlist: join it, and give a freed slot to the first entry that can take it.

A slot is freed when a booking is cancelled, released as a no-show, or a closure is lifted; the
waitlist is then offered it once that commits (the `allocation.promote_waitlist` task). Each
entry, in the order people joined, is decided exactly as a request would be: a request is made
for it and services.decide() applies every rule and the fair-use caps, and the exclusion
constraint has the last word, so a direct request racing the waitlist for the same slot, or two
entries, get it once between them. An entry the slot does not suit stays waiting, and leaves
no trace of having been tried.
"""

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from api.accounts.models import User
from api.bookings import services
from api.bookings.choices import WaitlistStatus
from api.bookings.models import BookingRequest, WaitlistEntry
from api.catalogue.models import Space

# Entries tried per freed slot: the first that fit take it, the rest are left waiting.
PROMOTE_LIMIT = 50
CRITERIA = (
    "window_start",
    "window_end",
    "duration_minutes",
    "district",
    "near_latitude",
    "near_longitude",
    "radius_km",
    "equipment",
)


def join(user: User, **fields) -> WaitlistEntry:
    """Put a person on the waitlist for a slot (space, start, end) or for any space that fits
    (the criteria of a flexible request). The entry expires when the slot starts, or when the
    window's last start passes."""
    entry = WaitlistEntry(user=user, **fields)
    if entry.is_flexible:
        entry.expires_at = entry.window_end - timedelta(minutes=entry.duration_minutes)
    else:
        entry.expires_at = entry.start
    entry.save()
    return entry


def promote(space_id: int, start: datetime, end: datetime) -> int:
    """Offer [start, end) of a space to the entries waiting for it, in the order they joined;
    the number confirmed."""
    space = Space.objects.filter(pk=space_id).first()
    if space is None:
        return 0
    now = timezone.now()
    wanting = WaitlistEntry.objects.filter(
        status=WaitlistStatus.WAITING, expires_at__gt=now
    ).filter(
        Q(space_id=space_id, start__lt=end, end__gt=start)
        | Q(
            window_start__isnull=False,
            window_start__lt=end,
            window_end__gt=start,
            activity__in=space.activities.all(),
        )
    )
    entries = wanting.order_by("created_at", "id").values_list("id", flat=True)[:PROMOTE_LIMIT]
    return sum(promote_entry(entry_id) for entry_id in list(entries))


class _NotThisTime(Exception):
    """The entry cannot have the slot: undo the request made to try it."""


def promote_entry(entry_id: int) -> bool:
    """Decide one waiting entry now, as a request of its own; True if it got a booking."""
    with transaction.atomic():
        entry = (
            WaitlistEntry.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("space__venue")
            .filter(pk=entry_id, status=WaitlistStatus.WAITING)
            .first()
        )
        now = timezone.now()
        if entry is None or entry.expires_at <= now:
            return False
        try:
            with transaction.atomic():
                booking_request = BookingRequest.objects.create(
                    user_id=entry.user_id,
                    space=entry.space,
                    start=entry.start,
                    end=entry.end,
                    party_size=entry.party_size,
                    activity_id=entry.activity_id,
                    **{name: getattr(entry, name) for name in CRITERIA},
                )
                booking, _reason = services.decide(booking_request, now)
                if booking is None:
                    raise _NotThisTime
        except _NotThisTime:
            return False
        services.record_decision(booking_request, booking, None, now)
        entry.status = WaitlistStatus.CONFIRMED
        entry.booking = booking
        entry.decided_at = now
        entry.save(update_fields=["status", "booking", "decided_at"])
    return True


def expire(now: datetime | None = None) -> int:
    """Entries whose slot has started (or whose window has no start left) expire; one
    statement, on the index of waiting entries by `expires_at`."""
    now = now or timezone.now()
    return WaitlistEntry.objects.filter(status=WaitlistStatus.WAITING, expires_at__lte=now).update(
        status=WaitlistStatus.EXPIRED, decided_at=now
    )
