"""Mosquitto brokers of the benchmark's own, both from `broker_config`'s configuration: the
production one (accounts and the protocol's ACL, dynamic security) and the same without them
(anonymous, no plugin), so a comparison differs in the access checks alone.

The multiplexed fleet speaks for every lock over one connection; on the production broker it
logs in as an account whose role is the union of the locks' (read any lock's desired and cmd,
write any lock's reported, status, ack and events), so the broker checks every message as it
checks a lock's. Each seeded lock gets its own account too, so the plugin holds a city's worth.
"""

import contextlib
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from api.access import broker
from devices import protocol

FLEET_ROLE = "bench-fleet"


@dataclass
class Broker:
    name: str
    backend_url: str
    fleet_url: str
    admin_url: str | None


@contextlib.contextmanager
def own_broker(acl: bool):
    """A Mosquitto on a free loopback port; yields its Broker, stops and removes it after."""
    port = _free_port()
    directory = Path(tempfile.mkdtemp(prefix="flexispace-bench-broker-"))
    host = f"127.0.0.1:{port}"
    admin = f"mqtt://admin:{secrets.token_urlsafe(12)}@{host}"
    backend = f"mqtt://backend:{secrets.token_urlsafe(12)}@{host}"
    fleet = f"mqtt://bench-fleet:{secrets.token_urlsafe(12)}@{host}"
    saved = settings.MQTT_URL, settings.MQTT_ADMIN_URL
    settings.MQTT_URL, settings.MQTT_ADMIN_URL = backend, admin
    try:
        broker.write_config(directory, port, "127.0.0.1", _plugin())
        config = directory / "mosquitto.conf"
        if not acl:
            lines = config.read_text().splitlines()
            lines = ["allow_anonymous true" if line == "allow_anonymous false" else line
                     for line in lines if not line.startswith("plugin")]  # fmt: skip
            config.write_text("\n".join(lines) + "\n")
        with open(directory / "broker.log", "ab") as log:
            process = subprocess.Popen(
                ["mosquitto", "-c", str(config)], stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        try:
            _wait_for_port(port, process)
            if acl:
                _fleet_account(fleet)
                yield Broker("ACL", backend, fleet, admin)
            else:
                yield Broker("open", f"mqtt://{host}", f"mqtt://{host}", None)
        finally:
            process.terminate()
            process.wait(20)
    finally:
        settings.MQTT_URL, settings.MQTT_ADMIN_URL = saved
        shutil.rmtree(directory, ignore_errors=True)


def lock_accounts(lock_ids: list[str]) -> None:
    """Every seeded lock's account, as broker_sync makes them."""
    broker.sync({lock_id: broker.lock_password(lock_id, "bench") for lock_id in lock_ids})


def _fleet_account(url: str) -> None:
    username, password = broker.account(url, "the fleet's URL")
    root = settings.MQTT_TOPIC_ROOT
    acls = [
        broker._acl("subscribePattern", protocol.subscription(root, k)) for k in protocol.TO_LOCK
    ]
    acls += [
        broker._acl("publishClientSend", protocol.subscription(root, k)) for k in protocol.FROM_LOCK
    ]
    with broker.Admin() as admin:
        admin.run([
            {"command": "createRole", "rolename": FLEET_ROLE, "acls": acls},
            {"command": "createClient", "username": username, "password": password,
             "roles": [{"rolename": FLEET_ROLE}]},
        ])  # fmt: skip


def _plugin() -> str:
    from api.access.management.commands.broker_config import installed_plugin

    plugin = installed_plugin()
    if plugin is None:
        raise RuntimeError("the boundary benchmark needs Mosquitto's dynamic-security plugin")
    return plugin


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mosquitto exited with code {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        time.sleep(0.1)
    raise RuntimeError("mosquitto did not listen within 20 s")
