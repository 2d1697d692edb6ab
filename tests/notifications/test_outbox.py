"""The outbox rows themselves: one per reason, claimed once, and where they go in development."""

import email
import logging

import pytest
from django.core import mail
from django.db import transaction

from api.bookings import services as bookings
from api.notifications import services
from api.notifications.choices import NotificationKind, NotificationState
from api.notifications.mail import FileBackend
from api.notifications.models import Notification, Webhook, WebhookDelivery
from tests.factories import BookingFactory, BookingRequestFactory
from workers import app

pytestmark = pytest.mark.django_db


def test_a_decision_writes_its_row_in_the_same_transaction():
    booking_request = BookingRequestFactory()
    try:
        with transaction.atomic():
            bookings.allocate(booking_request.id)
            assert Notification.objects.filter(request=booking_request).count() == 1
            raise RuntimeError("the decision is rolled back")
    except RuntimeError:
        pass
    assert not Notification.objects.exists()
    bookings.allocate(booking_request.id)
    bookings.allocate(booking_request.id)
    [row] = Notification.objects.all()
    assert (row.kind, row.state, row.booking, row.request_id) == (
        NotificationKind.BOOKING_CONFIRMED,
        NotificationState.PENDING,
        booking_request.booking,
        booking_request.id,
    )


def test_a_repeated_event_records_nothing_new():
    Webhook.objects.create(url="http://127.0.0.1:9/", secret="x" * 20, events=["booking.cancelled"])
    booking = BookingFactory()
    for _ in range(3):
        bookings.cancel_booking(booking)
        services.booking_cancelled(booking)  # even a caller that forgets to check
    assert Notification.objects.filter(kind=NotificationKind.BOOKING_CANCELLED).count() == 1
    assert WebhookDelivery.objects.count() == 1


def test_a_send_task_delivered_twice_sends_once():
    booking = BookingFactory()
    bookings.cancel_booking(booking)
    notification = Notification.objects.get(booking=booking)
    assert services.send_notification(notification.pk) == "sent"
    assert services.send_notification(notification.pk) == "not-pending"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].extra_headers["Message-ID"] == notification.message_id
    notification.refresh_from_db()
    assert (notification.state, notification.attempts) == (NotificationState.SENT, 1)


def test_the_last_failed_attempt_marks_the_row_failed(settings):
    settings.NOTIFICATION_MAX_ATTEMPTS = 2
    notification = Notification(attempts=1)
    assert notification.record_failure("SMTPServerDisconnected: gone").total_seconds() > 0
    assert notification.state == NotificationState.PENDING
    notification.attempts = 2
    assert notification.record_failure("SMTPServerDisconnected: gone") is None
    assert notification.state == NotificationState.FAILED


def test_without_a_mail_server_each_message_is_a_file_and_a_log_line(tmp_path, caplog):
    message = mail.EmailMultiAlternatives(
        "Varaus vahvistettu", "Hei!", "noreply@flexispace.local", ["fiona@example.org"],
        headers={"Message-ID": "<notification-7@flexispace.local>"},
    )  # fmt: skip
    message.attach_alternative("<p>Hei!</p>", "text/html")
    with caplog.at_level(logging.INFO, logger="api.notifications.mail"):
        assert FileBackend(file_path=tmp_path).send_messages([message]) == 1
    [path] = tmp_path.glob("*.eml")
    assert "notification-7" in path.name
    parsed = email.message_from_bytes(path.read_bytes())
    assert parsed["To"] == "fiona@example.org"
    assert f"mail to fiona@example.org written to {path}" in caplog.text


@pytest.mark.parametrize(
    "name",
    [
        "notifications.send_notification",
        "notifications.deliver_webhook",
        "notifications.queue_reminders",
        "notifications.queue_access_problems",
        "notifications.notify_access_problems",
        "notifications.requeue_stuck",
    ],
)
def test_the_notification_tasks_keep_their_names_and_queue(name):
    app.loader.import_default_modules()  # what a worker imports: the `include` list
    assert name in app.tasks
    assert app.tasks[name].queue == "notifications"
    assert app.amqp.router.route({}, name)["queue"].name == "notifications"
