"""What a lock (or whoever holds its password) can send, on the production broker of the
test's own: nothing stops the gateway, and what no honest lock would report is ignored and
raised as an alert."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from api.access import services
from api.access.models import Lock, LockAnomaly, LockEvent
from api.bookings.models import Booking
from devices import protocol
from tests.access.conftest import connect_as, gateway_on, new_lock_id
from tests.access.test_on_the_broker import book, topic
from tests.conftest import stop_process, wait_for
from tests.factories import SpaceFactory

pytestmark = pytest.mark.django_db(transaction=True)


def event(lock_id, event_id, at=None, **fields):
    fields = fields or {"type": "door", "state": "open"}
    at = at or protocol.format_time(timezone.now())
    return {"schema": 1, "lock_id": lock_id, "event_id": event_id, "at": at, **fields}


def poisons(lock_id) -> list[tuple[str, bytes]]:
    """Each of the messages that used to end the gateway, and a few more."""
    report = {"schema": 1, "lock_id": lock_id, "applied_version": 1, "grant_ids": []}
    nested = b'{"schema": 1, "lock_id": "%s", "x": ' % lock_id.encode()
    # fmt: off
    return [
        ("events", protocol.encode(event(lock_id, "e" * 81))),
        ("events", protocol.encode(event(lock_id, "e-long-grant", type="access",
                                         result="granted", grant_id="g" * 65))),
        ("events", protocol.encode(event(lock_id, "e-nul\u0000"))),
        ("events", protocol.encode(event(lock_id, "e-bell\u0007"))),
        ("events", json.dumps(event(lock_id, "e-surrogate\ud800")).encode()),
        ("events", protocol.encode(event(lock_id, "e-far", at="9999-12-31T23:59:59Z"))),
        ("reported", protocol.encode({**report, "applied_version": 2**70})),
        ("reported", protocol.encode({**report, "clock": "2099-12-31T23:59:59Z"})),
        ("reported", nested + b"[" * 5000 + b"]" * 5000 + b"}"),
        ("reported", protocol.encode(report).replace(b'"applied_version":1', b'"applied_version":NaN')),
        ("reported", protocol.encode({**report, "battery": 87.5})),
        ("status", protocol.encode({"schema": 1, "lock_id": lock_id, "online": True,
                                    "pad": "x" * 20_000})),
        ("ack", protocol.encode({"schema": 1, "lock_id": lock_id, "cmd_id": "c\u0000",
                                 "ok": True})),
        ("ack", b"\xff\xfe not JSON"),
    ]
    # fmt: on


def test_no_payload_live_or_retained_stops_the_gateway(acl_broker, celery_worker):
    lock, password = services.enrol_lock(new_lock_id(), SpaceFactory())
    door = connect_as(acl_broker, lock.id, password)
    gateway = gateway_on(acl_broker)
    try:
        for n, (kind, payload) in enumerate(poisons(lock.id)):
            for retain in (False, True):
                door.publish(topic(lock.id, kind), payload, qos=1, retain=retain).wait_for_publish(
                    5
                )
                legitimate = f"e-after-{n}-{retain}"
                door.publish(
                    topic(lock.id, "events"), protocol.encode(event(lock.id, legitimate)), qos=1
                ).wait_for_publish(5)
                wait_for(
                    lambda e=legitimate: LockEvent.objects.filter(event_id=e).exists(),
                    message=f"the event after poison {n} (retained: {retain})",
                )
                assert gateway.poll() is None
        # Nothing of the poison reached the database; the report with a clock 73 years ahead
        # (once an overflow of its column) is taken without it.
        assert set(LockEvent.objects.values_list("event_id", flat=True)) == {
            f"e-after-{n}-{retain}"
            for n in range(len(poisons(lock.id)))
            for retain in (False, True)
        }
        assert Lock.objects.get(pk=lock.pk).clock_offset_seconds is None
        # Restarted, the gateway gets the retained poison first thing, and carries on.
        stop_process(gateway)
        gateway = gateway_on(acl_broker)
        door.publish(
            topic(lock.id, "events"), protocol.encode(event(lock.id, "e-after-restart")), qos=1
        ).wait_for_publish(5)
        wait_for(
            lambda: LockEvent.objects.filter(event_id="e-after-restart").exists(),
            message="the event after the restart",
        )
        assert gateway.poll() is None
        log = gateway.log_path.read_text()
        assert "ignored an invalid" in log and "Traceback" not in log
    finally:
        stop_process(gateway)
        door.disconnect()
        door.loop_stop()


def test_a_version_never_published_and_a_check_in_outside_the_window_are_alerts(
    acl_broker, celery_worker, owner, as_operator
):
    space = SpaceFactory()
    lock, password = services.enrol_lock(new_lock_id(), space)
    other, other_password = services.enrol_lock(new_lock_id(), SpaceFactory())
    booking = book(space, owner)
    grant = booking.grant
    door = connect_as(acl_broker, lock.id, password)
    other_door = connect_as(acl_broker, other.id, other_password)
    gateway = gateway_on(acl_broker)
    try:
        # A version 999999 would make the lock look in sync forever.
        forged = {
            "schema": 1,
            "lock_id": lock.id,
            "applied_version": 999999,
            "grant_ids": [grant.id],
        }
        door.publish(topic(lock.id, "reported"), protocol.encode(forged), qos=1, retain=True)
        # A check-in five hours before the booking starts.
        early = protocol.format_time(booking.start - timedelta(hours=5))
        granted = {"type": "access", "result": "granted", "grant_id": grant.id}
        door.publish(
            topic(lock.id, "events"),
            protocol.encode(event(lock.id, "e-early", early, **granted)),
            qos=1,
        )
        # Another lock naming this lock's grant, inside its window.
        inside = protocol.format_time(booking.start + timedelta(minutes=1))
        other_door.publish(
            topic(other.id, "events"),
            protocol.encode(event(other.id, "e-foreign", inside, **granted)),
            qos=1,
        )
        wait_for(lambda: LockAnomaly.objects.count() >= 2, message="both alerts")
        wait_for(
            lambda: LockEvent.objects.filter(event_id="e-foreign").exists(),
            message="the foreign event",
        )
        row = Lock.objects.get(pk=lock.pk)
        assert row.applied_version < 999999
        assert Booking.objects.get(pk=booking.pk).checked_in_at is None
        kinds = {alert["kind"] for alert in as_operator.get("/api/v1/alerts/").json()["results"]}
        assert {"lock_version_ahead", "lock_granted_outside_window"} <= kinds
        # The honest check-in, inside the window, still counts.
        door.publish(
            topic(lock.id, "events"),
            protocol.encode(event(lock.id, "e-honest", inside, **granted)),
            qos=1,
        )
        wait_for(lambda: Booking.objects.get(pk=booking.pk).checked_in_at, message="the check-in")
        assert Booking.objects.get(pk=booking.pk).checked_in_at == booking.start + timedelta(
            minutes=1
        )
    finally:
        stop_process(gateway)
        for client in (door, other_door):
            client.disconnect()
            client.loop_stop()
