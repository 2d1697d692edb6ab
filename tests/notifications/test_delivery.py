"""The outbox's guarantees on the real worker: retried until delivered, once; a worker killed
mid-send causes no duplicate; a message that cannot be sent ends `failed` where operators look."""

import os
import signal
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from api.access import alerts
from api.notifications import services
from api.notifications.choices import NotificationState
from api.notifications.models import Notification
from tests.conftest import client_for, wait_for
from tests.factories import BookingFactory

pytestmark = pytest.mark.django_db(transaction=True)
# The worker's line for a send task that found its row already claimed (workers/logs.py).
NOT_PENDING = '"result": "not-pending"'


def cancelled_booking_notification(email: str) -> Notification:
    booking = BookingFactory(user__email=email)
    with transaction.atomic():
        booking.status, booking.cancelled_at = "cancelled", timezone.now()
        booking.save()
        services.booking_cancelled(booking)
    return Notification.objects.get(booking=booking)


def test_a_server_that_refuses_then_accepts_gets_the_message_once_on_the_retry(celery_worker, smtp):
    smtp.refuse["rita@example.org"] = 1
    notification = cancelled_booking_notification("rita@example.org")
    wait_for(
        lambda: Notification.objects.filter(pk=notification.pk, state="sent").exists(),
        message="the retried send",
    )
    notification.refresh_from_db()
    assert smtp.refused == 1
    assert len(smtp.about(notification)) == 1
    assert notification.attempts == 2
    assert "451" in notification.last_error
    assert notification.sent_at is not None


def _pool_children(worker) -> list[int]:
    children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
    return [int(pid) for pid in children]


def test_a_worker_killed_while_sending_sends_no_duplicate(celery_worker, smtp):
    smtp.hold.add("kim@example.org")  # the server takes the message but never answers
    notification = cancelled_booking_notification("kim@example.org")
    wait_for(lambda: smtp.held, message="the send to start")
    notification.refresh_from_db()
    assert (notification.state, notification.attempts) == (NotificationState.SENDING, 1)

    redelivered = celery_worker.log_path.read_text().count(NOT_PENDING)
    for pid in _pool_children(celery_worker):  # the process sending it dies mid-send
        os.kill(pid, signal.SIGKILL)
    smtp.hold.clear()
    # The task is redelivered (acks_late, reject_on_worker_lost) and finds the row claimed.
    wait_for(
        lambda: celery_worker.log_path.read_text().count(NOT_PENDING) > redelivered,
        message="the redelivered task",
    )
    assert Notification.objects.get(pk=notification.pk).state == NotificationState.SENDING
    # Once past the timeout the sweep hands it out again, only once however often it runs.
    timeout = settings.NOTIFICATION_SENDING_TIMEOUT
    later = notification.claimed_at + timeout + timedelta(milliseconds=1)
    wait_for(lambda: services.requeue_stuck(now=later), message="the dead sender's lock to go")
    services.requeue_stuck(now=later)
    wait_for(
        lambda: Notification.objects.filter(pk=notification.pk, state="sent").exists(),
        message="the send after the sweep",
    )
    notification.refresh_from_db()
    assert notification.attempts == 2
    assert len(smtp.about(notification)) == 1


def test_a_permanent_refusal_fails_at_once_and_shows_in_alerts(celery_worker, smtp, operator):
    smtp.reject.add("nobody@example.org")
    notification = cancelled_booking_notification("nobody@example.org")
    wait_for(
        lambda: Notification.objects.filter(pk=notification.pk, state="failed").exists(),
        message="the failure",
    )
    notification.refresh_from_db()
    assert notification.attempts == 1
    assert "550" in notification.last_error
    found = [a for a in alerts.collect(timezone.now()) if a["kind"] == "notification_failed"]
    assert [a["booking"] for a in found] == [notification.booking_id]
    assert notification.recipient.email in found[0]["detail"]
    body = client_for(operator).get("/api/v1/alerts/").json()
    rows = body["results"] if isinstance(body, dict) else body
    assert any(row["kind"] == "notification_failed" for row in rows)

    # An operator sends it again from the admin once the address is fixed.
    smtp.reject.clear()
    assert services.retry(notification)
    wait_for(
        lambda: Notification.objects.filter(pk=notification.pk, state="sent").exists(),
        message="the send again",
    )
    assert len(smtp.about(notification)) == 1


def test_the_sweep_leaves_a_send_in_progress_alone():
    booking = BookingFactory()
    notification = Notification.objects.create(
        kind="booking_cancelled",
        recipient=booking.user,
        language="fi",
        booking=booking,
        state="sending",
        claimed_at=timezone.now() - timedelta(hours=1),
        attempts=1,
    )
    later = timezone.now()
    with transaction.atomic():
        # A sender holds its row locked while it sends.
        Notification.objects.select_for_update().get(pk=notification.pk)
        counted = []
        thread = threading.Thread(target=lambda: counted.append(_sweep_in_own_connection(later)))
        thread.start()
        thread.join()
    assert counted == [0]
    assert Notification.objects.get(pk=notification.pk).state == "sending"


def _sweep_in_own_connection(now):
    from django.db import connection

    try:
        return services.requeue_stuck(now=now)
    finally:
        connection.close()
