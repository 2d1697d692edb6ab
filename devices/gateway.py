"""The MQTT gateway: ingests what the locks send and records it through the access services.

The network thread only puts each message on an in-process queue, so the broker always sees a
subscriber that keeps up (a stock Mosquitto drops QoS 1 messages to one 1,000 behind). The main
loop takes messages in batches, checks them, and calls the services: presence, applied versions
and grant states are recorded at once; the check-in and everything after it go to the workers.
The loop holds no rules.
"""

import logging
import queue
import threading
import time

from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connection
from django.utils import timezone

from devices import metrics, protocol
from devices.mqtt import connect_and_wait, make_client

log = logging.getLogger("gateway")

BATCH = 1000
# Waits between attempts at a batch the database failed: doubling, up to the maximum.
RETRY_FIRST, RETRY_MAX = 0.5, 10.0


class Gateway:
    def __init__(self, root: str | None = None, client_id: str | None = None):
        self.root = root or settings.MQTT_TOPIC_ROOT
        self.client_id = client_id or f"{settings.NAMESPACE}-gateway"[:64]
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.stopping = threading.Event()
        self.handled = 0
        self.ignored = 0

    def run(self) -> None:
        # A persistent session: what the locks send while the gateway restarts waits for it.
        client, address = make_client(self.client_id, clean_session=False)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_connect = self._on_connect
        client.on_message = lambda c, u, message: self.inbox.put((message.topic, message.payload))
        connect_and_wait(client, address, keepalive=30)
        log.info("gateway subscribed to %s/locks/+/{%s}", self.root, ",".join(protocol.FROM_LOCK))
        try:
            while not self.stopping.is_set():
                batch = self._take()
                metrics.INBOX.set(self.inbox.qsize())
                if batch:
                    self.record(batch)
        finally:
            client.disconnect()
            client.loop_stop()

    def stop(self) -> None:
        self.stopping.set()

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if not reason_code.is_failure:
            client.subscribe(
                [(protocol.subscription(self.root, kind), 1) for kind in protocol.FROM_LOCK]
            )

    def _take(self) -> list[tuple[str, bytes]]:
        try:
            batch = [self.inbox.get(timeout=0.5)]
        except queue.Empty:
            return []
        while len(batch) < BATCH:
            try:
                batch.append(self.inbox.get_nowait())
            except queue.Empty:
                break
        return batch

    def record(self, batch: list[tuple[str, bytes]]) -> None:
        """Handle a batch until it is recorded. The broker counts its messages delivered once
        they are in the inbox, so a lost database connection (a restart, a failover, a
        terminated backend) must not drop them: the batch is handled again on a new connection,
        which is safe, as every step is idempotent (versions, event ids, unacked commands)."""
        delay = RETRY_FIRST
        while not self.stopping.is_set():
            close_old_connections()
            try:
                with metrics.BATCH_SECONDS.time():
                    self.handle(batch)
                return
            except (InterfaceError, OperationalError) as error:
                log.warning(
                    "the database failed a batch of %d messages; again in %.1f s: %s",
                    len(batch), delay, error,
                )  # fmt: skip
                connection.close()
                time.sleep(delay)
                delay = min(2 * delay, RETRY_MAX)

    def handle(self, batch: list[tuple[str, bytes]]) -> None:
        """Check and record a batch of messages, in arrival order."""
        from api.access import services
        from api.access.models import Lock

        now = timezone.now()
        parsed = []
        for name, payload in batch:
            message = self.check(name, payload)
            if message is not None:
                parsed.append(message)
        known = set(
            Lock.objects.filter(id__in={lock_id for lock_id, _, _ in parsed}).values_list(
                "id", flat=True
            )
        )
        seen = set()
        reports = []
        for lock_id, kind, message in parsed:
            if lock_id not in known:
                self.ignored += 1
                metrics.MESSAGES.labels(kind=kind, outcome="not_enrolled").inc()
                log.warning(
                    "ignored a %s message from %s, which is not enrolled", kind, lock_id,
                    extra={"lock_id": lock_id},
                )  # fmt: skip
                continue
            if kind == "status":
                services.record_status(lock_id, message["online"], now)
            elif kind == "reported":
                reports.append((lock_id, message))
            elif kind == "ack":
                services.record_ack(lock_id, message, now)
            elif kind == "events":
                event = services.record_event(lock_id, message)
                if event is not None:
                    log.info(
                        "lock %s: %s %s%s", lock_id, event.type, event.result,
                        f" (grant {event.grant_id})" if event.grant_id else "",
                        extra={"lock_id": lock_id, "grant_id": event.grant_id or None},
                    )  # fmt: skip
            if kind != "status":
                seen.add(lock_id)
            self.handled += 1
            metrics.MESSAGES.labels(kind=kind, outcome="recorded").inc()
        # The reports of a batch together: a few statements however many locks reported.
        services.record_reports(reports, now)
        services.record_seen(seen, now)

    def check(self, name: str, payload: bytes) -> tuple[str, str, dict] | None:
        """(lock id, kind, message) of a valid message, or None (logged) for anything else."""
        where = protocol.parse_topic(self.root, name)
        if where is None or where[1] not in protocol.FROM_LOCK:
            self.ignored += 1
            metrics.MESSAGES.labels(kind="unknown", outcome="topic").inc()
            return None
        lock_id, kind = where
        if not payload:
            return None  # a retained message being cleared
        try:
            message = protocol.validate_from_lock(kind, protocol.decode(payload))
        except protocol.InvalidMessage as error:
            self.ignored += 1
            metrics.MESSAGES.labels(kind=kind, outcome="invalid").inc()
            log.warning(
                "ignored an invalid %s message on %s: %s", kind, name, error,
                extra={"lock_id": lock_id},
            )  # fmt: skip
            return None
        if message["lock_id"] != lock_id:
            self.ignored += 1
            metrics.MESSAGES.labels(kind=kind, outcome="impostor").inc()
            log.warning(
                "ignored a %s message on %s that claims to be from lock %s",
                kind, name, message["lock_id"], extra={"lock_id": lock_id},
            )  # fmt: skip
            return None
        return lock_id, kind, message


def run_forever() -> None:
    gateway = Gateway()
    while True:
        try:
            gateway.run()
            return
        except ConnectionError as error:
            log.error("%s; trying again in 5 s", error)
            time.sleep(5)
