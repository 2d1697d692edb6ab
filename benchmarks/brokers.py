"""Mosquitto brokers of the benchmark's own, both from `broker_config`'s configuration: the
production one (accounts and the protocol's ACL, dynamic security) and the same without them
(anonymous, no plugin), so a comparison differs in the access checks alone.

The multiplexed fleet speaks for every lock over one connection; on the production broker it
logs in as an account whose role is the union of the locks' (read any lock's desired and cmd,
write any lock's reported, status, ack and events), so the broker checks every message as it
checks a lock's. Every lock enrolled when the broker starts has its own account too, written by
`broker_config`'s code into the plugin's file, so the plugin holds a city's worth.
"""

import contextlib
import json
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


@contextlib.contextmanager
def own_broker(acl: bool):
    """A Mosquitto on a free loopback port; yields its Broker, stops and removes it after. With
    `acl`, the accounts of the locks in the database are in it from the start."""
    port = _free_port()
    directory = Path(tempfile.mkdtemp(prefix="flexispace-bench-broker-"))
    host = f"127.0.0.1:{port}"
    admin = f"mqtt://admin:{secrets.token_urlsafe(12)}@{host}"
    backend = f"mqtt://backend:{secrets.token_urlsafe(12)}@{host}"
    fleet = f"mqtt://bench-fleet:{secrets.token_urlsafe(12)}@{host}"
    saved = settings.MQTT_URL, settings.MQTT_ADMIN_URL
    settings.MQTT_URL, settings.MQTT_ADMIN_URL = backend, admin
    try:
        locks = broker.enrolled_passwords()[0] if acl else {}
        broker.write_config(directory, port, "127.0.0.1", _plugin(), locks)
        config = directory / "mosquitto.conf"
        if acl:
            _fleet_account(directory / "dynamic-security.json", fleet)
        else:
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
                yield Broker("ACL", backend, fleet)
            else:
                yield Broker("open", f"mqtt://{host}", f"mqtt://{host}")
        finally:
            process.terminate()
            process.wait(20)
    finally:
        settings.MQTT_URL, settings.MQTT_ADMIN_URL = saved
        shutil.rmtree(directory, ignore_errors=True)


def _fleet_account(security: Path, url: str) -> None:
    """The fleet's account and role, added to the plugin's file before the broker reads it."""
    username, password = broker.account(url, "the fleet's URL")
    root = settings.MQTT_TOPIC_ROOT
    acls = [
        broker._acl("subscribePattern", protocol.subscription(root, k)) for k in protocol.TO_LOCK
    ]
    acls += [
        broker._acl("publishClientSend", protocol.subscription(root, k)) for k in protocol.FROM_LOCK
    ]
    plugin_file = json.loads(security.read_text())
    plugin_file["roles"].append({"rolename": FLEET_ROLE, "acls": acls})
    plugin_file["clients"].append(
        {"username": username, "roles": [{"rolename": FLEET_ROLE}], **broker._hashed(password)}
    )
    security.write_text(json.dumps(plugin_file))


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
