"""The notification verbs: record an event's outbox rows, send one, and the sweeps.

Recording happens inside the transaction of the event (a decision, a cancellation), so the
row exists exactly when the event does; the send task is queued when that commits. The unique
constraints on the rows make every recording idempotent.

Sending an email (`send_notification`):

1. claim: one conditional UPDATE moves the row pending → sending, counts the attempt and
   stamps a claim token; a second delivery of the task changes nothing and stops;
2. render it (outside any transaction: rendering reads bookings and availability);
3. in one transaction: lock the row (still ours by its token), hand the message to the mail
   server, mark it sent, commit; only then close the connection (QUIT). While the send is in
   progress the row stays locked, so the stuck-row sweep (which skips locked rows) never
   re-queues a row that is being sent, and that transaction holds nothing but the outbox row.

A worker killed during steps 2 or 3 leaves the row in `sending`, unlocked (its connection, and with it
the transaction, is gone); a redelivered task finds it not pending and does nothing, and the
sweep queues it again after NOTIFICATION_SENDING_TIMEOUT. One killed after the commit, while
the server answers QUIT, leaves it sent. The remaining at-least-once window is between the
mail server taking the whole message and our COMMIT of `sent` (its answer to DATA pending, say):
a crash or a lost database connection exactly there sends the message again later. The
Message-ID is the same on every attempt (`<notification-ID@…>`), so a mail client can drop such
a duplicate (tests/faults/test_email_sending.py counts it).
"""

import contextlib
import hashlib
import hmac
import json
import logging
import smtplib
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.mail import get_connection
from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from api.access.choices import GrantState
from api.access.models import Grant
from api.accounts.models import User
from api.bookings.choices import BookingStatus
from api.bookings.models import Booking, BookingRequest
from api.notifications import emails
from api.notifications.choices import (
    DeliveryState,
    NotificationKind,
    NotificationState,
    WebhookEvent,
)
from api.notifications.models import Notification, Webhook, WebhookDelivery
from api.organisations import scoping
from workers.queue import enqueue_on_commit

log = logging.getLogger(__name__)

SEND_TASK = "notifications.send_notification"
DELIVER_TASK = "notifications.deliver_webhook"
# Event ids are derived from what happened, so recording an event twice gives one id.
EVENT_NAMESPACE = uuid.UUID("0b9e6c3e-54a4-4b53-9a39-6f1f7f1b2a8d")
ONCE = {"notification_once_per_booking", "notification_once_per_request"}


# --- recording: called inside the transaction of the event -------------------------------------


def requests_decided(decided: list[tuple[BookingRequest, Booking | None]]) -> None:
    """Requests were confirmed (with their bookings) or rejected: tell each owner and the
    webhooks, with one INSERT of outbox rows for them all.

    For the allocation that decided them, in its transaction: a request is decided once, so
    none of them has its decision's row yet.
    """
    rows = Notification.objects.bulk_create(
        [
            Notification(
                kind=NotificationKind.BOOKING_CONFIRMED
                if booking
                else NotificationKind.REQUEST_REJECTED,
                recipient=booking_request.user,
                language=booking_request.user.language,
                booking=booking,
                request=booking_request,
            )
            for booking_request, booking in decided
        ]
    )
    for row in rows:
        enqueue_on_commit(SEND_TASK, row.pk)
    for booking_request, booking in decided:
        emit(
            WebhookEvent.REQUEST_DECIDED,
            str(booking_request.pk),
            request_data(booking_request, booking),
            at=booking_request.decided_at,
            organisation=scoping.organisation_of(booking_request),
        )


def booking_cancelled(booking: Booking) -> None:
    _record(NotificationKind.BOOKING_CANCELLED, booking.user, booking=booking)
    emit(
        WebhookEvent.BOOKING_CANCELLED,
        str(booking.pk),
        booking_data(booking),
        at=booking.cancelled_at,
        organisation=scoping.organisation_of(booking),
    )


def booking_checked_in(booking: Booking) -> None:
    """The lock first accepted the booking's code (for the locks app to call)."""
    emit(
        WebhookEvent.BOOKING_CHECKED_IN,
        str(booking.pk),
        booking_data(booking),
        at=booking.checked_in_at,
        organisation=scoping.organisation_of(booking),
    )


def notify_access_problem(booking: Booking, problem: str = "unconfirmed_at_start") -> None:
    """The lock has not confirmed the booking's code shortly before the start.

    For the locks app's sweep to call, as often as it likes: the owner (with what to do) and
    the venue's organisation's people get one email each per booking, webhooks one event per
    problem.
    """
    if booking.status != BookingStatus.CONFIRMED:
        return
    with transaction.atomic():
        recipients = {booking.user_id: booking.user}
        for person in scoping.people(scoping.organisation_of(booking)):
            recipients.setdefault(person.pk, person)
        for recipient in recipients.values():
            _record(NotificationKind.ACCESS_PROBLEM, recipient, booking=booking)
        emit(
            WebhookEvent.ACCESS_PROBLEM,
            f"{booking.pk}:{problem}",
            {**booking_data(booking), "problem": problem},
            organisation=scoping.organisation_of(booking),
        )


def notify_access_problems(grant_ids: list[str]) -> None:
    """notify_access_problem for each of these grants' bookings, each in its own transaction."""
    grants = Grant.objects.filter(id__in=grant_ids).select_related(
        "booking__user", "booking__space__venue"
    )
    for grant in grants:
        notify_access_problem(grant.booking, grant.problem or "unconfirmed")


def _record(kind: str, recipient: User, reminder_minutes: int = 0, **subject) -> bool:
    """Write the outbox row unless it exists, and queue its sending after commit."""
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                kind=kind,
                recipient=recipient,
                language=recipient.language,
                reminder_minutes=reminder_minutes,
                **subject,
            )
    except IntegrityError as error:
        if getattr(getattr(error.__cause__, "diag", None), "constraint_name", None) in ONCE:
            return False
        raise
    enqueue_on_commit(SEND_TASK, notification.pk)
    return True


# --- sending email -------------------------------------------------------------------------------


def send_notification(notification_id: int) -> str:
    """Send one outbox row once; the outcome in a word (for logs and tests)."""
    claim = _claim(Notification, notification_id, NotificationState.PENDING)
    if claim is None:
        return "not-pending"
    notification = (
        Notification.objects.select_related(
            "recipient", "booking__space__venue", "booking__user", "request__space__venue"
        )
        .filter(pk=notification_id, state=NotificationState.SENDING, claim=claim)
        .first()
    )
    if notification is None:
        return "taken-over"
    if not _still_wanted(notification):
        _mine(notification, claim).update(state=NotificationState.SKIPPED, claim=None)
        return "skipped"
    # Rendering reads bookings, spaces and availability: outside the transaction below, so
    # that the one transaction held open during the send locks the outbox row and nothing else.
    try:
        message = _render(notification)
    except Exception as error:
        with transaction.atomic():
            return _failed(notification, claim, error)
    mail_server = get_connection()
    try:
        with transaction.atomic():
            if not _mine(notification, claim).select_for_update().exists():
                return "taken-over"
            try:
                mail_server.open()
                mail_server.send_messages([message])
            except Exception as error:
                return _failed(notification, claim, error)
            _mine(notification, claim).update(
                state=NotificationState.SENT, sent_at=timezone.now(), claim=None
            )
    finally:
        # QUIT only once `sent` is committed: the server has the message, and a worker that
        # dies while the server says goodbye must not leave a row that is sent again.
        with contextlib.suppress(smtplib.SMTPException, OSError):
            mail_server.close()
    return "sent"


def _mine(notification: Notification, claim):
    return Notification.objects.filter(
        pk=notification.pk, state=NotificationState.SENDING, claim=claim
    )


def _failed(notification: Notification, claim, error: Exception) -> str:
    """Record a failed attempt on the claimed row; queue the next one after its wait."""
    wait = notification.record_failure(
        f"{type(error).__name__}: {error}", permanent=_is_permanent(error)
    )
    changed = _mine(notification, claim).update(
        state=notification.state,
        claim=None,
        last_error=notification.last_error,
        next_attempt_at=notification.next_attempt_at,
    )
    if not changed:
        return "taken-over"
    if wait is None:
        log.error(
            "notification %s failed for good after %d attempts: %s",
            notification.pk,
            notification.attempts,
            notification.last_error,
        )
        return "failed"
    log.warning(
        "notification %s attempt %d failed, again in %s: %s",
        notification.pk,
        notification.attempts,
        wait,
        notification.last_error,
    )
    enqueue_on_commit(SEND_TASK, notification.pk, countdown=wait.total_seconds())
    return "retry"


def _claim(model, pk: int, from_state: str):
    """pending → sending in one conditional UPDATE; the token, or None if it was not ours."""
    claim = uuid.uuid4()
    changed = model.objects.filter(pk=pk, state=from_state).update(
        state="sending", claim=claim, claimed_at=timezone.now(), attempts=F("attempts") + 1
    )
    return claim if changed else None


def _still_wanted(notification: Notification) -> bool:
    booking = notification.booking
    if notification.kind == NotificationKind.REMINDER:
        return booking.status == BookingStatus.CONFIRMED and booking.start > timezone.now()
    if notification.kind == NotificationKind.ACCESS_PROBLEM:
        return booking.status == BookingStatus.CONFIRMED and booking.end > timezone.now()
    return True


def _render(notification: Notification):
    code, alternatives = None, []
    to_owner = notification.booking and notification.booking.user_id == notification.recipient_id
    if to_owner and notification.kind in (
        NotificationKind.BOOKING_CONFIRMED,
        NotificationKind.REMINDER,
        NotificationKind.ACCESS_PROBLEM,
    ):
        code = access_code(notification.booking)
    if notification.kind == NotificationKind.REQUEST_REJECTED:
        alternatives = emails.rejected_alternatives(notification.request)
    return emails.build_message(notification, access_code=code, alternatives=alternatives)


def access_code(booking: Booking) -> str | None:
    """The booking's door code when its space has a lock (None without one, or once withdrawn)."""
    grant = Grant.objects.filter(booking=booking, withdrawn_at__isnull=True).first()
    return grant.code if grant else None


def _is_permanent(error: Exception) -> bool:
    """A 5xx answer from the mail server will not change by trying again; anything else may."""
    if isinstance(error, smtplib.SMTPResponseException):
        return 500 <= error.smtp_code < 600
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return all(500 <= code < 600 for code, _ in error.recipients.values())
    return False


# --- webhooks ------------------------------------------------------------------------------------


def emit(
    event: str, key: str, data: dict, at: datetime | None = None, organisation: int | None = None
) -> int:
    """Record a delivery of the event to every active webhook that wants it (the city-wide ones,
    and those of the organisation whose venue it happened at); queue them."""
    event_id = uuid.uuid5(EVENT_NAMESPACE, f"{event}:{key}")
    body = json.dumps(
        {
            "event": str(event),
            "id": str(event_id),
            "at": instant(at or timezone.now()),
            "data": data,
        },
        separators=(",", ":"),
        sort_keys=True,
    )
    recorded = 0
    webhooks = Webhook.objects.filter(active=True, events__contains=[str(event)]).filter(
        Q(organisation__isnull=True) | Q(organisation_id=organisation)
    )
    for webhook in webhooks:
        try:
            with transaction.atomic():
                delivery = WebhookDelivery.objects.create(
                    webhook=webhook, event=event, event_id=event_id, body=body
                )
        except IntegrityError:
            continue  # this event was recorded for this webhook already
        enqueue_on_commit(DELIVER_TASK, delivery.pk)
        recorded += 1
    return recorded


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={digest.hexdigest()}"


def deliver_webhook(delivery_id: int) -> str:
    """POST one event to one webhook once; retried with backoff on anything but a 2xx."""
    claim = _claim(WebhookDelivery, delivery_id, DeliveryState.PENDING)
    if claim is None:
        return "not-pending"
    delivery = WebhookDelivery.objects.select_related("webhook").get(pk=delivery_id)
    status, error = None, ""
    if not delivery.webhook.active:
        error = "The webhook is disabled."
    else:
        status, error = _post(delivery)
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update()
            .filter(pk=delivery_id, state=DeliveryState.SENDING, claim=claim)
            .first()
        )
        if delivery is None:
            return "taken-over"
        delivery.last_attempt_at = timezone.now()
        if status is not None and 200 <= status < 300:
            delivery.state = DeliveryState.DELIVERED
            delivery.delivered_at = delivery.last_attempt_at
            delivery.last_status, delivery.last_error, delivery.claim = status, "", None
            delivery.save()
            return "delivered"
        wait = delivery.record_failure(error, status)
        delivery.save()
        if wait is None:
            log.error("webhook delivery %s failed for good: %s", delivery.pk, error)
            return "failed"
        enqueue_on_commit(DELIVER_TASK, delivery.pk, countdown=wait.total_seconds())
        return "retry"


def _post(delivery: WebhookDelivery) -> tuple[int | None, str]:
    """One POST with a short timeout: the status (None without one) and an error, if any.

    http.client, not urllib: the headers go out spelt as the contract spells them, and a
    redirect is an answer, not somewhere else to post the event.
    """
    body = delivery.body.encode()
    timestamp = str(int(time.time()))
    url = urlsplit(delivery.webhook.url)
    connection_class = HTTPSConnection if url.scheme == "https" else HTTPConnection
    connection = connection_class(url.hostname, url.port, timeout=settings.WEBHOOK_TIMEOUT_SECONDS)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "FlexiSpace-Webhooks/1",
        "X-FlexiSpace-Event": delivery.event,
        "X-FlexiSpace-Delivery": str(delivery.event_id),
        "X-FlexiSpace-Timestamp": timestamp,
        "X-FlexiSpace-Signature": sign(delivery.webhook.secret, timestamp, body),
    }
    try:
        connection.request(
            "POST", urlunsplit(("", "", url.path or "/", url.query, "")), body, headers
        )
        response = connection.getresponse()
        response.read(1024)
    except (OSError, HTTPException, ValueError) as error:  # refused, timed out, unresolvable
        return None, f"{type(error).__name__}: {error}"[:2000]
    finally:
        connection.close()
    if 200 <= response.status < 300:
        return response.status, ""
    return response.status, f"HTTP {response.status} {response.reason}"


# --- what the events carry ----------------------------------------------------------------------


def instant(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def request_data(booking_request: BookingRequest, booking: Booking | None) -> dict:
    return {
        "id": str(booking_request.pk),
        "status": booking_request.status,
        "reason": booking_request.reason,
        "space": booking_request.space_id,
        "start": instant(booking_request.start),
        "end": instant(booking_request.end),
        "party_size": booking_request.party_size,
        "booking": booking.pk if booking else None,
        "decided_at": instant(booking_request.decided_at),
    }


def booking_data(booking: Booking) -> dict:
    """A booking without its person or its code."""
    return {
        "id": booking.pk,
        "space": booking.space_id,
        "venue": booking.space.venue_id,
        "start": instant(booking.start),
        "end": instant(booking.end),
        "party_size": booking.party_size,
        "status": booking.status,
        "checked_in_at": instant(booking.checked_in_at),
        "request": str(booking.request_id) if booking.request_id else None,
    }


# --- sweeps --------------------------------------------------------------------------------------


def queue_reminders(now: datetime | None = None) -> int:
    """Record the reminders that are due: each once, and none for a booking made after its
    reminder time. Only the latest due reminder of a booking is recorded, so a sweep that was
    down for a day does not send the 24-hour reminder two hours before the start."""
    now = now or timezone.now()
    offsets = settings.NOTIFICATION_REMINDER_MINUTES  # descending
    recorded = 0
    for minutes, later in zip(offsets, [*offsets[1:], 0], strict=True):
        lead = timedelta(minutes=minutes)
        sent_already = Notification.objects.filter(
            booking=OuterRef("pk"),
            kind=NotificationKind.REMINDER,
            reminder_minutes=minutes,
            recipient=OuterRef("user_id"),
        )
        due = (
            Booking.objects.filter(
                status=BookingStatus.CONFIRMED,
                start__gt=now + timedelta(minutes=later),
                start__lte=now + lead,
                created_at__lte=F("start") - lead,
            )
            .exclude(Exists(sent_already))
            .select_related("user")
        )
        for booking in due:
            with transaction.atomic():
                recorded += _record(
                    NotificationKind.REMINDER,
                    booking.user,
                    reminder_minutes=minutes,
                    booking=booking,
                )
    return recorded


def queue_access_problems(now: datetime | None = None) -> int:
    """Warn about every code its lock has not confirmed ACCESS_PROBLEM_LEAD before the start.

    The access app also signals the problems it finds; this sweep is what makes the warning
    certain (a missed signal is found again here) and early enough to act on.
    """
    now = now or timezone.now()
    warned = Notification.objects.filter(
        booking=OuterRef("booking_id"), kind=NotificationKind.ACCESS_PROBLEM
    )
    grants = (
        Grant.objects.filter(
            state=GrantState.PENDING,
            withdrawn_at__isnull=True,
            slot_start__lte=now + settings.ACCESS_PROBLEM_LEAD,
            slot_end__gt=now,
            booking__status=BookingStatus.CONFIRMED,
        )
        .exclude(Exists(warned))
        .select_related("booking__user", "booking__space__venue")
    )
    count = 0
    for grant in grants[:500]:
        notify_access_problem(grant.booking, grant.problem or "unconfirmed_before_start")
        count += 1
    return count


def requeue_stuck(now: datetime | None = None, limit: int = 500) -> int:
    """Queue again what a lost worker or a lost task left behind; safe to run twice.

    Rows in `sending` past the timeout that nobody holds a lock on (SKIP LOCKED passes over a
    send in progress) go back to pending, or to failed when their attempts are spent; pending
    rows well past due (their task lost with the broker) are queued again.
    """
    now = now or timezone.now()
    count = 0
    for model, task, failed in (
        (Notification, SEND_TASK, NotificationState.FAILED),
        (WebhookDelivery, DELIVER_TASK, DeliveryState.FAILED),
    ):
        limit_attempts = (
            settings.NOTIFICATION_MAX_ATTEMPTS
            if model is Notification
            else settings.WEBHOOK_MAX_ATTEMPTS
        )
        with transaction.atomic():
            stuck = list(
                model.objects.select_for_update(skip_locked=True)
                .filter(state="sending", claimed_at__lt=now - settings.NOTIFICATION_SENDING_TIMEOUT)
                .order_by("claimed_at")[:limit]
            )
            for row in stuck:
                row.claim = None
                row.last_error = "The worker was lost while sending."
                if row.attempts >= limit_attempts:
                    row.state = failed
                else:
                    row.state, row.next_attempt_at = "pending", now
                    enqueue_on_commit(task, row.pk)
                row.save(update_fields=["state", "claim", "last_error", "next_attempt_at"])
            overdue = list(
                model.objects.select_for_update(skip_locked=True)
                .filter(
                    state="pending", next_attempt_at__lt=now - settings.NOTIFICATION_REQUEUE_AFTER
                )
                .order_by("next_attempt_at")
                .values_list("pk", flat=True)[:limit]
            )
            model.objects.filter(pk__in=overdue).update(next_attempt_at=now)
            for pk in overdue:
                enqueue_on_commit(task, pk)
        if stuck or overdue:
            log.warning(
                "re-queued %d %s rows stuck in sending and %d overdue",
                len(stuck),
                model._meta.model_name,
                len(overdue),
            )
        count += len(stuck) + len(overdue)
    return count


# --- for operators -------------------------------------------------------------------------------


def failed_notifications(now: datetime | None = None, days: int = 7) -> list[dict]:
    """Emails and webhook deliveries that gave up in the last `days`, for GET /api/v1/alerts/
    (registered with the access app's alert sources), shaped like its other alerts."""
    since = (now or timezone.now()) - timedelta(days=days)
    alerts = []
    for row in (
        Notification.objects.filter(state=NotificationState.FAILED, created_at__gte=since)
        .select_related("recipient", "booking", "request")
        .order_by("-created_at")[:100]
    ):
        subject = row.booking or row.request
        alerts.append(
            {
                "kind": "notification_failed",
                "since": row.claimed_at or row.created_at,
                "lock": None,
                "space": subject.space_id,
                "booking": row.booking_id,
                "grant": None,
                "detail": f"The {row.get_kind_display().lower()} email #{row.pk} to "
                f"{row.recipient.email} failed after {row.attempts} attempts: {row.last_error}",
            }
        )
    for row in (
        WebhookDelivery.objects.filter(state=DeliveryState.FAILED, created_at__gte=since)
        .select_related("webhook")
        .order_by("-created_at")[:100]
    ):
        alerts.append(
            {
                "kind": "webhook_failed",
                "organisation": row.webhook.organisation_id,
                "since": row.last_attempt_at or row.created_at,
                "lock": None,
                "space": None,
                "booking": None,
                "grant": None,
                "detail": f"The {row.event} event {row.event_id} to webhook #{row.webhook_id} "
                f"({row.webhook.url}) failed after {row.attempts} attempts: {row.last_error}",
            }
        )
    return alerts


def retry(notification: Notification) -> bool:
    """An operator's second chance for a failed email: pending again, attempts from zero."""
    with transaction.atomic():
        changed = Notification.objects.filter(
            pk=notification.pk, state=NotificationState.FAILED
        ).update(state=NotificationState.PENDING, attempts=0, next_attempt_at=timezone.now())
        if changed:
            enqueue_on_commit(SEND_TASK, notification.pk)
    return bool(changed)
