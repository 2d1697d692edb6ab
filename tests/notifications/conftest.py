"""A local SMTP server (aiosmtpd) and webhook receivers (http.server) for the notification tests.

The SMTP server starts when this file is collected and its address goes into the environment,
so the session's Celery worker, started later, sends its mail there. Retry waits are set to a
second so that retried sends and deliveries come quickly.
"""

import asyncio
import email
import email.policy
import hashlib
import hmac
import json
import logging
import os
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller

from tests.conftest import wait_for


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpSink:
    """Accepts mail, or refuses it (451) or holds it without ever accepting, as a test says."""

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.messages: list[email.message.EmailMessage] = []
            # Mail to these addresses is refused (451) so many more times, or held unanswered.
            # By address, as other tests' mail may still be on its way.
            self.refuse: dict[str, int] = {}
            self.refused = 0
            self.reject: set[str] = set()  # 550, for good
            self.hold: set[str] = set()
            self.held = 0

    async def handle_DATA(self, server, session, envelope):
        if self.hold & set(envelope.rcpt_tos):
            self.held += 1
            while self.hold & set(envelope.rcpt_tos):
                await asyncio.sleep(0.05)
            return "451 4.3.0 Held and dropped"  # never accepted, so never delivered
        with self.lock:
            if self.reject & set(envelope.rcpt_tos):
                return "550 5.1.1 No such mailbox"
            for address in envelope.rcpt_tos:
                if self.refuse.get(address, 0) > 0:
                    self.refuse[address] -= 1
                    self.refused += 1
                    return "451 4.3.0 Try again later"
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.messages.append(message)
        return "250 2.0.0 OK"

    def about(self, notification) -> list[email.message.EmailMessage]:
        """The messages received for one outbox row."""
        tag = f"{notification.kind}:{notification.pk}"
        with self.lock:
            return [m for m in self.messages if m["X-FlexiSpace-Notification"] == tag]


logging.getLogger("mail.log").setLevel(logging.WARNING)
SMTP = SmtpSink()
_controller = Controller(SMTP, hostname="127.0.0.1", port=_free_port())
_controller.start()
os.environ["EMAIL_HOST"] = "127.0.0.1"
os.environ["EMAIL_PORT"] = str(_controller.port)
os.environ.setdefault("NOTIFICATION_RETRY_BASE_SECONDS", "1")
os.environ.setdefault("WEBHOOK_RETRY_BASE_SECONDS", "1")
os.environ.setdefault("WEBHOOK_TIMEOUT_SECONDS", "2")


@pytest.fixture
def smtp():
    SMTP.reset()
    yield SMTP
    SMTP.reset()


def text_of(message: email.message.EmailMessage) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def html_of(message: email.message.EmailMessage) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


class Receiver:
    """A webhook endpoint on 127.0.0.1 that answers with the statuses it is given, in turn."""

    def __init__(self, statuses=(200,), hang: bool = False):
        self.statuses = list(statuses)
        self.hang = hang
        self.calls: list[dict] = []
        self.released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append({"headers": self.headers, "body": body})
                if receiver.hang:
                    receiver.released.wait(30)
                    return
                status = (
                    receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    started = []

    def start(*args, **kwargs):
        receiver = Receiver(*args, **kwargs)
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.close()


def signature_ok(call: dict, secret: str) -> bool:
    timestamp = call["headers"]["X-FlexiSpace-Timestamp"]
    expected = hmac.new(
        secret.encode(), timestamp.encode() + b"." + call["body"], hashlib.sha256
    ).hexdigest()
    given = call["headers"]["X-FlexiSpace-Signature"]
    fresh = abs(time.time() - int(timestamp)) < 300
    return fresh and hmac.compare_digest(given, f"sha256={expected}")


def payload(call: dict) -> dict:
    return json.loads(call["body"])


@pytest.fixture(autouse=True)
def _quiet_outbox(request):
    """After a test on the worker, stop its retries and let a send in progress finish, so
    nothing of it runs on while the next test's database is being emptied."""
    yield
    if "celery_worker" not in request.fixturenames:
        return
    from api.notifications.models import Notification, WebhookDelivery

    for model in (Notification, WebhookDelivery):
        model.objects.filter(state="pending").update(state="failed", last_error="test over")
    wait_for(
        lambda: (
            not Notification.objects.filter(state="sending").exists()
            and not WebhookDelivery.objects.filter(state="sending").exists()
        ),
        timeout=30,
        message="sends in progress to finish",
    )
