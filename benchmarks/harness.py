"""A benchmark run's corner of the shared servers, and the Procfile's processes started in it.

`prepare()` runs before Django is set up: it points the run at the services (the environment's
URLs, else the usual local ports, else the embedded servers), gives it a namespace, a topic root
and a database of its own (`flexispace_bench_<namespace>`), and switches off the rate limits and
DEBUG, as production runs. `Stack` starts Procfile commands exactly as written, with the venv on
PATH and logs under var/bench-logs/, and stops them by their own process group.
"""

import contextlib
import math
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from devices import protocol

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "var" / "bench-logs"
LOCAL = {
    "DATABASE_URL": ("postgres://root@127.0.0.1:5432/postgres", 5432),
    "REDIS_URL": ("redis://127.0.0.1:6379/0", 6379),
    "MQTT_URL": ("mqtt://127.0.0.1:1883", 1883),
}
# Tables a benchmark may fill; a reset empties every other one of the project's tables.
KEEP_TABLES = {"django_migrations", "django_content_type", "auth_permission"}


class CorrectnessError(AssertionError):
    """A fact that must hold whatever the figures: one winner, nothing lost."""


@dataclass
class Result:
    name: str
    conditions: list[str] = field(default_factory=list)
    figures: list[tuple[str, str]] = field(default_factory=list)
    goals: list[tuple[str, bool | None]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def figure(self, label: str, value) -> None:
        self.figures.append((label, value if isinstance(value, str) else f"{value}"))

    def goal(self, text: str, met: bool | None) -> None:
        self.goals.append((text, met))

    def check(self, fact: str, holds: bool) -> None:
        """A correctness fact: recorded as a figure, and a failure when it does not hold."""
        self.figures.append((fact, "yes" if holds else "NO"))
        if not holds:
            self.failures.append(fact)


def _port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def admin_connect(url: str):
    return psycopg.connect(_with_database(url, "postgres"), autocommit=True)


class Run:
    """The run's namespace, database and environment; the same for every process it starts."""

    def __init__(self):
        self.namespace = f"bench{os.getpid()}"
        self.database = f"flexispace_bench_{self.namespace}"
        self.server_url = None
        self.created = False
        self.mail_dir = ROOT / "var" / "bench-mail" / self.namespace

    def prepare(self) -> None:
        os.environ["FLEXISPACE_NAMESPACE"] = self.namespace
        os.environ["MQTT_TOPIC_ROOT"] = f"{self.namespace}/flexispace/v1"
        os.environ["THROTTLING"] = "off"
        os.environ["DEBUG"] = "off"
        # Production refuses the development secrets: the run has its own.
        os.environ["SECRET_KEY"] = secrets.token_urlsafe(50)
        os.environ["ALLOWED_HOSTS"] = "127.0.0.1,localhost"
        os.environ["LOCK_SIGNING_KEY"] = protocol.generate_private_key()
        os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.settings"
        os.environ["BENCH_MAIL_DIR"] = str(self.mail_dir)
        os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
        for name, (url, port) in LOCAL.items():
            if not os.environ.get(name) and _port_open(port):
                os.environ[name] = url
        if not all(os.environ.get(name) for name in LOCAL):
            from api import embedded

            var = ROOT / "var"
            embedded.database_url(var)
            embedded.redis_url(var)
            embedded.mqtt_url(var)
        self.server_url = os.environ["DATABASE_URL"]
        with admin_connect(self.server_url) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}"')
            conn.execute(f'CREATE DATABASE "{self.database}"')
        self.created = True
        os.environ["DATABASE_URL"] = _with_database(self.server_url, self.database)

    def cleanup(self) -> None:
        from django.db import connections

        connections.close_all()
        shutil.rmtree(self.mail_dir, ignore_errors=True)
        with contextlib.suppress(Exception):
            import redis

            client = redis.Redis.from_url(os.environ["REDIS_URL"])
            keys = list(client.scan_iter(f"{self.namespace}:*", count=1000))
            if keys:
                client.delete(*keys)
        if self.created:
            with admin_connect(self.server_url) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')


def reset_database() -> None:
    """Empty every table the benchmarks fill, so each benchmark starts from nothing."""
    from django.db import connection

    tables = [
        t for t in connection.introspection.django_table_names(only_existing=True)
        if t not in KEEP_TABLES
    ]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
        )


def purge_queues() -> None:
    from workers import app

    with app.connection_for_write() as conn:
        for queue in ("allocation", "locks", "notifications"):
            conn.default_channel.queue_purge(queue)


def queue_length(queue: str) -> int:
    from workers import app

    with app.connection_for_write() as conn:
        # The channel's client adds the namespace's key prefix itself.
        return conn.default_channel.client.llen(queue)


class Stack:
    """Procfile processes started for one benchmark; `stop_all()` ends exactly those."""

    def __init__(self):
        from api.ops import procfile

        self.procfile = procfile
        self.commands = procfile.read()
        self.running: dict[str, subprocess.Popen] = {}

    def start(self, name: str, extra: str = "", ready=None, timeout=90.0, **env):
        """Start the Procfile's `name` as written (plus `extra` arguments); wait for `ready`."""
        LOGS.mkdir(parents=True, exist_ok=True)
        log_path = LOGS / f"{os.environ['FLEXISPACE_NAMESPACE']}-{name}.log"
        command = self.commands[name] + (f" {extra}" if extra else "")
        offset = log_path.stat().st_size if log_path.exists() else 0
        with log_path.open("a") as log:  # a process started again keeps its earlier log
            process = subprocess.Popen(
                self.procfile.shell(command),
                cwd=ROOT,
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process.log_path = log_path
        process.log_offset = offset
        self.running[name] = process
        deadline = time.monotonic() + timeout
        while not (ready is None or ready(process)):
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited early:\n{log_path.read_text()[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} not ready after {timeout} s; see {log_path}")
            time.sleep(0.1)
        return process

    def start_api(self, **env) -> str:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        answers = lambda p: _answers(f"{base}/api/v1/activities/")  # noqa: E731
        self.start("api", ready=answers, PORT=str(port), **env)
        return base

    def start_worker(self, **env):
        # The Procfile's worker as written; a hostname of the run's own and no gossip or
        # mingle keep it apart from other workers on the shared Redis.
        namespace = os.environ["FLEXISPACE_NAMESPACE"]
        return self.start(
            "worker",
            extra=f"--hostname {namespace}@%h --without-gossip --without-mingle",
            ready=lambda p: "ready." in log_since_start(p),
            **env,
        )

    def stop(self, name: str, timeout: float = 20.0) -> None:
        process = self.running.pop(name, None)
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)


def log_since_start(process) -> str:
    """What a process started by `Stack.start` has logged so far."""
    with process.log_path.open() as log:
        log.seek(process.log_offset)
        return log.read()


def _answers(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def wait_until(predicate, timeout: float, interval: float = 0.2, what: str = "a condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise CorrectnessError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def percentile(values, fraction: float) -> float:
    """The nearest-rank percentile of `values` (fraction 0.5 for the median)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))
    return ordered[index]


def median(values) -> float:
    return statistics.median(values)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}x" if baseline else "n/a"
