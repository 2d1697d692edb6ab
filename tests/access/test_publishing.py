"""Publishing never leaks state the database did not commit, the retained desired state is
always the backend's newest, and the lock-side processes outlive their database connections."""

import contextlib
import os
import signal
import sys
import threading
import time

import psycopg
import pytest
from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.db.models import F
from django.utils import timezone

from api.access import services
from api.access.models import Lock, LockEvent
from devices import protocol
from devices.mqtt import NotPublished, connect_and_wait, make_client
from devices.simulator import Fleet, VirtualLock
from tests.access.conftest import enrol, gateway_on, new_lock_id, start_gateway
from tests.access.test_on_the_broker import Listener, topic
from tests.conftest import child_database_url, start_process, stop_process, wait_for
from tests.factories import BookingFactory, SpaceFactory
from tests.settings import RUN

pytestmark = pytest.mark.django_db(transaction=True)


def waiting_for_a_row_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        return cursor.fetchone()[0] > 0


def test_a_change_during_a_publication_gets_a_publication_of_its_own():
    """The publication under way read the grants before this change: it must not absorb it
    (the sweep once left "0 of 100 starting grants" on their locks this way)."""
    lock = enrol(SpaceFactory())
    Lock.objects.filter(pk=lock.pk).update(publish_requested_at=timezone.now())
    publishing, release, changed = threading.Event(), threading.Event(), threading.Event()
    result = []

    def publication():
        # As publish_desired_state does: the row locked, the request cleared, not committed.
        try:
            with transaction.atomic():
                Lock.objects.select_for_update().filter(pk=lock.pk).update(
                    publish_requested_at=None
                )
                publishing.set()
                release.wait(10)
        finally:
            connection.close()

    def change():
        try:
            publishing.wait(10)
            result.extend(services.request_publish([lock.id]))
        finally:
            changed.set()
            connection.close()

    threads = [threading.Thread(target=publication), threading.Thread(target=change)]
    for thread in threads:
        thread.start()
    publishing.wait(10)
    wait_for(
        lambda: changed.is_set() or waiting_for_a_row_lock(),
        message="the change to wait for the publication's row, or to give up",
    )
    release.set()
    for thread in threads:
        thread.join()
    assert result == [lock.id]
    assert Lock.objects.get(pk=lock.pk).publish_requested_at is not None


class RecordingLock(VirtualLock):
    """A virtual lock that remembers every version it applied."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.applied_versions: list[int] = []

    def _apply(self, message):
        out = super()._apply(message)
        if out:
            self.applied_versions.append(message["version"])
        return out


def retained_desired(url_settings) -> dict[str, dict]:
    """The retained desired state of every lock on the broker of the settings, by lock id."""
    heard = {}
    client, address = make_client(f"{RUN}-retained-{time.monotonic_ns()}"[:64])
    client.on_message = lambda c, u, m: heard.__setitem__(m.topic, m.payload)
    connect_and_wait(client, address)
    client.subscribe(protocol.subscription(url_settings.MQTT_TOPIC_ROOT, "desired"), qos=1)
    time.sleep(1.5)
    client.disconnect()
    client.loop_stop()
    return {
        name.split("/")[-2]: protocol.decode(payload) for name, payload in heard.items() if payload
    }


def test_a_broker_killed_mid_storm_leaves_every_lock_converged_on_committed_versions(
    acl_broker, owner, tmp_path
):
    locks, passwords = [], {}
    for _ in range(12):
        lock, password = services.enrol_lock(new_lock_id(), SpaceFactory())
        locks.append(lock)
        passwords[lock.id] = password
        with transaction.atomic():  # a code on every lock, as allocate() gives it
            services.create_grant(BookingFactory(space=lock.space, user=owner))
    ids = [lock.id for lock in locks]
    fleet = Fleet(settings.MQTT_TOPIC_ROOT, keepalive=10, passwords=passwords).start()
    virtual = {}
    for lock_id in ids:
        virtual[lock_id] = RecordingLock(
            lock_id, services.public_key(), settings.LOCK_SIGNING_KID, state_dir=tmp_path
        )
        fleet.add(virtual[lock_id])
    gateway = gateway_on(acl_broker)
    committed: set[tuple[str, int]] = set()
    mine = Lock.objects.filter(id__in=ids)

    def publish_round(lagging_only=False):
        wanted = mine.exclude(applied_version=F("desired_version")) if lagging_only else mine
        with contextlib.suppress(OperationalError), transaction.atomic():
            wanted = list(wanted.select_for_update().order_by("id").values_list("id", flat=True))
            mine.filter(id__in=wanted).update(publish_requested_at=timezone.now())
        # With the broker away the versions are committed and asked for again; a deadlock with
        # the gateway's writes aborts the attempt. The task retries both, as this loop does.
        with contextlib.suppress(NotPublished, ConnectionError, OSError, OperationalError):
            services.publish_desired_state(ids)
        committed.update(mine.values_list("id", "desired_version"))

    try:
        wait_for(lambda: mine.filter(online=True).count() == len(ids), message="the fleet online")
        for _ in range(3):
            publish_round()
        acl_broker.kill()
        for _ in range(3):
            publish_round()
        acl_broker.start()

        def converged():
            publish_round(lagging_only=True)
            rows = dict(mine.values_list("id", "desired_version"))
            return all(
                virtual[i].applied_version == rows[i] and mine.get(pk=i).applied_version == rows[i]
                for i in ids
            )

        wait_for(converged, timeout=60, interval=1.0, message="every lock converged")
        for lock_id in ids:
            applied = {(lock_id, version) for version in virtual[lock_id].applied_versions}
            assert applied <= committed, f"{lock_id} applied a version never committed"
        # The broker's retained states are the database's newest, one by one.
        desired = dict(mine.values_list("id", "desired_version"))
        retained = retained_desired(settings)
        assert {i: retained[i]["version"] for i in ids} == desired
    finally:
        stop_process(gateway)
        fleet.stop(forget=True)


def test_a_retained_desired_state_overwritten_erased_or_replayed_is_restored(gateway, settings):
    lock = enrol(SpaceFactory())
    row = Lock.objects.filter(pk=lock.pk)
    wait_for(
        lambda: row.filter(desired_version__gt=0, publish_requested_at__isnull=True).exists(),
        message="the state published at enrolment",
    )
    listener = Listener(topic(lock.id, "desired"))
    public = protocol.load_public_key(services.public_key())

    def ours_newer_than(version):
        def check():
            for _, payload in reversed(listener.messages):
                if payload:
                    message = protocol.decode(payload)
                    genuine = protocol.verify(message, public, settings.LOCK_SIGNING_KID)
                    return genuine and message["version"] > version and message
            return False

        return check

    try:
        first = wait_for(ours_newer_than(0), message="the retained state")
        original = listener.messages[-1][1]
        for what, payload in (("overwritten", b'{"grants": "all doors open"}'),
                              ("erased", b""), ("replayed", original)):  # fmt: skip
            version = row.get().desired_version
            listener.publish(topic(lock.id, "desired"), payload, retain=True)
            restored = wait_for(ours_newer_than(version), message=f"the state {what} restored")
            assert restored["lock_id"] == lock.id
        assert first["version"] < restored["version"] == row.get().desired_version
    finally:
        listener.publish(topic(lock.id, "desired"), b"", retain=True)
        listener.close()


def test_the_gateway_and_the_simulator_outlive_their_database_connections(celery_worker, tmp_path):
    name = f"{RUN}-outlives"
    url = f"{child_database_url()}?application_name={name}"
    gateway = start_gateway("gateway-outlives", DATABASE_URL=url)
    simulator = start_process(
        "simulator-outlives",
        [sys.executable, "manage.py", "simulator", "--rescan", "0.5", "--no-visitors",
         "--state-dir", str(tmp_path)],
        ready="simulator: running", DATABASE_URL=url,
    )  # fmt: skip
    try:
        before = enrol(SpaceFactory())
        wait_for(lambda: Lock.objects.get(pk=before.pk).online, message="the first lock online")

        def terminated():
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = %s",
                    [name],
                )
                return cursor.fetchone()[0]

        assert terminated() >= 2
        after = enrol(SpaceFactory())
        wait_for(lambda: Lock.objects.get(pk=after.pk).online, message="a lock joined after")
        assert terminated() >= 1
        services.unlock_once(before)
        wait_for(
            lambda: before.commands.filter(acked_at__isnull=False).exists(),
            message="an ack recorded after the second termination",
        )
        assert gateway.poll() is None and simulator.poll() is None
    finally:
        stop_process(simulator)
        stop_process(gateway)


def test_the_gateway_acknowledges_a_message_only_once_it_is_committed(celery_worker):
    """A gateway killed with messages taken but not committed loses none of them."""
    lock = enrol(SpaceFactory())
    gateway = start_gateway("gateway-acks")
    listener = Listener()
    blocker = psycopg.connect(child_database_url())
    try:
        # The events' table held by another transaction: the gateway takes the messages and
        # waits to write them.
        blocker.execute("LOCK TABLE access_lockevent IN ACCESS EXCLUSIVE MODE")
        sent = [f"e-unlost-{n}" for n in range(5)]
        for event_id in sent:
            message = {"schema": 1, "lock_id": lock.id, "event_id": event_id, "type": "door",
                       "state": "open", "at": protocol.format_time(timezone.now())}  # fmt: skip
            listener.publish(topic(lock.id, "events"), protocol.encode(message))
        wait_for(waiting_for_a_row_lock, message="the gateway waiting to write")
        os.kill(gateway.pid, signal.SIGKILL)
        gateway.wait()
        blocker.rollback()
        # The broker kept them for the gateway's session, unacknowledged: a new gateway gets them.
        gateway = start_gateway("gateway-acks-again")
        wait_for(
            lambda: LockEvent.objects.filter(event_id__in=sent).count() == len(sent),
            message="every event recorded after the restart",
        )
    finally:
        blocker.close()
        listener.close()
        stop_process(gateway)
