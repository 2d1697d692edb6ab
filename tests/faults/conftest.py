"""Machinery for the fault tests: the Procfile's processes in a namespace of their own, servers
of the test's own that it may kill (Redis, Mosquitto, SMTP), and what it takes to count.

Every fault test runs its own stack: its processes' Redis keys and queues, MQTT topics and
database connections (application_name) carry a namespace of their own, so the session's
worker never takes their tasks and `pg_terminate_backend` reaches only them. The test process
itself never queues a task for them through the app (that would go to the session's queues):
it writes rows, and the stack's beat and API queue the work, or it sends a task by name on the
stack's own broker (`Stack.send`).

Each test prints its figures (`-s` shows them) and appends them to var/test-logs/faults.jsonl:
FAULTS.md quotes them. Recovery times are measured, never asserted.
"""

import asyncio
import contextlib
import email
import email.policy
import itertools
import json
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
import redis
from aiosmtpd.controller import Controller
from celery import Celery
from django.conf import settings
from django.db import connection
from django.utils import timezone

from api.access import services
from api.access.choices import GrantState
from api.access.models import Grant, Lock
from api.bookings.models import Booking, BookingRequest
from api.notifications.models import Notification
from api.ops import procfile
from benchmarks import seed
from devices.simulator import Fleet, VirtualLock
from tests.conftest import (
    LOGS,
    child_database_url,
    delete_keys,
    free_port,
    start_process,
    wait_for,
)
from tests.factories import BookingRequestFactory, SpaceFactory, UserFactory, next_slot
from tests.settings import RUN

FIGURES = LOGS / "faults.jsonl"
# Short sweeper thresholds, so that what only a sweep recovers comes back within the test; the
# figures say which setting bounds each recovery (FAULTS.md gives the defaults).
THRESHOLDS = {
    "BOOKING_REQUEUE_AFTER_SECONDS": "2",
    "LOCK_REPUBLISH_AFTER_SECONDS": "2",
    "NOTIFICATION_SENDING_TIMEOUT_SECONDS": "1",
    "NOTIFICATION_REQUEUE_AFTER_SECONDS": "1",
}
logging.getLogger("mail.log").setLevel(logging.WARNING)
logging.getLogger("simulator").setLevel(logging.WARNING)
READY = {
    "worker": "ready.",
    "beat": "beat: Starting",
    "gateway": "gateway subscribed",
    "api": "Booting worker",
}


# --- servers the test may kill ------------------------------------------------------------------


class Server:
    """A server binary on a free loopback port, killed and started again on the same port."""

    def __init__(self, name: str, tmp_path: Path):
        self.name = name
        self.port = free_port()
        self.dir = tmp_path / name
        self.dir.mkdir()
        self.process: subprocess.Popen | None = None

    def argv(self) -> list[str]:
        raise NotImplementedError

    def answers(self) -> bool:
        raise NotImplementedError

    def start(self) -> "Server":
        log = (self.dir / "log").open("a")
        self.process = subprocess.Popen(
            self.argv(), cwd=self.dir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        wait_for(self.answers, timeout=20, message=f"{self.name} on port {self.port}")
        return self

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, nothing saved."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def pause(self) -> None:
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self.process.send_signal(signal.SIGCONT)


class RedisServer(Server):
    """`redis-server` keeping nothing on disk: started again, it is empty."""

    url = property(lambda self: f"redis://127.0.0.1:{self.port}/0")

    def argv(self):
        return [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(self.dir),
        ]  # fmt: skip

    def answers(self):
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        try:
            return client.ping()
        except redis.RedisError:
            return False
        finally:
            client.close()

    def keys(self) -> int:
        client = redis.Redis.from_url(self.url)
        try:
            return client.dbsize()
        finally:
            client.close()


class Mosquitto(Server):
    """Mosquitto as docker-compose.yml configures it (anonymous, persistence on), on its port."""

    url = property(lambda self: f"mqtt://127.0.0.1:{self.port}")

    def argv(self):
        conf = self.dir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n"
            f"max_queued_messages 100000\npersistence true\n"
            f"persistence_location {self.dir}/\n"
        )
        return ["mosquitto", "-c", str(conf)]

    def answers(self):
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 1):
            return True
        return False


@pytest.fixture
def servers(tmp_path):
    """Start servers of the test's own (`servers(RedisServer)`); all killed at the end."""
    started = []

    def start(kind):
        server = kind(kind.__name__.lower(), tmp_path).start()
        started.append(server)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.resume()  # a paused server is killed like any other
        server.kill()


class Smtp:
    """An SMTP server that takes every message and, when told, holds its answer the first time
    it reaches `stall_on` (DATA: the command, before the message; END: the whole message taken,
    the 250 pending; QUIT) until released."""

    def __init__(self, stall_on: str | None = None):
        self.stall_on = stall_on
        self.messages: list[email.message.Message] = []
        self.stalled = threading.Event()
        self.released = threading.Event()

    async def _stall(self, where: str):
        if where == self.stall_on and not self.stalled.is_set():
            self.stalled.set()
            while not self.released.is_set():
                await asyncio.sleep(0.05)

    async def handle_DATA(self, server, session, envelope):
        # Received whole: from here the message exists, answered or not.
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        await self._stall("END")
        return "250 2.0.0 OK"

    async def handle_QUIT(self, server, session, envelope):
        await self._stall("QUIT")
        return "221 2.0.0 Bye"

    def copies(self) -> dict[str, int]:
        """How many messages arrived for each outbox row (kind:id)."""
        counts: dict[str, int] = {}
        for message in self.messages:
            tag = message["X-FlexiSpace-Notification"]
            counts[tag] = counts.get(tag, 0) + 1
        return counts


class _StallingDataCommand(Controller):
    """aiosmtpd calls no handler for the DATA command itself: its SMTP class is told to wait
    there, before it answers 354."""

    def factory(self):
        from aiosmtpd.smtp import SMTP

        sink = self.handler

        class Stalling(SMTP):
            async def smtp_DATA(self, arg):
                await sink._stall("DATA")
                return await super().smtp_DATA(arg)

        return Stalling(sink, **self.SMTP_kwargs)


@pytest.fixture
def smtp():
    """Start an SMTP server of the test's own: `smtp()`, or `smtp(stall_on="END")`."""
    controllers = []

    def start(stall_on: str | None = None) -> tuple[Smtp, int]:
        sink = Smtp(stall_on)
        controller = _StallingDataCommand(sink, hostname="127.0.0.1", port=free_port())
        controller.start()
        controllers.append((sink, controller))
        return sink, controller.port

    yield start
    for sink, controller in controllers:
        sink.released.set()
        controller.stop()


# --- the stack ----------------------------------------------------------------------------------


class Stack:
    """The Procfile's processes for one test, in a namespace of their own."""

    def __init__(self, name: str, redis_url: str | None = None, **env: str):
        self.namespace = f"{RUN}-{name}"
        self.redis_url = redis_url or settings.REDIS_URL
        self.env = {
            **THRESHOLDS,
            "FLEXISPACE_NAMESPACE": self.namespace,
            "MQTT_TOPIC_ROOT": f"{self.namespace}/flexispace/v1",
            "REDIS_URL": self.redis_url,
            # Its database connections, by name, for pg_terminate_backend.
            "PGAPPNAME": self.namespace,
            "LOG_LEVEL": "INFO",
            **env,
        }
        self.app = Celery(f"faults-{name}", broker=self.redis_url, set_as_current=False)
        self.app.conf.broker_transport_options = {"global_keyprefix": f"{self.namespace}:"}
        self.processes: list[subprocess.Popen] = []
        self.started = itertools.count(1)

    @property
    def topic_root(self) -> str:
        return self.env["MQTT_TOPIC_ROOT"]

    def start(self, name: str, *, queues: str | None = None, **env: str) -> subprocess.Popen:
        """The Procfile's `name` (a worker on `queues` only, if given), ready to work."""
        command = procfile.command(["worker", "-Q", queues] if queues else [name])
        number = next(self.started)
        if name == "worker":
            # A name of its own and no gossip or mingle keep it apart from other workers.
            command += f" --hostname {self.namespace}-{number}@%h --without-gossip --without-mingle"
        process = start_process(
            f"{self.namespace}-{name}-{number}",
            procfile.shell(command),
            ready=READY[name],
            **{"PATH": procfile.environment()["PATH"], **self.env, **env},
        )
        self.processes.append(process)
        return process

    def start_many(self, *names: str, **env: str) -> list[subprocess.Popen]:
        """Start several of the Procfile's processes at once (on two cores each takes seconds)."""
        with ThreadPoolExecutor(len(names)) as pool:
            return list(pool.map(lambda name: self.start(name, **env), names))

    def start_api(self, port: int | None = None) -> "Api":
        """The Procfile's api on `port` (a free one unless given: the same, to restart it)."""
        port = port or free_port()
        process = self.start("api", PORT=str(port))
        api = Api(port, process)
        wait_for(api.answers, timeout=30, message="the API to answer")
        return api

    def send(self, task: str, *args, queue: str) -> None:
        """Queue a task by name for this stack's workers, as beat or the API would."""
        self.app.send_task(task, args=args, queue=queue)

    def close(self) -> None:
        # Killed, not stopped: a graceful stop waits on servers the test may have killed.
        for process in self.processes:
            kill(process)
        self.app.close()
        with contextlib.suppress(Exception):
            delete_keys(f"{self.namespace}:*")


@pytest.fixture
def stack(request):
    """`stack(name, **env)`: a Stack, closed (its processes stopped) at the end of the test."""
    stacks = []

    def make(name: str | None = None, **env) -> Stack:
        made = Stack(name or request.node.name[:40], **env)
        stacks.append(made)
        return made

    yield make
    for made in stacks:
        made.close()


class Api:
    def __init__(self, port: int, process: subprocess.Popen):
        self.port = port
        self.process = process

    def answers(self) -> bool:
        import http.client

        try:
            link = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            link.request("GET", "/healthz")
            return link.getresponse().status == 200
        except OSError:
            return False


def kill(process: subprocess.Popen) -> None:
    """SIGKILL a process and everything it started (a worker's pool, gunicorn's workers)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


# --- the database, from PostgreSQL's side -----------------------------------------------------


def raw_connection() -> psycopg.Connection:
    """A connection of the test's own to the test database, outside Django (to hold locks)."""
    return psycopg.connect(child_database_url(), autocommit=False)


def backends(namespace: str, waiting: bool = False) -> list[int]:
    """The PostgreSQL backends of a stack's processes (only those waiting for a row lock, if
    asked)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND application_name = %s AND (NOT %s OR wait_event_type = 'Lock')",
            [namespace, waiting],
        )
        return [pid for (pid,) in cursor.fetchall()]


def terminate_backends(namespace: str) -> int:
    """pg_terminate_backend on every connection of a stack's processes; how many."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = %s",
            [namespace],
        )
        return cursor.fetchone()[0]


# --- booking requests, and what became of them ---------------------------------------------


def contended_requests(people: int = 6, hours: int = 4, spaces: int = 3) -> list[str]:
    """Pending requests that race: each hour, two people ask for each space (one wins, the
    other is rejected `slot_taken`). Saved as the API saves them; the ids."""
    rooms = [SpaceFactory() for _ in range(spaces)]
    first, _ = next_slot()
    ids = []
    for n in range(people):
        person = UserFactory()
        for hour in range(hours):
            start = first + timedelta(hours=hour)
            ids.append(
                BookingRequestFactory(
                    user=person,
                    space=rooms[(n + hour) % spaces],
                    start=start,
                    end=start + timedelta(hours=1),
                ).pk
            )
    return ids


@contextlib.contextmanager
def people_held(request_ids):
    """Hold the rows of the requests' people until the block ends (a connection of the test's
    own): an allocation of theirs stops at the quota check, inside its transaction."""
    people = list(
        BookingRequest.objects.filter(id__in=request_ids).values_list("user_id", flat=True)
    )
    holder = raw_connection()
    try:
        holder.execute("SELECT 1 FROM accounts_user WHERE id = ANY(%s) FOR UPDATE", [people])
        yield
    finally:
        holder.rollback()
        holder.close()


def queue_requests(stack: Stack, request_ids) -> None:
    """Queue requests on the stack's broker, as the API does (queued_at counts from now)."""
    BookingRequest.objects.filter(id__in=request_ids).update(queued_at=timezone.now())
    for pk in request_ids:
        stack.send("allocation.allocate", str(pk), queue="allocation")


def inside_allocations(stack: Stack, processes: int = 2) -> None:
    """Wait until every process of the stack's worker is inside an allocation, held."""
    wait_for(
        lambda: len(backends(stack.namespace, waiting=True)) == processes,
        message="the worker's processes inside an allocation",
    )


def decided(request_ids) -> bool:
    return not BookingRequest.objects.filter(id__in=request_ids, status="pending").exists()


def mailed(request_ids, sink: Smtp) -> bool:
    """Whether every decision's email reached the server."""
    tags = Notification.objects.filter(request_id__in=request_ids)
    wanted = {f"{kind}:{pk}" for pk, kind in tags.values_list("pk", "kind")}
    return len(wanted) >= len(request_ids) and wanted <= set(sink.copies())


def account_for_requests(request_ids, sink: Smtp) -> dict:
    """Lost: a request undecided, a confirmation without its booking, a decision without its
    email. Duplicated: a second booking, outbox row or email for one request."""
    requests = BookingRequest.objects.filter(id__in=request_ids)
    confirmed = set(requests.filter(status="confirmed").values_list("id", flat=True))
    bookings = Counter(
        Booking.objects.filter(request_id__in=request_ids).values_list("request_id", flat=True)
    )
    rows = Counter(
        Notification.objects.filter(request_id__in=request_ids).values_list("request_id", flat=True)
    )
    copies = sink.copies()
    emails = Counter()
    for pk, kind, request_id in Notification.objects.filter(request_id__in=request_ids).values_list(
        "pk", "kind", "request_id"
    ):
        emails[request_id] += copies.get(f"{kind}:{pk}", 0)
    lost = (
        requests.filter(status="pending").count()
        + sum(1 for pk in confirmed if not bookings[pk])
        + sum(1 for pk in request_ids if not emails[pk])
    )
    duplicated = sum(
        max(0, counter[pk] - 1) for counter in (bookings, rows, emails) for pk in request_ids
    )
    return {
        "requests": len(request_ids),
        "confirmed": len(confirmed),
        "rejected": requests.filter(status="rejected").count(),
        "lost": lost,
        "duplicated": duplicated,
    }


# --- locks, their grants, and what the locks hold ---------------------------------------------


def locks_at_a_boundary(count: int, boundary, prefix: str) -> tuple[list, list]:
    """`count` locks, each with a grant whose slot ends at `boundary` and one whose slot starts
    there (no access grace): [(lock id, ending grant id)], [(lock id, starting grant id)].

    Neither is on its lock yet: beat's sweep provisions both ahead of the boundary (the ending
    one's slot has begun already), then revokes the one and starts the other at it.
    """
    person = UserFactory()
    rooms = seed.spaces(count, access_grace_before_minutes=0, access_grace_after_minutes=0)
    ending, starting = [], []
    for n, room in enumerate(rooms):
        lock = Lock.objects.create(id=f"{prefix}-lock-{n:03d}", space=room, password_hash="!")
        for start, pairs in ((boundary - timedelta(hours=1), ending), (boundary, starting)):
            booking = Booking.objects.create(
                space=room, user=person, start=start, end=start + timedelta(hours=1), party_size=2
            )
            grant = Grant.objects.create(
                lock=lock,
                booking=booking,
                code="111111" if pairs is ending else "222222",
                valid_from=booking.start,
                valid_until=booking.end,
                slot_start=booking.start,
                slot_end=booking.end,
                # Begun already: the sweep has no start of it to flag.
                started_at=booking.start if pairs is ending else None,
            )
            pairs.append((lock.id, grant.id))
    return ending, starting


@pytest.fixture
def fleet(tmp_path):
    """`fleet(stack, lock_ids, url=None)`: the simulated locks (devices/simulator.py), one MQTT
    connection each, on the stack's topics; stopped at the end."""
    fleets = []

    def start(stack: Stack, lock_ids, url: str | None = None) -> Fleet:
        started = Fleet(stack.topic_root, url=url, keepalive=10).start()
        for lock_id in lock_ids:
            started.add(
                VirtualLock(lock_id, services.public_key(), settings.LOCK_SIGNING_KID, tmp_path)
            )
        fleets.append(started)
        return started

    yield start
    for started in fleets:
        started.stop(forget=True)


def held(fleet: Fleet, lock_id: str) -> list[str]:
    return fleet.call(lambda: [grant["grant_id"] for grant in fleet.lock(lock_id).grants])


def account_for_grants(fleet: Fleet, wanted: list, gone: list = ()) -> dict:
    """Lost: a wanted grant missing from its lock, or its lock's confirmation not recorded; a
    grant that should be gone still on its lock, or its revocation not recorded. Duplicated: a
    grant held twice, or a lock holding a grant of no one's."""
    expected: dict[str, set[str]] = {}
    for lock_id, grant_id in wanted:
        expected.setdefault(lock_id, set()).add(grant_id)
    for lock_id, _ in gone:
        expected.setdefault(lock_id, set())
    holdings = {lock_id: held(fleet, lock_id) for lock_id in expected}
    states = dict(
        Grant.objects.filter(id__in=[g for _, g in [*wanted, *gone]]).values_list("id", "state")
    )
    on_lock = (GrantState.PROVISIONED, GrantState.ACTIVE)
    lost = sum(
        grant_id not in holdings[lock_id] or states[grant_id] not in on_lock
        for lock_id, grant_id in wanted
    ) + sum(
        grant_id in holdings[lock_id] or states[grant_id] != GrantState.REVOKED
        for lock_id, grant_id in gone
    )
    duplicated = sum(
        len(grants) - len(set(grants)) + len(set(grants) - expected[lock_id])
        for lock_id, grants in holdings.items()
    )
    return {"locks": len(expected), "lost": lost, "duplicated": duplicated}


def converged(fleet: Fleet, wanted: list, gone: list = ()) -> bool:
    outcome = account_for_grants(fleet, wanted, gone)
    return outcome["lost"] == outcome["duplicated"] == 0


# --- figures ------------------------------------------------------------------------------------


class Clock:
    """Seconds since the fault, for the recovery figures."""

    def __init__(self):
        self.fault = time.monotonic()

    def since(self) -> float:
        return round(time.monotonic() - self.fault, 2)


def nothing_lost_or_duplicated(test: str, outcomes: dict[str, dict], **figures) -> None:
    """Record a test's figures with what it counted, then assert that nothing was lost or
    duplicated."""
    lost = sum(outcome["lost"] for outcome in outcomes.values())
    duplicated = sum(outcome["duplicated"] for outcome in outcomes.values())
    record(test, **figures, **outcomes, lost=lost, duplicated=duplicated)
    assert (lost, duplicated) == (0, 0), outcomes


def record(test: str, **figures) -> dict:
    """Print a test's figures and append them to var/test-logs/faults.jsonl."""
    line = {"test": test, **figures}
    print(f"\nFAULT {json.dumps(line)}")
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    with FIGURES.open("a") as figures_file:
        figures_file.write(json.dumps(line) + "\n")
    return line
