"""A worker killed with SIGKILL while it sends an email, against an SMTP server of the test's
own on a free port that stalls: on QUIT (the message accepted, the goodbye pending) nothing is
sent twice; on DATA (the message sent, the answer pending) the mail goes again after the
sweep, so nothing is lost, and the one possible duplicate is counted and carries the same
Message-ID.

Each test runs its own Celery workers in a namespace of their own (Redis keys and queues), so
the session's worker never takes their tasks; the sweep is their own task, queued as beat
would queue it."""

import asyncio
import email
import os
import signal
import socket
import sys
import threading
import time

import pytest
from aiosmtpd.controller import Controller
from celery import Celery
from django.conf import settings
from django.db import transaction

from api.notifications.models import Notification
from tests.conftest import delete_keys, start_process, stop_process, wait_for
from tests.factories import BookingFactory
from tests.settings import RUN

pytestmark = pytest.mark.django_db(transaction=True)


class StallingSmtp:
    """Takes every message; the first time through, holds its answer to `stall_on` (DATA or
    QUIT) until released."""

    def __init__(self, stall_on: str):
        self.stall_on = stall_on
        self.messages: list[email.message.Message] = []
        self.stalled = threading.Event()
        self.released = threading.Event()

    async def _stall(self, command: str):
        if command == self.stall_on and not self.stalled.is_set():
            self.stalled.set()
            while not self.released.is_set():
                await asyncio.sleep(0.05)

    async def handle_DATA(self, server, session, envelope):
        # Received whole: from here the message exists, answered or not.
        self.messages.append(email.message_from_bytes(envelope.content))
        await self._stall("DATA")
        return "250 2.0.0 OK"

    async def handle_QUIT(self, server, session, envelope):
        await self._stall("QUIT")
        return "221 2.0.0 Bye"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Workers:
    """Celery workers on the notifications queue of a namespace of their own."""

    def __init__(self, smtp_port: int):
        self.namespace = f"{RUN}-faults-{os.getpid()}-{time.monotonic_ns()}"
        self.env = {
            "FLEXISPACE_NAMESPACE": self.namespace,
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp_port),
            # A sending row unheld this long is the sweep's to hand out again.
            "NOTIFICATION_SENDING_TIMEOUT_SECONDS": "1",
            # A sweep that finds nothing logs its end at DEBUG; the test waits for that line.
            "LOG_LEVEL": "DEBUG",
        }
        self.app = Celery("faults", broker=settings.REDIS_URL)
        self.app.conf.broker_transport_options = {"global_keyprefix": f"{self.namespace}:"}
        self.started = 0

    def start(self):
        self.started += 1
        argv = [
            sys.executable, "-m", "celery", "-A", "workers", "worker", "-Q", "notifications",
            "--concurrency", "1", "--hostname", f"{self.namespace}-{self.started}@%h",
            "--without-gossip", "--without-mingle", "--loglevel", "INFO",
        ]  # fmt: skip
        return start_process(f"faults-worker-{self.started}", argv, ready="ready.", **self.env)

    def send(self, task: str, *args):
        self.app.send_task(task, args=args, queue="notifications")

    def cleanup(self):
        delete_keys(f"{self.namespace}:*")


@pytest.fixture
def smtp_stalling_on(request):
    servers = []

    def start(command: str) -> tuple[StallingSmtp, int]:
        sink = StallingSmtp(command)
        controller = Controller(sink, hostname="127.0.0.1", port=free_port())
        controller.start()
        servers.append((sink, controller))
        return sink, controller.port

    yield start
    for sink, controller in servers:
        sink.released.set()
        controller.stop()


def a_notification() -> Notification:
    booking = BookingFactory(status="cancelled")
    return Notification.objects.create(
        kind="booking_cancelled", recipient=booking.user, language="en", booking=booking
    )


def kill(process) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def swept_after_the_timeout(workers: Workers, worker, notification: Notification) -> None:
    """Run the stuck-row sweep on the workers, as beat would, once the dead sender's claim
    is past its timeout and its lock gone; return when it and what it queued have run."""

    def free_and_old():
        with transaction.atomic():
            row = Notification.objects.select_for_update(skip_locked=True).filter(
                pk=notification.pk
            )
            claimed_at = row.values_list("claimed_at", flat=True).first()
        return claimed_at and time.time() - claimed_at.timestamp() > 1.2

    wait_for(free_and_old, message="the dead sender's claim to lapse")
    workers.send("notifications.requeue_stuck")
    # A second sweep after it: with one process, the first and the sends it queued come first.
    workers.send("notifications.requeue_stuck")
    wait_for(
        lambda: worker.log_path.read_text().count("notifications.requeue_stuck success") >= 2,
        message="both sweeps",
    )


def killed_while_sending(sink: StallingSmtp, port: int) -> tuple[Notification, str]:
    """Send a notification on a worker, SIGKILL the worker while the server stalls, start
    another and let the sweep run there: the notification afterwards, and its state just
    after the kill."""
    workers = Workers(port)
    notification = a_notification()
    first = workers.start()
    try:
        workers.send("notifications.send_notification", notification.pk)
        wait_for(sink.stalled.is_set, message=f"the server to hold {sink.stall_on}")
        kill(first)
        sink.released.set()
        state_after_the_kill = Notification.objects.get(pk=notification.pk).state
        second = workers.start()
        try:
            swept_after_the_timeout(workers, second, notification)
        finally:
            stop_process(second)
    finally:
        if first.poll() is None:
            kill(first)
        workers.cleanup()
    notification.refresh_from_db()
    return notification, state_after_the_kill


def test_a_worker_killed_while_the_server_answers_quit_sends_no_duplicate(smtp_stalling_on):
    sink, port = smtp_stalling_on("QUIT")
    notification, after_the_kill = killed_while_sending(sink, port)
    assert after_the_kill == "sent"  # committed before the goodbye
    assert (notification.state, notification.attempts) == ("sent", 1)
    assert len(sink.messages) == 1


def test_a_worker_killed_while_the_server_answers_data_sends_again_once(smtp_stalling_on):
    sink, port = smtp_stalling_on("DATA")
    notification, after_the_kill = killed_while_sending(sink, port)
    assert after_the_kill == "sending"
    # Nothing lost: sent on the second attempt. The server kept the first copy too, whose
    # answer never reached the sender: one duplicate, with the same Message-ID.
    assert (notification.state, notification.attempts) == ("sent", 2)
    assert len(sink.messages) == 2
    assert {m["Message-ID"] for m in sink.messages} == {notification.message_id}
