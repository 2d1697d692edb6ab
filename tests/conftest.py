"""Shared fixtures: the people (an owner, another user, an operator), API clients, and a real
Celery worker on the real Redis for tests about queues."""

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import redis
from django.db import connection
from rest_framework.test import APIClient

from tests.factories import SpaceFactory, UserFactory
from tests.settings import RUN

LOGS = Path(__file__).resolve().parent.parent / "var" / "test-logs"


@pytest.fixture(scope="session")
def django_db_modify_db_settings():
    # One test database per run, so that runs sharing a PostgreSQL do not collide.
    from django.conf import settings

    db = settings.DATABASES["default"]
    db.setdefault("TEST", {})["NAME"] = f"test_{db['NAME']}_{RUN}"


def client_for(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {user.auth_token.key}")
    return client


@pytest.fixture
def owner(db):
    return UserFactory(email="olivia@example.org", name="Olivia Owner")


@pytest.fixture
def other(db):
    return UserFactory(email="oscar@example.org", name="Oscar Other")


@pytest.fixture
def operator(db):
    return UserFactory(email="otto@example.org", name="Otto Operator", is_staff=True)


@pytest.fixture
def anonymous():
    return APIClient()


@pytest.fixture
def as_owner(owner):
    return client_for(owner)


@pytest.fixture
def as_other(other):
    return client_for(other)


@pytest.fixture
def as_operator(operator):
    return client_for(operator)


@pytest.fixture
def space(db):
    return SpaceFactory()


def delete_keys(pattern: str) -> None:
    """Delete the keys of the shared Redis that match `pattern` (the run's own, by its prefix)."""
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        keys = list(client.scan_iter(pattern, count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.fixture(scope="session", autouse=True)
def _run_leaves_no_keys():
    """At the end, the run's keys in the shared Redis go (queues, marks, rate-limit counts)."""
    yield
    delete_keys(f"{RUN}:*")


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Every test's requests come from 127.0.0.1, and the rate limits count in the run's part
    of Redis: each test starts with no count, so one test's logins do not throttle the next's."""
    yield
    delete_keys(f"{RUN}:*throttle*")


def wait_for(predicate, timeout=20.0, interval=0.05, message="condition"):
    """Poll until `predicate()` is truthy; the value is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


def all_at_once(function, arguments) -> list[Exception]:
    """Call `function(argument)` for each argument in threads of their own, released together
    (each with its own database connection); the errors they raised."""
    barrier = threading.Barrier(len(arguments))
    errors = []

    def run(argument):
        try:
            barrier.wait()
            function(argument)
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(argument,)) for argument in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def child_database_url() -> str:
    """The URL of the test database, for processes the tests start."""
    db = connection.settings_dict
    auth = quote(db["USER"] or "")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"])
    host = db["HOST"] or "127.0.0.1"
    return f"postgres://{auth}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_process(name: str, argv: list[str], ready: str, timeout: float = 60.0, **env):
    """Start a project process against the test database; wait for `ready` in its log.

    `env` adds to this process's environment; a variable given as None is left out.
    """
    LOGS.mkdir(parents=True, exist_ok=True)
    log_path = LOGS / f"{RUN}-{name}.log"
    with log_path.open("w") as log:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            argv,
            env={
                name: value
                for name, value in {
                    **os.environ,
                    "DATABASE_URL": child_database_url(),
                    **env,
                }.items()
                if value is not None
            },
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(
            lambda: process.poll() is not None or ready in log_path.read_text(),
            timeout=timeout,
            message=f"{name} to start",
        )
    finally:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited early:\n{log_path.read_text()[-4000:]}")
    process.log_path = log_path
    return process


def stop_process(process, timeout=15):
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


QUEUES = ("locks", "allocation", "notifications")  # in the Procfile's order
_session_worker = []  # the worker process, once a test has started it


@pytest.fixture(scope="session")
def _worker_process(django_db_setup, django_db_blocker):
    from workers import app

    with app.connection_for_write() as conn:
        for queue in QUEUES:
            conn.default_channel.queue_purge(queue)
    # Its metrics, from all its pool processes, on a port of its own (api/metrics.py).
    metrics_dir = LOGS.parent / "test-metrics" / RUN
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    metrics_port = free_port()
    worker = start_process(
        "worker",
        [
            sys.executable, "-m", "celery", "-A", "workers", "worker",
            "-Q", ",".join(QUEUES), "--concurrency", "2",
            "--hostname", f"{RUN}@%h", "--without-gossip", "--without-mingle",
            "--loglevel", "INFO",
        ],
        ready="ready.",
        METRICS_PORT=str(metrics_port),
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    )  # fmt: skip
    worker.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    _session_worker.append(worker)
    yield worker
    _session_worker.clear()
    stop_process(worker)
    shutil.rmtree(metrics_dir, ignore_errors=True)


@pytest.fixture
def celery_worker(_worker_process):
    """A real Celery worker (prefork, 2 processes) on all three queues, against the test DB.

    Tests that use it need `transactional_db`: the worker sees only committed rows.
    """
    return _worker_process


def worker_may_be_busy(request) -> bool:
    """Whether the session's worker may be running tasks that this test's commits queued."""
    marker = request.node.get_closest_marker("django_db")
    transactional = "transactional_db" in request.fixturenames or bool(
        marker and marker.kwargs.get("transaction")
    )
    return transactional and bool(_session_worker)


@pytest.fixture(autouse=True)
def _worker_idle_after_each_test(request):
    """Once the worker runs, any transactional test may have queued tasks for it (a committed
    booking queues its emails): wait for it to fall idle, so that none of them runs into the
    database flush after the test, or into the next test."""
    yield
    if worker_may_be_busy(request):
        wait_until_idle(_session_worker[0])


def wait_until_idle(worker, timeout=30.0):
    from workers import app

    inspector = app.control.inspect(destination=[f"{RUN}@{socket.gethostname()}"], timeout=1.0)

    def idle():
        with app.connection_for_write() as conn:
            # The channel adds the key prefix itself and counts every priority.
            queued = sum(conn.default_channel._size(q) for q in QUEUES)
        if queued:
            return False
        busy = [*(inspector.active() or {}).values(), *(inspector.reserved() or {}).values()]
        return all(not tasks for tasks in busy)

    # Twice in a row: a task that just finished may have queued another.
    wait_for(lambda: idle() and idle(), timeout=timeout, interval=0.2, message="an idle worker")
