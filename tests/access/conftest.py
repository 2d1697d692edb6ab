"""Locks for the access tests: each with an id of its own run, so runs sharing a broker never
share a client id or a topic; the simulated fleet in-process, the gateway as its process."""

import io
import itertools
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from api.access import services
from devices.mqtt import close_publisher, connect_and_wait, make_client
from devices.simulator import Fleet, VirtualLock
from tests.conftest import free_port, start_process, stop_process, wait_for
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


def start_gateway(name: str = "gateway", **env):
    """The gateway as its own process, against the test database; `env` adds variables."""
    port = free_port()
    process = start_process(
        name,
        [sys.executable, "manage.py", "gateway"],
        ready="gateway subscribed",
        METRICS_PORT=str(port),
        **env,
    )
    process.metrics_url = f"http://127.0.0.1:{port}/metrics"
    return process


@pytest.fixture
def gateway(celery_worker):
    process = start_gateway()
    yield process
    stop_process(process)


class AclBroker:
    """A Mosquitto of the test's own, run from `broker_config`'s output, which it can kill,
    configure again and start again (the machine's shared broker is never touched)."""

    def __init__(self, directory: Path, port: int, admin_url: str, backend_url: str):
        self.directory = directory
        self.port = port
        self.admin_url = admin_url
        self.backend_url = backend_url
        self.url = f"mqtt://127.0.0.1:{port}"
        self.process = None

    def configure(self, **output) -> None:
        """`broker_config` into the broker's directory (its accounts from the database now)."""
        call_command(
            "broker_config", str(self.directory), "--port", str(self.port), "--force",
            **{"stdout": io.StringIO(), **output},
        )  # fmt: skip

    def start(self) -> None:
        log = open(self.directory / "broker.log", "ab")  # noqa: SIM115 (the child keeps it)
        self.process = subprocess.Popen(
            ["mosquitto", "-c", str(self.directory / "mosquitto.conf")],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_for(self._answers, message="the test's Mosquitto to listen")

    def kill(self) -> None:
        """Gone at once, as a crash: no clean shutdown."""
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError((self.directory / "broker.log").read_text()[-2000:])
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False


@pytest.fixture
def acl_broker(settings):
    """The production broker configuration on a free loopback port; this process's settings
    (and the processes the test starts with `acl_broker_env`) use its accounts."""
    port = free_port()
    # Under /tmp: Mosquitto drops to its own user, which must reach the directory.
    directory = Path(tempfile.mkdtemp(prefix=f"{RUN}-broker-"))
    admin_url = f"mqtt://admin:{secrets.token_urlsafe(12)}@127.0.0.1:{port}"
    backend_url = f"mqtt://backend:{secrets.token_urlsafe(12)}@127.0.0.1:{port}"
    settings.MQTT_URL, settings.MQTT_ADMIN_URL = backend_url, admin_url
    broker = AclBroker(directory, port, admin_url, backend_url)
    broker.configure()
    broker.start()
    close_publisher()
    yield broker
    close_publisher()
    broker.stop()
    shutil.rmtree(directory, ignore_errors=True)


def gateway_on(broker: AclBroker):
    """The gateway on the test's own broker, as the backend account."""
    return start_gateway(MQTT_URL=broker.backend_url, MQTT_ADMIN_URL=broker.admin_url)


def connect_as(broker: AclBroker, username: str | None, password: str | None, **handlers):
    """A connected MQTT client of `username` on the test's broker; ConnectionError if refused."""
    client, address = make_client(
        f"{username or 'anonymous'}-{secrets.token_hex(3)}"[:64],
        url=broker.url,
        username=username or "",
        password=password,
    )
    for name, handler in handlers.items():
        setattr(client, name, handler)
    connect_and_wait(client, address)
    return client
