"""The simulated lock fleet: a faithful lock side of the protocol, without hardware.

`VirtualLock` is the lock's logic alone (no MQTT, no Django): feed it messages, read what it
would publish. `Fleet` runs many of them on one thread, each with its own MQTT connection
(client id = lock id, persistent session, last will), multiplexed with a selector.

Switches for tests and demos, per lock: offline (the connection drops without a DISCONNECT, so
the broker sends the last will), drop (incoming messages are lost), duplicate (every message in
and out twice), reorder (incoming messages swapped pairwise), skew (the lock's clock is off).
"""

import contextlib
import json
import logging
import os
import queue
import selectors
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from devices import protocol

log = logging.getLogger("simulator")

EXECUTED_KEPT = 200
REORDER_HOLD = 1.0
RECONNECT_AFTER = 1.0


@dataclass
class Outgoing:
    kind: str  # reported, status, ack, events
    message: dict
    retain: bool = False


@dataclass
class Switches:
    offline: bool = False
    drop: bool = False
    duplicate: bool = False
    reorder: bool = False
    skew: float = 0.0


class VirtualLock:
    """One lock's firmware logic. Its state (applied version, grants, executed commands) is
    kept in `state_dir/<lock id>.json` across restarts when a directory is given."""

    def __init__(
        self,
        lock_id: str,
        public_key: str,
        kid: str,
        state_dir: Path | None = None,
        clock: Callable[[], datetime] | None = None,
    ):
        self.lock_id = lock_id
        self.public_key = protocol.load_public_key(public_key)
        self.kid = kid
        self.state_file = Path(state_dir) / f"{lock_id}.json" if state_dir else None
        self._clock = clock or (lambda: datetime.now(UTC))
        self.skew = timedelta(0)
        self.applied_version = 0
        self.grants: list[dict] = []
        self.executed: OrderedDict[str, dict] = OrderedDict()
        self.battery = 100
        # Messages the lock refused, with the reason (a real lock might log them).
        self.rejected: list[tuple[str, str]] = []
        self._load()

    # --- time and persistence ---

    def now(self) -> datetime:
        return (self._clock() + self.skew).astimezone(UTC).replace(microsecond=0)

    def _load(self) -> None:
        if self.state_file is None or not self.state_file.exists():
            return
        state = json.loads(self.state_file.read_text())
        self.applied_version = state["applied_version"]
        self.grants = state["grants"]
        self.executed = OrderedDict(state["executed"])

    def _save(self) -> None:
        if self.state_file is None:
            return
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        state = {
            "applied_version": self.applied_version,
            "grants": self.grants,
            "executed": list(self.executed.items()),
        }
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(state))
        os.replace(temporary, self.state_file)

    # --- what the lock publishes ---

    def reported(self) -> Outgoing:
        return Outgoing(
            "reported",
            {
                "schema": protocol.SCHEMA,
                "lock_id": self.lock_id,
                "applied_version": self.applied_version,
                "grant_ids": [grant["grant_id"] for grant in self.grants],
                "clock": protocol.format_time(self.now()),
                "battery": self.battery,
            },
            retain=True,
        )

    def status_online(self) -> Outgoing:
        message = {"schema": protocol.SCHEMA, "lock_id": self.lock_id, "online": True}
        return Outgoing("status", {**message, "at": protocol.format_time(self.now())}, True)

    def last_will(self) -> Outgoing:
        return Outgoing(
            "status", {"schema": protocol.SCHEMA, "lock_id": self.lock_id, "online": False}, True
        )

    def on_connect(self) -> list[Outgoing]:
        return [self.status_online(), self.reported()]

    # --- what the lock receives ---

    def receive(self, kind: str, payload: bytes) -> list[Outgoing]:
        """Handle a message on `desired` or `cmd`; return what the lock publishes in reply."""
        if not payload:
            return []  # a retained message cleared
        try:
            message = protocol.decode(payload)
        except protocol.InvalidMessage as error:
            return self._reject(kind, str(error))
        if not protocol.verify(message, self.public_key, self.kid):
            return self._reject(kind, "bad signature")
        try:
            if kind == "desired":
                if message.get("lock_id") != self.lock_id:
                    return self._reject(kind, f"for another lock ({message.get('lock_id')!r})")
                return self._apply(protocol.validate_desired(message))
            if kind == "cmd":
                return self._execute(protocol.validate_command(message))
        except protocol.InvalidMessage as error:
            return self._reject(kind, str(error))
        return self._reject(kind, "not a topic a lock listens to")

    def _reject(self, kind: str, reason: str) -> list[Outgoing]:
        self.rejected.append((kind, reason))
        log.warning("lock %s ignored a %s message: %s", self.lock_id, kind, reason)
        return []

    def _apply(self, message: dict) -> list[Outgoing]:
        if message["version"] <= self.applied_version:
            return self._reject(
                "desired", f"version {message['version']} is not above {self.applied_version}"
            )
        self.applied_version = message["version"]
        self.grants = [
            {key: grant[key] for key in ("grant_id", "code", "valid_from", "valid_until")}
            for grant in message["grants"]
        ]
        self._save()
        log.info(
            "lock %s applied version %d: %d codes",
            self.lock_id,
            self.applied_version,
            len(self.grants),
        )
        return [self.reported()]

    def _execute(self, message: dict) -> list[Outgoing]:
        cmd_id = message["cmd_id"]
        if cmd_id in self.executed:
            # Executed once already: the same ack again, nothing done twice.
            return [Outgoing("ack", self.executed[cmd_id])]
        now = self.now()
        out = []
        if message["lock_id"] != self.lock_id:
            ok, error = False, "foreign_lock"
        elif protocol.parse_time(message["expires_at"]) < now:
            ok, error = False, "expired"
        elif message["op"] not in protocol.COMMAND_OPS:
            ok, error = False, "unknown_op"
        else:
            ok, error = True, None
            if message["op"] == "unlock_once":
                out.append(self._event({"type": "door", "state": "open"}))
                log.info("lock %s opened once on the backend's command", self.lock_id)
            elif message["op"] == "sync":
                out.append(self.reported())
        ack = {
            "schema": protocol.SCHEMA,
            "lock_id": self.lock_id,
            "cmd_id": cmd_id,
            "ok": ok,
            "error": error,
            "at": protocol.format_time(now),
        }
        self.executed[cmd_id] = ack
        while len(self.executed) > EXECUTED_KEPT:
            self.executed.popitem(last=False)
        self._save()
        return [Outgoing("ack", ack), *out]

    # --- the keypad ---

    def grant_for(self, code: str) -> dict | None:
        """The grant that opens for `code` now, by the lock's own clock."""
        now = self.now()
        for grant in self.grants:
            window = (
                protocol.parse_time(grant["valid_from"]),
                protocol.parse_time(grant["valid_until"]),
            )
            if grant["code"] == code and window[0] <= now < window[1]:
                return grant
        return None

    def try_code(self, code: str) -> Outgoing:
        grant = self.grant_for(code)
        result = "granted" if grant else "denied"
        return self._event(
            {"type": "access", "result": result, "grant_id": grant["grant_id"] if grant else None}
        )

    def _event(self, fields: dict) -> Outgoing:
        return Outgoing(
            "events",
            {
                "schema": protocol.SCHEMA,
                "lock_id": self.lock_id,
                "event_id": protocol.new_id("e"),
                **fields,
                "at": protocol.format_time(self.now()),
            },
        )


@dataclass
class _Visit:
    """A demo visitor who knows a code and tries it at the window's start and after its end."""

    code: str
    valid_from: str
    valid_until: str
    tried: set = field(default_factory=set)


class _Connection:
    def __init__(self, lock: VirtualLock, client, address):
        self.lock = lock
        self.client = client
        self.address = address
        self.switches = Switches()
        self.connected = False
        self.next_attempt = 0.0
        self.held: list[tuple[str, bytes, float]] = []
        self.outbox: list[Outgoing] = []
        self.visits: dict[str, _Visit] = {}


class Fleet:
    """Virtual locks on the real broker, one MQTT connection each, all on one thread."""

    def __init__(
        self,
        root: str,
        url: str | None = None,
        keepalive: int = 60,
        passwords: dict[str, str] | None = None,
        visitors: bool = False,
    ):
        self.root = root
        self.url = url
        self.keepalive = keepalive
        self.passwords = passwords or {}
        self.visitors = visitors
        self.connections: dict[str, _Connection] = {}
        self.selector = selectors.DefaultSelector()
        self.calls: queue.SimpleQueue = queue.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self.selector.register(self._wake_r, selectors.EVENT_READ, None)
        self.running = False
        self.thread: threading.Thread | None = None
        self.on_event: Callable[[str, dict], None] | None = None

    # --- control, from any thread ---

    def start(self) -> "Fleet":
        self.running = True
        self.thread = threading.Thread(target=self.run, name="simulator", daemon=True)
        self.thread.start()
        return self

    def call(self, function: Callable, *args, timeout: float = 10.0):
        """Run `function(*args)` on the fleet's thread and return its result."""
        if self.thread is None or threading.current_thread() is self.thread:
            return function(*args)
        future: Future = Future()
        self.calls.put((future, function, args))
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        return future.result(timeout)

    def add(self, lock: VirtualLock) -> None:
        self.call(self._add, lock)

    def set(self, lock_id: str, **switches) -> None:
        """Turn switches: offline, drop, duplicate, reorder (booleans), skew (seconds)."""
        self.call(self._set, lock_id, switches)

    def try_code(self, lock_id: str, code: str) -> dict:
        """Someone types `code` on the lock's keypad; returns the event the lock logs."""
        return self.call(self._try_code, lock_id, code)

    def lock(self, lock_id: str) -> VirtualLock:
        return self.connections[lock_id].lock

    def connected(self, lock_id: str) -> bool:
        return self.connections[lock_id].connected

    def stop(self, forget: bool = False) -> None:
        """Disconnect every lock (cleanly: no last will). `forget` also ends their sessions on
        the broker and clears their retained topics (for tests)."""
        if self.thread is not None:
            self.call(self._shutdown, forget)
            self.running = False
            self._wake_w.send(b"x")
            self.thread.join(10)
        else:
            self._shutdown(forget)

    # --- the loop ---

    def run(self) -> None:
        last_tick = 0.0
        while self.running:
            for key, mask in self.selector.select(timeout=0.2):
                if key.data is None:
                    with contextlib.suppress(BlockingIOError):
                        self._wake_r.recv(4096)
                    continue
                client = key.data.client
                if mask & selectors.EVENT_READ:
                    client.loop_read()
                if mask & selectors.EVENT_WRITE:
                    client.loop_write()
            while not self.calls.empty():
                future, function, args = self.calls.get()
                try:
                    future.set_result(function(*args))
                except Exception as error:  # handed to the caller
                    future.set_exception(error)
            now = time.monotonic()
            if now - last_tick >= 0.25:
                last_tick = now
                self._tick(now)

    def _tick(self, now: float) -> None:
        for connection in list(self.connections.values()):
            if connection.connected:
                connection.client.loop_misc()
            elif not connection.switches.offline and now >= connection.next_attempt:
                self._connect(connection)
            for kind, payload, since in list(connection.held):
                if now - since >= REORDER_HOLD:
                    connection.held.remove((kind, payload, since))
                    self._deliver(connection, kind, payload)
            if self.visitors:
                self._visit(connection)

    # --- connections ---

    def _add(self, lock: VirtualLock) -> None:
        from devices.mqtt import make_client, no_delay

        if lock.lock_id in self.connections:
            return
        client, address = make_client(
            lock.lock_id,
            url=self.url,
            clean_session=False,
            username=lock.lock_id,
            password=self.passwords.get(lock.lock_id),
        )
        connection = _Connection(lock, client, address)
        will = lock.last_will()
        client.will_set(self._topic(lock.lock_id, "status"), protocol.encode(will.message), 1, True)

        def on_open(client, userdata, sock):
            no_delay(client, userdata, sock)
            self.selector.register(sock, selectors.EVENT_READ, connection)

        def on_close(client, userdata, sock):
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(sock)

        def on_want_write(client, userdata, sock):
            with contextlib.suppress(KeyError, ValueError):
                self.selector.modify(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, connection)

        def on_written(client, userdata, sock):
            with contextlib.suppress(KeyError, ValueError):
                self.selector.modify(sock, selectors.EVENT_READ, connection)

        client.on_socket_open = on_open
        client.on_socket_close = on_close
        client.on_socket_register_write = on_want_write
        client.on_socket_unregister_write = on_written
        client.on_connect = lambda *a: self._on_connect(connection, *a)
        client.on_disconnect = lambda *a: self._on_disconnect(connection)
        client.on_message = lambda c, u, m: self._on_message(connection, m)
        self.connections[lock.lock_id] = connection
        self._connect(connection)

    def _connect(self, connection: _Connection) -> None:
        connection.next_attempt = time.monotonic() + RECONNECT_AFTER
        try:
            host, port = connection.address
            connection.client.connect(host, port, keepalive=self.keepalive)
        except OSError as error:
            log.warning("lock %s cannot reach the broker: %s", connection.lock.lock_id, error)

    def _on_connect(self, connection: _Connection, client, userdata, flags, reason, props):
        if reason.is_failure:
            log.warning("lock %s: the broker refused it: %s", connection.lock.lock_id, reason)
            return
        connection.connected = True
        lock_id = connection.lock.lock_id
        client.subscribe([(self._topic(lock_id, "desired"), 1), (self._topic(lock_id, "cmd"), 1)])
        self._publish(connection, connection.lock.on_connect())
        outbox, connection.outbox = connection.outbox, []
        self._publish(connection, outbox)
        log.info("lock %s connected", lock_id)

    def _on_disconnect(self, connection: _Connection) -> None:
        if connection.connected:
            log.info("lock %s disconnected", connection.lock.lock_id)
        connection.connected = False
        connection.next_attempt = time.monotonic() + RECONNECT_AFTER

    def _drop_connection(self, connection: _Connection) -> None:
        """Lose the connection the way a power cut does: no DISCONNECT, so the will is sent."""
        sock = connection.client.socket()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            connection.client.loop_read()
        connection.connected = False

    def _shutdown(self, forget: bool) -> None:
        from devices.mqtt import make_client

        for connection in self.connections.values():
            connection.switches.offline = True
            if connection.connected:
                if forget:
                    for kind in ("status", "reported"):
                        connection.client.publish(
                            self._topic(connection.lock.lock_id, kind), b"", 1, True
                        )
                connection.client.disconnect()
                connection.client.loop_write()
        if forget:
            for lock_id in self.connections:
                # A clean session under the same id ends the persistent one on the broker.
                client, (host, port) = make_client(
                    lock_id, url=self.url, clean_session=True, username=lock_id,
                    password=self.passwords.get(lock_id),
                )  # fmt: skip
                with contextlib.suppress(OSError):
                    client.connect(host, port)
                    client.loop(0.5)
                    client.disconnect()
        for connection in self.connections.values():
            sock = connection.client.socket()
            if sock is not None:
                with contextlib.suppress(KeyError, ValueError):
                    self.selector.unregister(sock)

    # --- messages ---

    def _on_message(self, connection: _Connection, message) -> None:
        kind = message.topic.rsplit("/", 1)[-1]
        switches = connection.switches
        if switches.drop:
            log.info("lock %s dropped a %s message (switch)", connection.lock.lock_id, kind)
            return
        if switches.reorder:
            if not connection.held:
                connection.held.append((kind, message.payload, time.monotonic()))
                return
            held_kind, held_payload, _ = connection.held.pop(0)
            self._deliver(connection, kind, message.payload)
            self._deliver(connection, held_kind, held_payload)
            return
        self._deliver(connection, kind, message.payload)

    def _deliver(self, connection: _Connection, kind: str, payload: bytes) -> None:
        times = 2 if connection.switches.duplicate else 1
        for _ in range(times):
            self._publish(connection, connection.lock.receive(kind, payload))

    def _publish(self, connection: _Connection, outgoing: list[Outgoing]) -> None:
        for out in outgoing:
            if out.kind == "reported" and self.visitors:
                self._learn_visits(connection, out.message)
            if out.kind == "events" and self.on_event:
                self.on_event(connection.lock.lock_id, out.message)
            if not connection.connected:
                # Offline: kept and sent on reconnect (reported and status are sent anew then).
                if out.kind in ("events", "ack"):
                    connection.outbox.append(out)
                continue
            times = 2 if connection.switches.duplicate else 1
            for _ in range(times):
                connection.client.publish(
                    self._topic(connection.lock.lock_id, out.kind),
                    protocol.encode(out.message),
                    qos=1,
                    retain=out.retain,
                )

    def _topic(self, lock_id: str, kind: str) -> str:
        return protocol.topic(self.root, lock_id, kind)

    # --- switches and the keypad, on the fleet's thread ---

    def _set(self, lock_id: str, switches: dict) -> None:
        connection = self.connections[lock_id]
        for name, value in switches.items():
            if name == "skew":
                connection.lock.skew = timedelta(seconds=value)
            elif not hasattr(connection.switches, name):
                raise ValueError(f"no switch {name!r}")
            if name == "offline" and value and connection.connected:
                self._drop_connection(connection)
            setattr(connection.switches, name, value)
            log.info("lock %s: %s=%s", lock_id, name, value)

    def _try_code(self, lock_id: str, code: str) -> dict:
        connection = self.connections[lock_id]
        out = connection.lock.try_code(code)
        self._publish(connection, [out])
        return out.message

    def _learn_visits(self, connection: _Connection, reported: dict) -> None:
        for grant in connection.lock.grants:
            connection.visits.setdefault(
                grant["grant_id"], _Visit(grant["code"], grant["valid_from"], grant["valid_until"])
            )

    def _visit(self, connection: _Connection) -> None:
        """The demo's visitors: each tries their code as the window opens and after it ends."""
        lock = connection.lock
        now = protocol.format_time(lock.now())
        after_end = protocol.format_time(lock.now() - timedelta(seconds=30))
        for grant_id, visit in list(connection.visits.items()):
            if "start" not in visit.tried and visit.valid_from <= now < visit.valid_until:
                visit.tried.add("start")
                self._visitor_tries(connection, grant_id, visit, "as the window opens")
            elif "end" not in visit.tried and visit.valid_until <= after_end:
                visit.tried.add("end")
                self._visitor_tries(connection, grant_id, visit, "after the window ended")
                del connection.visits[grant_id]

    def _visitor_tries(self, connection: _Connection, grant_id: str, visit: _Visit, when: str):
        event = self._try_code(connection.lock.lock_id, visit.code)
        verdict = "ACCEPTED" if event["result"] == "granted" else "REFUSED"
        log.info(
            "lock %s: visitor of grant %s typed code %s %s (%s .. %s): %s",
            connection.lock.lock_id, grant_id, visit.code, when, visit.valid_from,
            visit.valid_until, verdict,
        )  # fmt: skip
