"""A worker killed with SIGKILL while it sends an email, against an SMTP server of the test's
own that is slow to answer at one point of the conversation:

- DATA (the command; the message not yet sent): nothing arrived, the mail goes after the sweep,
  once: nothing lost, nothing duplicated;
- the end of the message (the server took it whole, its 250 pending): the sender cannot know
  whether it was taken, so it sends again after the sweep. Nothing lost; the server holds two
  copies with the same Message-ID, which a mail client drops as one (the at-least-once window
  of SMTP itself, RFC 1047; api/notifications/services.py);
- QUIT (the message accepted, the goodbye pending): the row was marked sent before QUIT, so
  nothing is sent twice.

Each test runs its own worker on the notifications queue of a namespace of its own, so the
session's worker never takes its tasks; the sweep is queued as beat would queue it, once the
dead sender's claim is past NOTIFICATION_SENDING_TIMEOUT_SECONDS (1 s here)."""

import time

import pytest
from django.db import transaction

from api.notifications.models import Notification
from tests.conftest import wait_for
from tests.factories import BookingFactory
from tests.faults.conftest import Clock, kill, record

pytestmark = pytest.mark.django_db(transaction=True)


def a_notification() -> Notification:
    booking = BookingFactory(status="cancelled")
    return Notification.objects.create(
        kind="booking_cancelled", recipient=booking.user, language="en", booking=booking
    )


def swept_after_the_timeout(faults, worker, notification: Notification) -> None:
    """Run the stuck-row sweep on the stack, as beat would, once the dead sender's claim is
    past its timeout and its lock gone; return when it has run twice."""

    def free_and_old():
        with transaction.atomic():
            row = Notification.objects.select_for_update(skip_locked=True).filter(
                pk=notification.pk
            )
            claimed_at = row.values_list("claimed_at", flat=True).first()
        return claimed_at and time.time() - claimed_at.timestamp() > 1.2

    wait_for(free_and_old, message="the dead sender's claim to lapse")
    faults.send("notifications.requeue_stuck", queue="notifications")
    # A second sweep after it: with one process, the first and the sends it queued come first.
    faults.send("notifications.requeue_stuck", queue="notifications")
    wait_for(
        lambda: worker.log_path.read_text().count("notifications.requeue_stuck success") >= 2,
        message="both sweeps",
    )


def killed_while_sending(stack, smtp, stall_on: str):
    """Send a notification on a worker, SIGKILL the worker while the server stalls, start
    another and let the sweep run there: the server, the notification afterwards, and its
    state just after the kill."""
    sink, port = smtp(stall_on)
    faults = stack(
        f"mail-{stall_on.lower()}",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(port),
        WORKER_CONCURRENCY="1",
        # A sweep that finds nothing logs its end at DEBUG; the test waits for that line.
        LOG_LEVEL="DEBUG",
    )
    notification = a_notification()
    first = faults.start("worker", queues="notifications")
    faults.send("notifications.send_notification", notification.pk, queue="notifications")
    wait_for(sink.stalled.is_set, message=f"the server to hold {stall_on}")
    kill(first)
    clock = Clock()
    sink.released.set()
    after_the_kill = Notification.objects.get(pk=notification.pk).state
    second = faults.start("worker", queues="notifications")
    swept_after_the_timeout(faults, second, notification)
    wait_for(
        lambda: Notification.objects.filter(pk=notification.pk, state="sent").exists(),
        message="the email sent",
    )
    notification.refresh_from_db()
    copies = len(sink.messages)
    record(
        f"worker SIGKILL while the SMTP server is slow on {stall_on}",
        in_flight="one email",
        state_after_the_kill=after_the_kill,
        # Sent already at the kill: nothing to recover.
        sent_after_s=0.0 if after_the_kill == "sent" else clock.since(),
        attempts=notification.attempts,
        copies_at_the_server=copies,
        distinct_message_ids=len({m["Message-ID"] for m in sink.messages}),
        lost=int(notification.state != "sent" or not copies),
        duplicated=max(0, copies - 1),
        bound_by="NOTIFICATION_SENDING_TIMEOUT_SECONDS=1 + the 30 s requeue-stuck sweep "
        "(queued here by the test at once)",
    )
    return sink, notification, after_the_kill


def test_a_worker_killed_while_the_server_is_slow_on_data_sends_once(stack, smtp):
    sink, notification, after_the_kill = killed_while_sending(stack, smtp, "DATA")
    assert after_the_kill == "sending"
    assert (notification.state, notification.attempts) == ("sent", 2)
    assert len(sink.messages) == 1


def test_a_worker_killed_while_the_server_answers_the_message_sends_again_once(stack, smtp):
    sink, notification, after_the_kill = killed_while_sending(stack, smtp, "END")
    assert after_the_kill == "sending"
    # Nothing lost: sent on the second attempt. The server kept the first copy too, whose
    # answer never reached the sender: one duplicate, with the same Message-ID.
    assert (notification.state, notification.attempts) == ("sent", 2)
    assert len(sink.messages) == 2
    assert {m["Message-ID"] for m in sink.messages} == {notification.message_id}


def test_a_worker_killed_while_the_server_answers_quit_sends_no_duplicate(stack, smtp):
    sink, notification, after_the_kill = killed_while_sending(stack, smtp, "QUIT")
    assert after_the_kill == "sent"  # committed before the goodbye
    assert (notification.state, notification.attempts) == ("sent", 1)
    assert len(sink.messages) == 1
