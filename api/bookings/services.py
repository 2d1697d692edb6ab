"""The booking verbs: request, allocate, cancel, and the sweeps that keep them moving.

Views, tasks and sweeps call these; the booking rules they apply live in rules.py.
"""

import hashlib
import json
import logging
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta

from auditlog import get_logentry_model
from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, OperationalError, connection, models, transaction
from django.utils import timezone

from api.access import services as access
from api.accounts.models import User
from api.bookings import availability, metrics, rules, rules_cache, search
from api.bookings.choices import BookingStatus, RejectReason, RequestStatus
from api.bookings.models import Booking, BookingRequest, ReleaseWindow
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
    if fields.get("space") is not None and rules_cache.may_collect(fields["space"]):
        # Inside a release window's collection the request waits for the draw.
        fields["release_window"] = ReleaseWindow.objects.collecting(
            fields["space"], fields["start"], timezone.now()
        )
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
    if booking_request.release_window is None:
        if idempotency_key is None:
            # Only a retry with its key queues a request again, so one without a key needs no
            # mark: its queueing is one round trip to Redis, not two.
            enqueue_on_commit("allocation.allocate", booking_request.id)
        else:
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
    if found.status == RequestStatus.PENDING and not waits_for_draw(found):
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
# transaction, one read of each space's rules, one INSERT of its bookings, one UPDATE of its
# requests and one INSERT of their mail; a bound keeps the first request of a batch from
# waiting long behind the rest.
BATCH_SIZE = 32


def allocate(request_id) -> None:
    """Decide a pending request once, and with it other direct requests already waiting.

    Each request is confirmed with a booking or rejected with a reason. Every booking rule is
    checked again now, so a space edited after the request was queued is honoured. A direct
    request gets its slot or a reason; a flexible one gets the best offer that slot search
    finds now (see docs/discovery.md), decided alone. Up to BATCH_SIZE - 1 other direct
    requests, oldest first and one a person, are decided beside a direct one, so a backlog
    drains in batches while each request keeps its own task. Safe to run twice (a redelivered
    task): request rows are locked and only pending requests are decided. A request waiting for
    a release window's draw is left to the draw (api/bookings/release.py).
    """
    if _allocate(request_id, wait=False):
        # Another batch held the request. Waiting for it first would leave this process idle
        # (tasks come in queue order, so the next one's request is usually in the batch under
        # way), so this task decided a batch of others meanwhile; by now that batch has decided
        # the request or let it go (rolled back), and what it left is decided here.
        _allocate(request_id, wait=True)


def _allocate(request_id, wait: bool) -> bool:
    """allocate()'s decisions; True if the request was pending but another batch held it
    (only without `wait`: with it, the request's lock is waited for)."""
    with transaction.atomic():
        own = lock_pending(request_id, skip_locked=not wait)
        held = (
            own is None
            and not wait
            and BookingRequest.objects.filter(id=request_id, status=RequestStatus.PENDING).exists()
        )
        if own is not None and waits_for_draw(own):
            own = None
        now = timezone.now()
        if own is not None and own.is_flexible:
            booking, reason = decide(own, now)
            record_decisions([own], {own.pk: (booking, reason)}, now)
            return held
        batch = _claim_beside(own, request_id)
        if batch:
            record_decisions(batch, _decide_direct(batch, now), now)
    return held


def lock_pending(request_id, skip_locked: bool = False) -> BookingRequest | None:
    """The request, locked, if it is still pending (None also if another transaction holds it,
    with `skip_locked`); call inside a transaction."""
    return _pending(skip_locked).filter(id=request_id).first()


def waits_for_draw(booking_request: BookingRequest) -> bool:
    window = booking_request.release_window
    return window is not None and window.drawn_at is None


def _pending(skip_locked: bool = False):
    # Lock only the requests: locking the joined space and venue would serialise every
    # allocation in a venue.
    return (
        BookingRequest.objects.select_for_update(of=("self",), skip_locked=skip_locked)
        .select_related("space__venue", "series", "release_window")
        .filter(status=RequestStatus.PENDING)
    )


def _claim_beside(own: BookingRequest | None, request_id) -> list[BookingRequest]:
    """The task's own direct request (if pending) and other waiting direct requests, in the
    order they came: within a batch, the earlier request wins a contested slot.

    Others are taken only where no other batch holds them (SKIP LOCKED), so batches never wait
    on each other for requests, and one a person (not the task's own person), so that each
    person's caps are counted from the database exactly as for a request decided alone.
    """
    others = (
        _pending(skip_locked=True)
        .filter(window_start__isnull=True)
        .filter(
            models.Q(release_window__isnull=True) | models.Q(release_window__drawn_at__isnull=False)
        )
        .exclude(id=request_id)
        .order_by("queued_at")[: 2 * BATCH_SIZE]
    )
    batch = [own] if own else []
    people = {own.user_id} if own else set()
    for booking_request in others:
        if len(batch) == BATCH_SIZE:
            break
        if booking_request.user_id not in people:
            people.add(booking_request.user_id)
            batch.append(booking_request)
    return sorted(batch, key=lambda r: (r.created_at, str(r.pk)))


def decide(booking_request: BookingRequest, now: datetime):
    """(booking, None), or (None, the reason): what allocate() would decide for the request now,
    with the booking inserted (and its grant created) when it holds. The caller holds the
    request's row; the waitlist, the draw and a flexible request decide through here. A direct
    request is decided as a batch of one, by the same code as allocate()'s batches."""
    if not booking_request.is_flexible:
        return _decide_direct([booking_request], now)[booking_request.pk]
    if reason := _refusal(booking_request, _lock_people([booking_request])[0], now):
        return None, reason
    booking, reason = _book_best_offer(booking_request, now)
    if booking is not None:
        access.create_grant(booking)
    return booking, reason


def _lock_people(requests: list[BookingRequest]) -> list[User]:
    """Lock the requests' people, in id order so that two batches cannot deadlock: the lock
    serialises a person's requests, so the counts of their bookings hold."""
    people = {
        user.pk: user
        for user in User.objects.select_for_update()
        .filter(pk__in={r.user_id for r in requests})
        .order_by("pk")
    }
    for booking_request in requests:
        booking_request.user = people[booking_request.user_id]
    return [r.user for r in requests]


def _refusal(booking_request: BookingRequest, user: User, now: datetime) -> RejectReason | None:
    """What refuses the request whatever it asks for: its series cancelled, its person paused."""
    if booking_request.series_id and booking_request.series.cancelled_at:
        return RejectReason.SERIES_CANCELLED
    return rules.check_paused(user.paused_until, now)


def _decide_direct(batch: list[BookingRequest], now: datetime) -> dict:
    """{request id: (booking, None) or (None, reason)} for direct requests of distinct people:
    what refuses the request itself, then the booking rules (each space's read once for the
    batch), then the person's fair-use caps; one INSERT for all that keep them, and their
    grants."""
    _lock_people(batch)
    spaces = list({r.space_id: r.space for r in batch}.values())
    models.prefetch_related_objects(spaces, "opening_hours", "activities")
    space_rules = availability.rules_for(
        spaces, min(r.start for r in batch), max(r.end for r in batch)
    )
    decisions, keeping = {}, []
    for booking_request in batch:
        start, end = booking_request.start, booking_request.end
        breach = rules.breach(
            space_rules[booking_request.space_id],
            start,
            end,
            booking_request.party_size,
            booking_request.activity_id,
            now,
        )
        reason = (
            _refusal(booking_request, booking_request.user, now)
            or (breach and breach.reason)
            or fair_use_reason(booking_request.user, booking_request.space, start, end)
        )
        if reason:
            decisions[booking_request.pk] = (None, reason)
        else:
            keeping.append(booking_request)
    won = _book_all(keeping)
    access.create_grants(list(won.values()))
    for booking_request in keeping:
        booking = won.get(booking_request.pk)
        decisions[booking_request.pk] = (booking, None if booking else RejectReason.SLOT_TAKEN)
    return decisions


def _book_all(requests: list[BookingRequest]) -> dict:
    """{request id: booking} for the requests whose slot was free: one INSERT that skips what
    the exclusion constraint refuses (ON CONFLICT DO NOTHING), so a lost race rejects only its
    own request. Rows go in request order: within the batch, the earlier request wins."""
    if not requests:
        return {}
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


def record_decision(booking_request: BookingRequest, booking, reason, now: datetime) -> None:
    """Write the decision on the request, tell its owner and the webhooks, count it."""
    record_decisions([booking_request], {booking_request.pk: (booking, reason)}, now)


def record_decisions(requests: list[BookingRequest], decisions: dict, now: datetime) -> None:
    """Write each request's decision ({id: (booking, reason)}) in one UPDATE, tell the owners
    and the webhooks, count them."""
    for booking_request in requests:
        booking, reason = decisions[booking_request.pk]
        if booking is not None:
            # A flexible request shows the space and the times it was given.
            booking_request.space = booking.space
            booking_request.start, booking_request.end = booking.start, booking.end
        booking_request.status = RequestStatus.REJECTED if reason else RequestStatus.CONFIRMED
        booking_request.reason = reason
        booking_request.decided_at = now
    BookingRequest.objects.bulk_update(
        requests, ["status", "reason", "decided_at", "space", "start", "end"]
    )
    notifications.requests_decided([(r, decisions[r.pk][0]) for r in requests])
    outcomes = [decisions[r.pk][1] or "confirmed" for r in requests]
    transaction.on_commit(lambda: _count(outcomes))
    for booking_request, outcome in zip(requests, outcomes, strict=True):
        booking = decisions[booking_request.pk][0]
        log.info(
            "booking request %s",
            outcome,
            extra={
                "request_id": str(booking_request.pk),
                "booking_id": booking.pk if booking else None,
                "space_id": booking_request.space_id,
            },
        )


def _count(outcomes: list[str]) -> None:
    for outcome in outcomes:
        metrics.DECISIONS.labels(outcome=outcome).inc()


def _book_best_offer(booking_request: BookingRequest, now: datetime):
    """(booking, None), or (None, the reason): the offers in slot search's order, each tried
    under the exclusion constraint until one holds; another request that won an offer since the
    search, or a rule that no longer holds, only moves this one on to the next. Offers that the
    person's fair-use caps rule out are passed over too; when only those were left, that is the
    reason."""
    offers = search.search(search.SlotQuery.of_criteria(booking_request), now)
    spaces = {}
    capped = None
    for offer in offers:
        wanted = (offer.start, offer.end, booking_request.party_size, booking_request.activity_id)
        if rules.breach(offers.rules_of(offer.space), *wanted, now):
            continue
        if offer.space not in spaces:
            spaces[offer.space] = Space.objects.select_related("venue").get(pk=offer.space)
        space = spaces[offer.space]
        if reason := fair_use_reason(booking_request.user, space, offer.start, offer.end):
            capped = capped or reason
            continue
        booking = _try_to_book(booking_request, space, offer.start, offer.end)
        if booking is not None:
            return booking, None
    return None, capped or RejectReason.NO_SPACE_AVAILABLE


def fair_use_reason(
    user: User, space: Space, start: datetime, end: datetime
) -> RejectReason | None:
    """Whether the person's fair-use caps at the space's venue allow one more booking of
    [start, end): the active bookings they hold, and their hours in that local week."""
    fair = availability.fair_use_of(space.venue)
    if reason := rules.check_quota(active_booking_count(user.pk), fair.max_active_bookings):
        return reason
    week = rules.week_of(space.venue.zone, start)
    return rules.check_weekly_hours(
        booked_between(user.pk, *week), end - start, fair.max_weekly_hours
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


def booked_between(user_id: int, start: datetime, end: datetime) -> timedelta:
    """How long the person's live bookings that start in [start, end) last together."""
    total = Booking.objects.filter(
        user_id=user_id, status__in=BookingStatus.live(), start__gte=start, start__lt=end
    ).aggregate(total=models.Sum(models.F("end") - models.F("start")))["total"]
    return total or timedelta(0)


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
            slot_freed(booking)
    return booking


def slot_freed(booking: Booking) -> None:
    """A booking no longer holds its slot: the waitlist is offered it once this commits."""
    enqueue_on_commit(
        "allocation.promote_waitlist",
        booking.space_id,
        booking.start.isoformat(),
        booking.end.isoformat(),
    )


def requeue_stale_requests(limit: int = 1000) -> int:
    """Queue again every request still pending long after it was queued (lost with Redis, say).

    SKIP LOCKED lets two sweeps run at once without queueing the same request twice.
    """
    now = timezone.now()
    with transaction.atomic():
        stale = list(
            BookingRequest.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                status=RequestStatus.PENDING, queued_at__lt=now - settings.BOOKING_REQUEUE_AFTER
            )
            # Those waiting for a draw are the draw's.
            .filter(
                models.Q(release_window__isnull=True)
                | models.Q(release_window__drawn_at__isnull=False)
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
