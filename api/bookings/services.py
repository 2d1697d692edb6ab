"""The booking verbs: request, allocate, cancel, and the sweeps that keep them moving.

Views, tasks and sweeps call these; the booking rules they apply live in rules.py.
"""

import hashlib
import json
import logging
from contextlib import nullcontext
from datetime import UTC, datetime

from auditlog import get_logentry_model
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, OperationalError, connection, models, transaction
from django.utils import timezone

from api.access import services as access
from api.accounts.models import User
from api.bookings import availability, metrics, rules, search
from api.bookings.choices import BookingStatus, RejectReason, RequestStatus
from api.bookings.models import Booking, BookingRequest
from api.catalogue.models import Space
from api.notifications import services as notifications
from api.organisations import scoping
from workers.queue import enqueue, enqueue_on_commit

log = logging.getLogger(__name__)

# SQLSTATEs that mean another booking won the space: the exclusion constraint itself, or the
# deadlock PostgreSQL sometimes reports instead when many inserts race for one GiST range.
LOST_RACE = {"23P01", "40P01"}


class KeyReused(Exception):
    """An Idempotency-Key came again with a body unlike its first request's."""


def request_booking(user: User, idempotency_key: str | None = None, **fields) -> BookingRequest:
    """Record a validated request durably, then queue it for allocation once committed.

    With an idempotency key, a repeated call with the same fields returns the first request
    and creates nothing (KeyReused if the fields differ); a first request that was saved but
    never queued is queued now.
    """
    digest = fingerprint(fields)
    if idempotency_key is not None:
        existing = BookingRequest.objects.filter(user=user, idempotency_key=idempotency_key)
        if found := existing.first():
            return _repeated(found, digest)
    try:
        # One INSERT, committed on its own outside a transaction (the API's case), or inside the
        # caller's under a savepoint: either way the row is durable before the task is queued.
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            booking_request = BookingRequest.objects.create(
                user=user, idempotency_key=idempotency_key, fingerprint=digest, **fields
            )
    except IntegrityError:
        # Two calls with the same key raced; the other one's row is the answer.
        if idempotency_key is None:
            raise
        found = BookingRequest.objects.get(user=user, idempotency_key=idempotency_key)
        return _repeated(found, digest)
    # A request just made has no booking; knowing it spares the 202 response a query.
    BookingRequest.booking.related.set_cached_value(booking_request, None)
    transaction.on_commit(lambda: queue_once(booking_request.id))
    return booking_request


def fingerprint(fields: dict) -> str:
    """A digest of what a request asks for: the same fields give the same digest however the
    client wrote them (an instant in any offset, an object by its key)."""
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=_plain)
    return hashlib.sha256(text.encode()).hexdigest()


def _plain(value):
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return str(value)


def _repeated(found: BookingRequest, digest: str) -> BookingRequest:
    # A row from before fingerprints were kept has none to compare.
    if found.fingerprint and found.fingerprint != digest:
        raise KeyReused
    if found.status == RequestStatus.PENDING:
        # Queued now if its first call died between its commit and its queueing.
        transaction.on_commit(lambda: queue_once(found.id))
    return found


def _queued_mark(request_id) -> str:
    return f"booking-request-queued:{request_id}"


# A request's mark outlives any wait for its decision; by then the sweeper has it in hand.
QUEUED_MARK_SECONDS = 24 * 3600


def queue_once(request_id) -> bool:
    """Queue a request for allocation unless it has been; False if it has.

    The first caller to set the request's mark (SET NX in Redis) queues it, whether the call
    that saved the request or a retry with its key. The mark is kept beside the queue, in the
    broker's Redis: a Redis that lost its queue lost the marks too, and a retry queues again
    what was lost. A caller that dies between the mark and the queue leaves the request to the
    sweeper.
    """
    if not cache.add(_queued_mark(request_id), 1, timeout=QUEUED_MARK_SECONDS):
        return False
    enqueue("allocation.allocate", request_id)
    return True


def allocate(request_id) -> None:
    """Decide a pending request once: confirm it with a booking, or reject it with a reason.

    Every booking rule is checked again now, so a space edited after the request was queued is
    honoured. A direct request gets its slot or a reason; a flexible one gets the best offer
    that slot search finds now (see docs/discovery.md). Safe to run twice (a redelivered task):
    the request row is locked and only a pending request is decided.
    """
    with transaction.atomic():
        booking_request = (
            # Lock only the request: locking the joined space and venue would serialise
            # every allocation in a venue.
            BookingRequest.objects.select_for_update(of=("self",))
            .select_related("space__venue")
            .filter(id=request_id, status=RequestStatus.PENDING)
            .first()
        )
        if booking_request is None:
            return
        now = timezone.now()
        if booking_request.is_flexible:
            booking, reason = _book_best_offer(booking_request, now)
        else:
            booking, reason = _book_as_asked(booking_request, now)
        if booking is not None:
            access.create_grant(booking)
            # A flexible request shows the space and the times it was given.
            booking_request.space = booking.space
            booking_request.start, booking_request.end = booking.start, booking.end
        booking_request.status = RequestStatus.REJECTED if reason else RequestStatus.CONFIRMED
        booking_request.reason = reason
        booking_request.decided_at = now
        booking_request.save(
            update_fields=["status", "reason", "decided_at", "space", "start", "end"]
        )
        notifications.request_decided(booking_request, booking)
    outcome = reason or "confirmed"
    metrics.DECISIONS.labels(outcome=outcome).inc()
    log.info(
        "booking request %s",
        outcome,
        extra={
            "request_id": str(booking_request.pk),
            "booking_id": booking.pk if booking else None,
            "space_id": booking_request.space_id,
        },
    )


def _book_as_asked(booking_request: BookingRequest, now: datetime):
    """(booking, None), or (None, the reason): the rules first, then the exclusion constraint."""
    start, end = booking_request.start, booking_request.end
    space_rules = availability.rules_of(booking_request.space, start, end)
    breach = rules.breach(
        space_rules, start, end, booking_request.party_size, booking_request.activity_id, now
    )
    if breach is not None:
        return None, breach.reason
    if reason := _quota_reason(booking_request):
        return None, reason
    booking = _try_to_book(booking_request, booking_request.space, start, end)
    return (booking, None) if booking else (None, RejectReason.SLOT_TAKEN)


def _book_best_offer(booking_request: BookingRequest, now: datetime):
    """(booking, None), or (None, the reason): the offers in slot search's order, each tried
    under the exclusion constraint until one holds; another request that won an offer since the
    search, or a rule that no longer holds, only moves this one on to the next."""
    if reason := _quota_reason(booking_request):
        return None, reason
    offers = search.search(search.SlotQuery.of_criteria(booking_request), now)
    spaces = {}
    for offer in offers:
        wanted = (offer.start, offer.end, booking_request.party_size, booking_request.activity_id)
        if rules.breach(offers.rules_of(offer.space), *wanted, now):
            continue
        if offer.space not in spaces:
            spaces[offer.space] = Space.objects.select_related("venue").get(pk=offer.space)
        booking = _try_to_book(booking_request, spaces[offer.space], offer.start, offer.end)
        if booking is not None:
            return booking, None
    return None, RejectReason.NO_SPACE_AVAILABLE


def _quota_reason(booking_request: BookingRequest) -> RejectReason | None:
    # Locking the person's row serialises their concurrent requests, so the count holds.
    booking_request.user = User.objects.select_for_update().get(pk=booking_request.user_id)
    return rules.check_quota(
        active_booking_count(booking_request.user_id), settings.MAX_ACTIVE_BOOKINGS_PER_USER
    )


def _try_to_book(booking_request: BookingRequest, space, start, end) -> Booking | None:
    """Insert the booking; PostgreSQL's exclusion constraint decides who gets the space."""
    try:
        with transaction.atomic():
            return Booking.objects.create(
                space=space,
                user_id=booking_request.user_id,
                request=booking_request,
                start=start,
                end=end,
                party_size=booking_request.party_size,
                activity_id=booking_request.activity_id,
            )
    except (IntegrityError, OperationalError) as error:
        if getattr(error.__cause__, "sqlstate", None) in LOST_RACE:
            return None
        raise


def active_booking_count(user_id: int) -> int:
    return Booking.objects.filter(
        user_id=user_id, status=BookingStatus.CONFIRMED, end__gt=timezone.now()
    ).count()


def cancel_booking(booking: Booking, by: User | None = None) -> Booking:
    """Cancel a booking that has not ended; cancelling again changes nothing. `by`, when it is
    someone other than the booking's owner (an operator), goes into the audit trail."""
    with transaction.atomic():
        booking = Booking.objects.select_for_update().get(pk=booking.pk)
        if booking.status == BookingStatus.CONFIRMED:
            booking.status = BookingStatus.CANCELLED
            booking.cancelled_at = timezone.now()
            booking.save(update_fields=["status", "cancelled_at"])
            access.withdraw_grant(booking)
            notifications.booking_cancelled(booking)
            if by is not None and by.pk != booking.user_id:
                get_logentry_model().objects.log_create(
                    booking,
                    action=get_logentry_model().Action.UPDATE,
                    changes={"status": [BookingStatus.CONFIRMED, BookingStatus.CANCELLED]},
                    actor=by,
                    actor_email=by.email,
                    additional_data={"organisation": scoping.organisation_of(booking)},
                )
    return booking


def requeue_stale_requests(limit: int = 1000) -> int:
    """Queue again every request still pending long after it was queued (lost with Redis, say).

    SKIP LOCKED lets two sweeps run at once without queueing the same request twice.
    """
    now = timezone.now()
    with transaction.atomic():
        stale = list(
            BookingRequest.objects.select_for_update(skip_locked=True)
            .filter(
                status=RequestStatus.PENDING, queued_at__lt=now - settings.BOOKING_REQUEUE_AFTER
            )
            .order_by("queued_at")
            .values_list("id", flat=True)[:limit]
        )
        BookingRequest.objects.filter(id__in=stale).update(queued_at=now)
        # Marked as queued, so that a late retry with one's key does not queue it once more.
        cache.set_many({_queued_mark(pk): 1 for pk in stale}, timeout=QUEUED_MARK_SECONDS)
        for request_id in stale:
            enqueue_on_commit("allocation.allocate", request_id)
    if stale:
        log.warning("re-queued %d booking requests left pending", len(stale))
    return len(stale)


def complete_ended_bookings(now: datetime | None = None) -> int:
    """Mark confirmed bookings whose end has passed as completed."""
    return Booking.objects.filter(
        status=BookingStatus.CONFIRMED, end__lte=now or timezone.now()
    ).update(status=BookingStatus.COMPLETED)
