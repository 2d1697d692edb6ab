"""Locks for the access tests: each with an id of its own run, so runs sharing a broker never
share a client id or a topic; the simulated fleet in-process, the gateway as its process."""

import itertools
import sys

import pytest
from django.conf import settings

from api.access import services
from devices.simulator import Fleet, VirtualLock
from tests.conftest import free_port, start_process, stop_process
from tests.factories import SpaceFactory
from tests.settings import RUN

_numbers = itertools.count(1)


def new_lock_id() -> str:
    return f"{RUN}-lock-{next(_numbers)}"


def enrol(space=None):
    lock, _password = services.enrol_lock(new_lock_id(), space or SpaceFactory())
    return lock


@pytest.fixture
def fleet(tmp_path):
    fleet = Fleet(settings.MQTT_TOPIC_ROOT, keepalive=10).start()
    fleet.state_dir = tmp_path
    yield fleet
    fleet.stop(forget=True)


def join(fleet, lock) -> VirtualLock:
    """Put a virtual lock for `lock` into the fleet."""
    virtual = VirtualLock(
        lock.id, services.public_key(), settings.LOCK_SIGNING_KID, state_dir=fleet.state_dir
    )
    fleet.add(virtual)
    return virtual


@pytest.fixture
def gateway(celery_worker):
    port = free_port()
    process = start_process(
        "gateway",
        [sys.executable, "manage.py", "gateway"],
        ready="gateway subscribed",
        METRICS_PORT=str(port),
    )
    process.metrics_url = f"http://127.0.0.1:{port}/metrics"
    yield process
    stop_process(process)
