"""Many simulated locks behind one MQTT connection, for the boundary storm.

Each lock is the simulator's own `VirtualLock` (signature, lock id and version checks, the
reported state it publishes), so every lock answers exactly as the protocol says; only the
transport is shared: one connection subscribes to every lock's `desired` and `cmd` and publishes
each lock's `status`, `reported` and `ack` on that lock's own topics. Ten thousand connections
of their own would cost the 2-core machine more than the backend being measured.

`history[lock]` keeps, for every version a lock applied, when it applied it and published its
report (Unix seconds) and which grants it then held.
"""

import logging
import queue
import threading
import time

from django.conf import settings

from api.access import services
from devices import protocol
from devices.mqtt import connect_and_wait, make_client
from devices.simulator import VirtualLock


class MultiplexedFleet:
    def __init__(self, lock_ids: list[str], url: str | None = None):
        logging.getLogger("simulator").setLevel(logging.WARNING)
        self.root = settings.MQTT_TOPIC_ROOT
        key, kid = services.public_key(), settings.LOCK_SIGNING_KID
        self.locks = {lock_id: VirtualLock(lock_id, key, kid) for lock_id in lock_ids}
        self.history: dict[str, list[tuple[float, frozenset[str]]]] = {i: [] for i in lock_ids}
        self.received = 0
        # The longest a message waited between its arrival and its lock's answer.
        self.max_lag = 0.0
        # The network thread only queues what arrives (a stock Mosquitto drops QoS 1 messages
        # to a subscriber 1,000 behind); one thread of its own answers for the locks.
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.client, self.address = make_client(f"{settings.NAMESPACE}-bench-fleet"[:64], url=url)
        self.client.on_message = lambda c, u, m: self.inbox.put((time.time(), m.topic, m.payload))
        self.worker = threading.Thread(target=self._answer, daemon=True)

    def start(self) -> "MultiplexedFleet":
        self.worker.start()
        connect_and_wait(self.client, self.address)
        for kind in ("desired", "cmd"):
            self.client.subscribe(protocol.subscription(self.root, kind), qos=1)
        for lock in self.locks.values():
            self._publish(lock.lock_id, lock.on_connect())
        return self

    def _answer(self) -> None:
        while True:
            arrived, name, payload = self.inbox.get()
            if name is None:
                return
            parsed = protocol.parse_topic(self.root, name)
            if parsed is None or parsed[0] not in self.locks or not payload:
                continue
            lock_id, kind = parsed
            lock = self.locks[lock_id]
            self.received += 1
            before = lock.applied_version
            out = lock.receive(kind, payload)
            self._publish(lock_id, out)
            if kind == "desired" and lock.applied_version > before:
                grants = frozenset(grant["grant_id"] for grant in lock.grants)
                done = time.time()
                self.history[lock_id].append((done, grants))
                self.max_lag = max(self.max_lag, done - arrived)

    def _publish(self, lock_id: str, outgoing) -> None:
        for item in outgoing:
            self.client.publish(
                protocol.topic(self.root, lock_id, item.kind),
                protocol.encode(item.message),
                qos=1,
                retain=item.retain,
            )

    def holds(self, lock_id: str, grant_id: str) -> bool:
        history = self.history[lock_id]
        return bool(history) and grant_id in history[-1][1]

    def first_held(self, lock_id: str, grant_id: str) -> float | None:
        return next((t for t, grants in self.history[lock_id] if grant_id in grants), None)

    def revoked_at(self, lock_id: str, grant_id: str) -> float | None:
        """When the lock applied (and so reported) a version without a grant it had held."""
        held = False
        for t, grants in self.history[lock_id]:
            if grant_id in grants:
                held = True
            elif held:
                return t
        return None

    def stop(self) -> None:
        """Leave the broker as found: clear every retained message of these locks."""
        self.inbox.put((0.0, None, b""))
        self.worker.join(30)
        infos = [
            self.client.publish(protocol.topic(self.root, lock_id, kind), b"", qos=1, retain=True)
            for lock_id in self.locks
            for kind in ("desired", "reported", "status")
        ]
        deadline = time.monotonic() + 30
        for info in infos:
            info.wait_for_publish(max(0.1, deadline - time.monotonic()))
        self.client.disconnect()
        self.client.loop_stop()
