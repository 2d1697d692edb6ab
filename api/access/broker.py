"""The broker's accounts: Mosquitto 2's dynamic-security plugin.

The protocol's ACL as the plugin's roles (one per lock, one for the backend, one for the admin),
the plugin's initial file and the broker's configuration (`broker_config`, with every enrolled
lock's account), and the commands on `$CONTROL/dynamic-security/v1` that create, re-key and
delete a lock's account at once (`broker_sync` makes the broker's lock accounts match the
enrolled locks, after drift).

A lock's password is derived from the backend's signing key and a salt kept on the lock's row, so
the database alone never yields it, and a new broker gets every account back without asking a
single lock to change its password. Rotating the signing key means enrolling every lock again
anyway (they trust its public key), so the passwords change with it.
"""

import base64
import hashlib
import hmac
import json
import logging
import os
import pwd
import queue
import secrets
import threading
from pathlib import Path

from django.conf import settings

from api.access.models import Lock
from devices import protocol
from devices.mqtt import broker_address, connect_and_wait, make_client

log = logging.getLogger(__name__)

CONTROL = "$CONTROL/dynamic-security/v1"
RESPONSE = f"{CONTROL}/response"
ADMIN_ROLE = "flexispace-admin"
BACKEND_ROLE = "flexispace-backend"
LOCK_ROLE_PREFIX = "flexispace-lock-"
TIMEOUT = 10.0
# The plugin writes its whole file after each change, so a large fleet's commands slow down as
# it grows (10,000 accounts take minutes): an answer may take this long.
ANSWER_TIMEOUT = 120.0
# Commands per control message when a whole fleet is synchronised.
CHUNK = 100
# Mosquitto's own hash for the plugin's file: PBKDF2-HMAC-SHA512, 64 bytes, a 12-byte salt.
HASH_ITERATIONS = 101


class BrokerError(RuntimeError):
    """The broker's admin account could not do what was asked."""


# --- passwords --------------------------------------------------------------------------------


def new_salt() -> str:
    return secrets.token_hex(16)


def lock_password(lock_id: str, salt: str) -> str:
    """The lock's MQTT password: an HMAC of its id and salt under the backend's key."""
    return _lock_password(_password_key(), lock_id, salt)


def enrolled_passwords() -> tuple[dict[str, str], list[str]]:
    """Every enrolled lock's password ({lock id: password}), and the ids of the locks enrolled
    before passwords were derived (no salt on the row), whose passwords only a broker knows."""
    locks = dict(Lock.objects.values_list("id", "password_salt"))
    key = _password_key()
    passwords = {i: _lock_password(key, i, salt) for i, salt in locks.items() if salt}
    return passwords, sorted(i for i, salt in locks.items() if not salt)


def _password_key() -> bytes:
    from api.access.services import private_key_bytes

    return hmac.new(private_key_bytes(), b"flexispace mqtt lock passwords", hashlib.sha256).digest()


def _lock_password(key: bytes, lock_id: str, salt: str) -> str:
    digest = hmac.new(key, f"{lock_id}:{salt}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _hashed(password: str) -> dict:
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, HASH_ITERATIONS, 64)
    return {
        "password": base64.b64encode(digest).decode(),
        "salt": base64.b64encode(salt).decode(),
        "iterations": HASH_ITERATIONS,
    }


# --- the protocol's ACL -----------------------------------------------------------------------


def _acl(acltype: str, topic: str) -> dict:
    return {"acltype": acltype, "topic": topic, "allow": True, "priority": 0}


def _lock_role_name(lock_id: str) -> str:
    return f"{LOCK_ROLE_PREFIX}{lock_id}"


def lock_role(root: str, lock_id: str) -> dict:
    """A lock reads only its own desired and cmd, and writes only its own topics."""
    return {
        "rolename": _lock_role_name(lock_id),
        "acls": [
            *(_acl("subscribeLiteral", protocol.topic(root, lock_id, k)) for k in protocol.TO_LOCK),
            *(
                _acl("publishClientSend", protocol.topic(root, lock_id, kind))
                for kind in protocol.FROM_LOCK
            ),
        ],
    }


def backend_role(root: str) -> dict:
    """Only the backend writes desired and cmd, and only it reads what the locks write (and the
    retained desired states, to restore one that is not its own)."""
    return {
        "rolename": BACKEND_ROLE,
        "acls": [
            *(_acl("publishClientSend", protocol.subscription(root, k)) for k in protocol.TO_LOCK),
            *(
                _acl("subscribePattern", protocol.subscription(root, kind))
                for kind in (*protocol.FROM_LOCK, "desired")
            ),
        ],
    }


def admin_role() -> dict:
    return {
        "rolename": ADMIN_ROLE,
        "acls": [
            _acl("publishClientSend", f"{CONTROL}/#"),
            _acl("publishClientReceive", f"{CONTROL}/#"),
            _acl("subscribePattern", f"{CONTROL}/#"),
        ],
    }


# --- the broker's configuration (broker_config) -----------------------------------------------


def account(url: str, variable: str) -> tuple[str, str]:
    """(username, password) of an mqtt:// URL; ValueError naming the variable without both."""
    if not url:
        raise ValueError(f"{variable} is unset: it names an account, mqtt://user:password@host")
    _, _, _, username, password = broker_address(url)
    if not username or not password:
        raise ValueError(f"{variable} has no user and password (mqtt://user:password@host)")
    return username, password


def security_file(
    admin: tuple[str, str], backend: tuple[str, str], root: str, locks: dict[str, str]
) -> dict:
    """The plugin's initial file: deny by default, the admin and the backend accounts, and each
    lock's of `locks` ({lock id: password}) with its role.

    The locks go in the file rather than through the admin's commands because the plugin
    rewrites its whole file after every command: a fleet of 10,000 created one by one takes
    many minutes, written here it takes a second.
    """
    return {
        "defaultACLAccess": {
            "publishClientSend": False,
            "publishClientReceive": True,
            "subscribe": False,
            "unsubscribe": True,
        },
        "clients": [
            {"username": admin[0], "roles": [{"rolename": ADMIN_ROLE}], **_hashed(admin[1])},
            {"username": backend[0], "roles": [{"rolename": BACKEND_ROLE}], **_hashed(backend[1])},
            *(
                {
                    "username": lock_id,
                    "roles": [{"rolename": _lock_role_name(lock_id)}],
                    **_hashed(password),
                }
                for lock_id, password in locks.items()
            ),
        ],
        "groups": [],
        "roles": [admin_role(), backend_role(root), *(lock_role(root, i) for i in locks)],
    }


def mosquitto_conf(directory: Path, port: int, bind: str, plugin: str) -> str:
    return f"""\
# Written by `python manage.py broker_config`: the lock broker of docs/lock-protocol.md
# ("Broker access (production)"). Run it with `mosquitto -c {directory}/mosquitto.conf`.
listener {port} {bind}
# Every client logs in: the locks as themselves, the backend and the admin with their accounts.
allow_anonymous false
plugin {plugin}
plugin_opt_config_file {directory}/dynamic-security.json

# Lock commands and acknowledgements are small and latency matters more than packet count.
set_tcp_nodelay true
# The gateway acknowledges a message only once it is committed, so a boundary's reports are in
# flight to it together; Mosquitto's defaults (20 in flight, 1,000 queued, then QoS 1 messages
# dropped silently) would throttle it or lose them.
max_inflight_messages 0
max_queued_messages 100000

# Retained desired states and persistent sessions survive a restart.
persistence true
persistence_location {directory}/
autosave_interval 60
log_dest stdout
"""


def write_config(
    directory: Path, port: int, bind: str, plugin: str, locks: dict[str, str]
) -> list[Path]:
    """mosquitto.conf and the plugin's file in `directory`, with the accounts of the admin, the
    backend and `locks` ({lock id: password})."""
    admin = account(settings.MQTT_ADMIN_URL, "MQTT_ADMIN_URL")
    backend = account(settings.MQTT_URL, "MQTT_URL")
    if admin[0] == backend[0]:
        raise ValueError("MQTT_ADMIN_URL and MQTT_URL must name two different accounts")
    directory.mkdir(parents=True, exist_ok=True)
    security = directory / "dynamic-security.json"
    config = directory / "mosquitto.conf"
    security.write_text(json.dumps(security_file(admin, backend, settings.MQTT_TOPIC_ROOT, locks)))
    security.chmod(0o600)  # password hashes
    config.write_text(mosquitto_conf(directory, port, bind, plugin))
    _give_to_the_broker([directory, config, security])
    return [config, security]


def _give_to_the_broker(paths: list[Path]) -> None:
    """Started as root, Mosquitto runs as its own user: that user must read the files and
    write the directory (persistence, and the plugin saves every account change)."""
    if os.geteuid() != 0:
        return
    try:
        user = pwd.getpwnam("mosquitto")
    except KeyError:
        return  # no such user here (a container's entrypoint hands them over itself)
    for path in paths:
        os.chown(path, user.pw_uid, user.pw_gid)


# --- the admin account, live ------------------------------------------------------------------


def enabled() -> bool:
    return bool(settings.MQTT_ADMIN_URL)


class Admin:
    """A connection of the admin account that runs dynamic-security commands and checks the
    broker's answer to each."""

    def __init__(self):
        username, _ = account(settings.MQTT_ADMIN_URL, "MQTT_ADMIN_URL")
        name = f"{settings.NAMESPACE}-{username}-{secrets.token_hex(4)}"[:64]
        self.client, address = make_client(name, url=settings.MQTT_ADMIN_URL)
        self.responses: queue.SimpleQueue = queue.SimpleQueue()
        self.client.on_message = lambda c, u, message: self.responses.put(message.payload)
        try:
            connect_and_wait(self.client, address)
        except (ConnectionError, OSError) as error:
            raise BrokerError(f"the broker's admin account cannot connect: {error}") from None
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.subscribe(RESPONSE, qos=1)
        if not subscribed.wait(TIMEOUT):
            self.close()
            raise BrokerError("the broker did not answer the admin's subscription")

    def __enter__(self) -> "Admin":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def run(self, commands: list[dict], tolerate: tuple[str, ...] = ()) -> list[dict]:
        """Run the commands; BrokerError for any that failed, unless its error is tolerated."""
        answers = []
        for start in range(0, len(commands), CHUNK):
            answers += self._run(commands[start : start + CHUNK], tolerate)
        return answers

    def _run(self, commands: list[dict], tolerate: tuple[str, ...]) -> list[dict]:
        tag = secrets.token_hex(8)
        tagged = [
            {**command, "correlationData": f"{tag}-{n}"} for n, command in enumerate(commands)
        ]
        info = self.client.publish(CONTROL, json.dumps({"commands": tagged}), qos=1)
        try:
            info.wait_for_publish(TIMEOUT)
        except (ValueError, RuntimeError) as error:
            raise BrokerError(f"the broker did not take the admin's commands: {error}") from None
        answers: dict[str, dict] = {}
        while len(answers) < len(tagged):
            try:
                payload = self.responses.get(timeout=ANSWER_TIMEOUT)
            except queue.Empty:
                raise BrokerError("the broker did not answer the admin's commands") from None
            for answer in json.loads(payload).get("responses", []):
                if str(answer.get("correlationData", "")).startswith(f"{tag}-"):
                    answers[answer["correlationData"]] = answer
        ordered = [answers[command["correlationData"]] for command in tagged]
        for command, answer in zip(tagged, ordered, strict=True):
            error = answer.get("error")
            if error and not any(text in error for text in tolerate):
                raise BrokerError(f"{command['command']}: {error}")
        return ordered


def _lock_commands(lock_id: str, password: str) -> list[dict]:
    role = lock_role(settings.MQTT_TOPIC_ROOT, lock_id)
    return [
        {"command": "createRole", **role},
        {
            "command": "createClient",
            "username": lock_id,
            "password": password,
            "roles": [{"rolename": role["rolename"]}],
        },
    ]


def create_lock(lock_id: str, password: str) -> None:
    with Admin() as admin:
        admin.run(_lock_commands(lock_id, password))
    log.info("broker account of lock %s created", lock_id)


def set_lock_password(lock_id: str, password: str) -> None:
    with Admin() as admin:
        admin.run([{"command": "setClientPassword", "username": lock_id, "password": password}])
        # The plugin keeps a connected client's session: end it, so the old password's
        # connection goes now (the lock reconnects with the new one).
        admin.run([{"command": "disableClient", "username": lock_id}])
        admin.run([{"command": "enableClient", "username": lock_id}])
    log.info("broker password of lock %s changed", lock_id)


def delete_lock(lock_id: str) -> None:
    with Admin() as admin:
        admin.run(_delete_commands(lock_id), tolerate=("not found",))
    log.info("broker account of lock %s deleted", lock_id)


def _delete_commands(lock_id: str) -> list[dict]:
    return [
        {"command": "deleteClient", "username": lock_id},
        {"command": "deleteRole", "rolename": _lock_role_name(lock_id)},
    ]


def sync(passwords: dict[str, str]) -> dict[str, int]:
    """Make the broker's lock accounts exactly `passwords` ({lock id: password}): create the
    missing, delete the others, and put right what drifted on the rest (password, role, ACL)
    without disconnecting them."""
    root = settings.MQTT_TOPIC_ROOT
    with Admin() as admin:
        [listing] = admin.run([{"command": "listRoles", "verbose": False, "count": -1}])
        on_broker = {
            name[len(LOCK_ROLE_PREFIX) :]
            for name in listing.get("data", {}).get("roles", [])
            if name.startswith(LOCK_ROLE_PREFIX)
        }
        extra = sorted(on_broker - set(passwords))
        admin.run(
            [command for lock_id in extra for command in _delete_commands(lock_id)],
            tolerate=("not found",),
        )
        present = sorted(set(passwords) & on_broker)
        clients = admin.run(
            [{"command": "getClient", "username": lock_id} for lock_id in present],
            tolerate=("not found",),
        )
        roles = admin.run([{"command": "getRole", "rolename": _lock_role_name(i)} for i in present])
        kept, repairs = [], []
        for lock_id, client, role in zip(present, clients, roles, strict=True):
            if client.get("error"):
                continue  # a role without its client: made again below
            kept.append(lock_id)
            repairs += _repairs(root, lock_id, passwords[lock_id], client, role)
        admin.run(repairs)
        # Accounts missing, or half there: made again from nothing.
        missing = sorted(set(passwords) - set(kept))
        admin.run(
            [command for lock_id in missing for command in _delete_commands(lock_id)],
            tolerate=("not found",),
        )
        admin.run([command for i in missing for command in _lock_commands(i, passwords[i])])
    return {"created": len(missing), "deleted": len(extra), "kept": len(kept)}


def _repairs(root: str, lock_id: str, password: str, client: dict, role: dict) -> list[dict]:
    """The commands that give an existing lock account its password, role and ACL again."""
    wanted = lock_role(root, lock_id)
    name = wanted["rolename"]
    have = {(a["acltype"], a["topic"]) for a in role["data"]["role"].get("acls", []) if a["allow"]}
    want = {(a["acltype"], a["topic"]) for a in wanted["acls"]}
    denied = {(a["acltype"], a["topic"]) for a in role["data"]["role"].get("acls", [])} - have
    commands = [
        {"command": "removeRoleACL", "rolename": name, "acltype": acltype, "topic": topic}
        for acltype, topic in sorted((have - want) | denied)
    ]
    commands += [
        {"command": "addRoleACL", "rolename": name, **_acl(acltype, topic)}
        for acltype, topic in sorted(want - have)
    ]
    commands.append({"command": "setClientPassword", "username": lock_id, "password": password})
    held = {r["rolename"] for r in client["data"]["client"].get("roles", [])}
    if name not in held:
        commands.append({"command": "addClientRole", "username": lock_id, "rolename": name})
    return commands
