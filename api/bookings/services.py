"""The booking verbs: request, allocate, cancel, and the sweeps that keep them moving.

Views, tasks and sweeps call these; the booking rules they apply live in rules.py.
"""

import hashlib
import json
import logging
from contextlib import nullcontext
from datetime import UTC, datetime

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


# How many pending requests one allocation task decides together. A batch shares one
# transaction, one lock per person, one read of each space's rules and one INSERT of its
# bookings; a bound keeps the first request of a batch from waiting long behind the rest.
BATCH_SIZE = 32


def allocate(request_id) -> None:
    """Decide a pending request once, and with it other requests already waiting.

    Each request is confirmed with a booking or rejected with a reason. Every booking rule is
    checked again now, so a space edited after the request was queued is honoured. A direct
    request gets its slot or a reason; a flexible one gets the best offer that slot search
    finds now (see docs/discovery.md). The task's own request is decided even when another
    task has claimed every other one; up to BATCH_SIZE - 1 other direct requests, oldest
    first, are decided beside it, so a backlog drains in batches while each request keeps its
    own task. Safe to run twice (a redelivered task): request rows are locked and only pending
    requests are decided.
    """
    with transaction.atomic():
        batch = _claim(request_id)
        if not batch:
            return
        now = timezone.now()
        decisions = _decide(batch, now)
        booked = [booking for booking, _ in decisions.values() if booking is not None]
        access.create_grants(booked)
        for booking_request in batch:
            booking, reason = decisions[booking_request.pk]
            if booking is not None:
                # A flexible request shows the space and the times it was given.
                booking_request.space = booking.space
                booking_request.start, booking_request.end = booking.start, booking.end
            booking_request.status = RequestStatus.REJECTED if reason else RequestStatus.CONFIRMED
            booking_request.reason = reason
            booking_request.decided_at = now
        BookingRequest.objects.bulk_update(
            batch, ["status", "reason", "decided_at", "space", "start", "end"]
        )
        notifications.requests_decided([(r, decisions[r.pk][0]) for r in batch])
    for booking_request in batch:
        booking, reason = decisions[booking_request.pk]
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


def _claim(request_id) -> list[BookingRequest]:
    """The task's request if pending, and other pending direct requests, in arrival order.

    The task's own row is waited for (a batch that holds it may roll back); the others are
    taken only if no other batch holds them (SKIP LOCKED), so batches never wait on each
    other for requests. Only the requests are locked: locking the joined space and venue would
    serialise every allocation in a venue.
    """
    pending = BookingRequest.objects.select_for_update(of=("self",)).select_related(
        "space__venue", "user"
    )
    own = pending.filter(id=request_id, status=RequestStatus.PENDING).first()
    others = list(
        pending.select_for_update(of=("self",), skip_locked=True)
        .filter(status=RequestStatus.PENDING, window_start__isnull=True)
        .exclude(id=request_id)
        .order_by("queued_at")[: BATCH_SIZE - (own is not None)]
    )
    # Decided in the order they came: within a batch, the earlier request wins a contested slot.
    return sorted(([own] if own else []) + others, key=lambda r: (r.created_at, str(r.pk)))


def _decide(batch: list[BookingRequest], now: datetime) -> dict:
    """{request id: (booking, None) or (None, reason)} for every request of the batch."""
    held = _lock_people(batch)
    decisions = {}
    direct = []
    space_rules = _space_rules([r for r in batch if not r.is_flexible])
    for booking_request in batch:
        if booking_request.is_flexible:
            decisions[booking_request.pk] = _book_best_offer(booking_request, held, now)
            continue
        start, end = booking_request.start, booking_request.end
        breach = rules.breach(
            space_rules[booking_request.space_id],
            start,
            end,
            booking_request.party_size,
            booking_request.activity_id,
            now,
        )
        if breach is not None:
            decisions[booking_request.pk] = (None, breach.reason)
        else:
            direct.append(booking_request)
    decisions.update(_book_as_asked(direct, held))
    return decisions


def _lock_people(batch: list[BookingRequest]) -> dict[int, int]:
    """Lock the batch's people (in id order, so that two batches cannot deadlock) and count
    the bookings each holds: the lock serialises a person's requests, so the counts hold."""
    people = sorted({r.user_id for r in batch})
    list(User.objects.select_for_update().filter(pk__in=people).order_by("pk").values_list("pk"))
    held = dict.fromkeys(people, 0)
    held.update(
        Booking.objects.filter(
            user_id__in=people, status=BookingStatus.CONFIRMED, end__gt=timezone.now()
        )
        .values_list("user_id")
        .annotate(n=models.Count("id"))
        .values_list("user_id", "n")
    )
    return held


def _space_rules(direct: list[BookingRequest]) -> dict[int, rules.SpaceRules]:
    """The rules of every space the direct requests ask for, read once for the batch."""
    if not direct:
        return {}
    spaces = list({r.space_id: r.space for r in direct}.values())
    models.prefetch_related_objects(spaces, "opening_hours", "activities")
    return availability.rules_for(spaces, min(r.start for r in direct), max(r.end for r in direct))


def _within_quota(booking_request: BookingRequest, held: dict[int, int]) -> bool:
    return (
        rules.check_quota(held[booking_request.user_id], settings.MAX_ACTIVE_BOOKINGS_PER_USER)
        is None
    )


def _book_as_asked(direct: list[BookingRequest], held: dict[int, int]) -> dict:
    """Decisions for direct requests that keep every rule: the quota, then the exclusion
    constraint, in rounds. A round books every request whose person is within the quota (one
    INSERT); a request that loses its slot gives its person's place back, so that the person's
    next request, turned away by the quota in this round, is tried in the next."""
    decisions = {}
    undecided = direct
    while undecided:
        trying, waiting = [], []
        for booking_request in undecided:
            if _within_quota(booking_request, held):
                held[booking_request.user_id] += 1
                trying.append(booking_request)
            else:
                waiting.append(booking_request)
        if not trying:
            break
        won = _book_all(trying)
        for booking_request in trying:
            if booking_request.pk in won:
                decisions[booking_request.pk] = (won[booking_request.pk], None)
            else:
                held[booking_request.user_id] -= 1
                decisions[booking_request.pk] = (None, RejectReason.SLOT_TAKEN)
        undecided = waiting
    for booking_request in undecided:
        decisions[booking_request.pk] = (None, RejectReason.QUOTA_EXCEEDED)
    return decisions


def _book_all(requests: list[BookingRequest]) -> dict:
    """{request id: booking} for the requests whose slot was free: one INSERT that skips what
    the exclusion constraint refuses (ON CONFLICT DO NOTHING), so a lost race rejects only its
    own request. Rows go in request order: within the batch, the earlier request wins."""
    bookings = [
        Booking(
            space=r.space,
            user_id=r.user_id,
            request=r,
            start=r.start,
            end=r.end,
            party_size=r.party_size,
            activity_id=r.activity_id,
        )
        for r in requests
    ]
    for booking in bookings:
        booking.block()
    try:
        with transaction.atomic():
            Booking.objects.bulk_create(bookings, ignore_conflicts=True)
    except OperationalError as error:
        # A deadlock with another batch inserting for the same spaces (40P01): one at a time.
        if getattr(error.__cause__, "sqlstate", None) not in LOST_RACE:
            raise
        return {
            r.pk: booking
            for r in requests
            if (booking := _try_to_book(r, r.space, r.start, r.end)) is not None
        }
    by_request = {r.pk: r for r in requests}
    won = Booking.objects.filter(request_id__in=list(by_request))
    for booking in won:
        booking.request = by_request[booking.request_id]
        booking.space = booking.request.space
        booking.user = booking.request.user
    return {booking.request_id: booking for booking in won}


def _book_best_offer(booking_request: BookingRequest, held: dict[int, int], now: datetime):
    """(booking, None), or (None, the reason): the offers in slot search's order, each tried
    under the exclusion constraint until one holds; another request that won an offer since the
    search, or a rule that no longer holds, only moves this one on to the next."""
    if not _within_quota(booking_request, held):
        return None, RejectReason.QUOTA_EXCEEDED
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
            held[booking_request.user_id] += 1
            return booking, None
    return None, RejectReason.NO_SPACE_AVAILABLE


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


def cancel_booking(booking: Booking) -> Booking:
    """Cancel a booking that has not ended; cancelling again changes nothing."""
    with transaction.atomic():
        booking = Booking.objects.select_for_update().get(pk=booking.pk)
        if booking.status == BookingStatus.CONFIRMED:
            booking.status = BookingStatus.CANCELLED
            booking.cancelled_at = timezone.now()
            booking.save(update_fields=["status", "cancelled_at"])
            access.withdraw_grant(booking)
            notifications.booking_cancelled(booking)
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
