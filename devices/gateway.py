"""The MQTT gateway: ingests what the locks send and records it through the access services.

The network thread only puts each message on an in-process queue, so the broker always sees a
subscriber that keeps up. The main loop takes messages in batches, checks each against the
protocol's limits before anything touches the database, and calls the services: presence,
applied versions and grant states are recorded at once; the check-in and everything after it
go to the workers. The loop holds no rules.

Nothing a client sends can stop it: a message that breaks the protocol is logged (truncated)
and dropped; one the database still refuses is dropped alone (each message has its own
savepoint); a database error (a restarted server, a terminated connection) closes the
connection, waits and takes the same batch again. A message is acknowledged to the broker only
once what it carried is committed (paho's manual acknowledgement, on a persistent session), so
a gateway that dies loses nothing: the broker delivers again what was not acknowledged.
"""

import logging
import queue
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    transaction,
)
from django.utils import timezone

from devices import metrics, protocol
from devices.mqtt import connect_and_wait, make_client

log = logging.getLogger("gateway")

BATCH = 1000
# How much of a dropped payload the log shows.
SHOWN = 200
RETRY_AFTER = (0.5, 1, 2, 5)
# Seconds after a (re)connect, and an empty inbox, before looking for missing retained states.
AUDIT_AFTER = 5.0


@dataclass
class Inbound:
    topic: str
    payload: bytes
    mid: int
    qos: int
    # Set only on a retained message sent because the gateway subscribed (MQTT 3.1.1 clears it
    # on messages passed on live).
    retained: bool = False


class Gateway:
    def __init__(self, root: str | None = None, client_id: str | None = None):
        self.root = root or settings.MQTT_TOPIC_ROOT
        self.client_id = client_id or f"{settings.NAMESPACE}-gateway"[:64]
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.stopping = threading.Event()
        self.handled = 0
        self.ignored = 0
        # The highest genuine version seen on each lock's desired topic (replays are lower).
        self.desired_seen: dict[str, int] = {}
        # After each (re)connect: the locks whose retained desired state arrived, and when to
        # look for those whose did not (a broker restarted from an older save lost it).
        self.desired_heard: set[str] = set()
        self.audit_at: float | None = None

    def run(self) -> None:
        # A persistent session: what the locks send while the gateway restarts waits for it.
        client, address = make_client(self.client_id, clean_session=False)
        client.manual_ack_set(True)
        client.reconnect_delay_set(min_delay=1, max_delay=10)
        client.on_connect = self._on_connect
        client.on_message = lambda c, u, m: self.inbox.put(
            Inbound(m.topic, m.payload, m.mid, m.qos, m.retain)
        )
        connect_and_wait(client, address, keepalive=30)
        log.info("gateway subscribed to %s/locks/+/{%s}", self.root, ",".join(self.kinds))
        try:
            while not self.stopping.is_set():
                batch = self._take()
                metrics.INBOX.set(self.inbox.qsize())
                if batch and self._handle_until_committed(batch):
                    for message in batch:
                        if message.qos:
                            client.ack(message.mid, message.qos)
                if not batch and self.audit_at is not None and time.monotonic() > self.audit_at:
                    self._audit_retained()
        finally:
            client.disconnect()
            client.loop_stop()

    @property
    def kinds(self) -> tuple[str, ...]:
        # The locks' topics, and their retained desired states (to restore one not ours).
        return (*protocol.FROM_LOCK, "desired")

    def stop(self) -> None:
        self.stopping.set()

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if not reason_code.is_failure:
            self.desired_heard = set()
            self.audit_at = time.monotonic() + AUDIT_AFTER
            client.subscribe([(protocol.subscription(self.root, kind), 1) for kind in self.kinds])

    def _audit_retained(self) -> None:
        """Once the retained states of a new connection are in (the inbox is empty): publish
        again to every published lock whose topic had none."""
        from api.access import services

        try:
            services.restore_missing_desired(self.desired_heard)
        except (OperationalError, InterfaceError) as error:
            log.error("database error, the retained states checked later: %s", error)
            connection.close()
            return
        self.audit_at = None

    def _take(self) -> list[Inbound]:
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

    def _handle_until_committed(self, batch: list[Inbound]) -> bool:
        """Record the batch, as often as it takes; False only when stopping first."""
        for attempt in range(1_000_000):
            if self.stopping.is_set() and attempt:
                return False
            try:
                close_old_connections()
                with metrics.BATCH_SECONDS.time():
                    self.handle(batch)
                return True
            except (OperationalError, InterfaceError) as error:
                delay = RETRY_AFTER[min(attempt, len(RETRY_AFTER) - 1)]
                log.error("database error, the batch again in %s s: %s", delay, error)
                connection.close()
                time.sleep(delay)
        return False

    def handle(self, batch: list[Inbound]) -> None:
        """Check and record a batch of messages, in arrival order, in one transaction."""
        from api.access import services
        from api.access.models import Lock

        now = timezone.now()
        parsed = []
        for message in batch:
            checked = self.check(message.topic, message.payload, message.retained)
            if checked is not None:
                parsed.append(checked)
        known = set(
            Lock.objects.filter(id__in={lock_id for lock_id, _, _ in parsed}).values_list(
                "id", flat=True
            )
        )
        with transaction.atomic():
            seen = set()
            reports = []
            statuses: dict[str, bool] = {}
            desired = []  # (lock id, payload, retained)
            for lock_id, kind, message in parsed:
                if lock_id not in known:
                    if kind != "desired":
                        self._ignore(kind, "not_enrolled", "a %s message from %s, which is not "
                                     "enrolled", kind, lock_id, lock_id=lock_id)  # fmt: skip
                    continue
                if kind == "reported":
                    reports.append((lock_id, message))
                elif kind == "status":
                    statuses.pop(lock_id, None)  # the newest last: dicts keep insertion order
                    statuses[lock_id] = message["online"]
                elif kind == "desired":
                    self.desired_heard.add(lock_id)
                    desired.append((lock_id, *message))
                elif self._record_alone(lock_id, kind, message, now):
                    seen.add(lock_id)
            self._together(
                desired,
                lambda states: services.restore_desired_states(states, self.desired_seen),
                "desired",
            )
            self._together(
                list(statuses.items()),
                lambda pairs: self._record_statuses(dict(pairs), now),
                "status",
            )
            recorded = self._together(reports, lambda r: self._record_reports(r, now), "reported")
            seen.update(lock_id for lock_id, _ in recorded)
            services.record_seen(seen, now)

    def _together(self, items: list[tuple], record, kind: str) -> list[tuple]:
        """Record messages of one kind ((lock id, ...) each) with one call, in a savepoint;
        should the database refuse, each alone, so that only the message it refuses is lost.
        Returns those recorded."""
        if not items:
            return []
        if self._alone(lambda: record(items), kind=kind):
            return items
        return [item for item in items if self._alone(lambda i=item: record([i]), item[0], kind)]

    def _record_statuses(self, statuses: dict[str, bool], now) -> None:
        from api.access import services

        services.record_statuses(statuses, now)
        for _ in statuses:
            self.handled += 1
            metrics.MESSAGES.labels(kind="status", outcome="recorded").inc()

    def _record_reports(self, reports, now) -> None:
        from api.access import services

        services.record_reports(reports, now)
        for _ in reports:
            self.handled += 1
            metrics.MESSAGES.labels(kind="reported", outcome="recorded").inc()

    def _record_alone(self, lock_id: str, kind: str, message, now) -> bool:
        return self._alone(lambda: self._record(lock_id, kind, message, now), lock_id, kind)

    def _alone(self, record, lock_id: str | None = None, kind: str = "reported") -> bool:
        """Run `record` in a savepoint of its own; a database refusal drops only it."""
        try:
            with transaction.atomic():
                record()
            return True
        except (OperationalError, InterfaceError):
            raise  # the connection, not the message: the batch again
        except DatabaseError as error:
            self._ignore(kind, "refused", "a %s message the database refused: %s", kind,
                         str(error)[:SHOWN], lock_id=lock_id)  # fmt: skip
            return False

    def _record(self, lock_id: str, kind: str, message, now) -> None:
        from api.access import services

        if kind == "ack":
            services.record_ack(lock_id, message, now)
        elif kind == "events":
            event = services.record_event(lock_id, message)
            if event is not None:
                log.info(
                    "lock %s: %s %s%s", lock_id, event.type, event.result,
                    f" (grant {event.grant_id})" if event.grant_id else "",
                    extra={"lock_id": lock_id, "grant_id": event.grant_id or None},
                )  # fmt: skip
        self.handled += 1
        metrics.MESSAGES.labels(kind=kind, outcome="recorded").inc()

    def check(
        self, name: str, payload: bytes, retained: bool = False
    ) -> tuple[str, str, dict | tuple[bytes, bool]] | None:
        """(lock id, kind, message) of a valid message, or None (logged) for anything else.

        A desired state is passed on as its payload and whether it was the retained one: the
        services judge whether it is ours.
        """
        where = protocol.parse_topic(self.root, name)
        if where is None or where[1] not in self.kinds:
            self._ignore("unknown", "topic", "a message on %s", name[:SHOWN])
            return None
        lock_id, kind = where
        if kind == "desired":
            return lock_id, kind, (payload, retained)
        if not payload:
            return None  # a retained message being cleared
        try:
            message = protocol.validate_from_lock(kind, protocol.decode(payload))
        except protocol.InvalidMessage as error:
            self._ignore(kind, "invalid", "an invalid %s message on %s: %s; payload %r", kind,
                         name, error, payload[:SHOWN], lock_id=lock_id)  # fmt: skip
            return None
        if message["lock_id"] != lock_id:
            self._ignore(kind, "impostor", "a %s message on %s that claims to be from lock %s",
                         kind, name, message["lock_id"], lock_id=lock_id)  # fmt: skip
            return None
        return lock_id, kind, message

    def _ignore(self, kind: str, outcome: str, text: str, *args, lock_id=None) -> None:
        self.ignored += 1
        metrics.MESSAGES.labels(kind=kind, outcome=outcome).inc()
        log.warning(f"ignored {text}", *args, extra={"lock_id": lock_id})


def run_forever() -> None:
    gateway = Gateway()
    while True:
        try:
            gateway.run()
            return
        except ConnectionError as error:
            log.error("%s; trying again in 5 s", error)
            time.sleep(5)
