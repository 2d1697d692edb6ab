"""The whole path on the real Mosquitto: a real worker publishes, simulated locks apply and
report, the gateway records. Time on a lock is moved by its clock-skew switch."""

import threading
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.utils import timezone

from api.access import services
from api.access.choices import CommandState, GrantState
from api.access.models import Grant, Lock, LockCommand
from api.bookings import services as bookings
from devices import protocol
from devices.mqtt import connect_and_wait, make_client
from tests.access.conftest import enrol, join
from tests.conftest import client_for, wait_for
from tests.factories import BookingRequestFactory, SpaceFactory, next_slot
from tests.settings import RUN

pytestmark = pytest.mark.django_db(transaction=True)


def book(space, user, start=None):
    start = start or next_slot()[0]
    request = BookingRequestFactory(
        space=space, user=user, start=start, end=start + timedelta(hours=1)
    )
    bookings.allocate(request.id)
    request.refresh_from_db()
    return request.booking


def grant_state(grant, state):
    return lambda: Grant.objects.filter(pk=grant.pk, state=state).exists()


def in_sync(lock):
    def check():
        row = Lock.objects.get(pk=lock.pk)
        return row.desired_version > 0 and row.applied_version >= row.desired_version

    return check


def skew_to(fleet, lock_id, instant):
    """Set the lock's clock to `instant` (by skewing it from the real time)."""
    fleet.set(lock_id, skew=(instant - timezone.now()).total_seconds())


class Listener:
    """A test client that records every message on some topics."""

    def __init__(self, *topics):
        self.messages: list[tuple[str, bytes]] = []
        self.client, address = make_client(f"{RUN}-listener-{id(self)}")
        self.client.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload))
        connect_and_wait(self.client, address)
        if topics:
            subscribed = threading.Event()
            self.client.on_subscribe = lambda *a: subscribed.set()
            self.client.subscribe([(topic, 1) for topic in topics])
            subscribed.wait(5)

    def publish(self, topic, payload: bytes, retain=False):
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()


def topic(lock_id, kind):
    return protocol.topic(settings.MQTT_TOPIC_ROOT, lock_id, kind)


def test_a_booking_puts_a_signed_grant_with_its_window_on_the_lock(fleet, gateway, owner):
    lock = enrol(SpaceFactory())
    virtual = join(fleet, lock)
    wait_for(lambda: Lock.objects.get(pk=lock.pk).online, message="the lock online")
    booking = book(lock.space, owner)
    grant = booking.grant
    wait_for(grant_state(grant, GrantState.PROVISIONED), message="the grant provisioned")
    wait_for(in_sync(lock), message="the lock in sync")
    # The virtual lock verified the signature against the enrolment key before applying it.
    assert virtual.rejected == []
    [held] = fleet.call(lambda: list(virtual.grants))
    assert held == {
        "grant_id": grant.id,
        "code": grant.code,
        "valid_from": protocol.format_time(booking.start - timedelta(minutes=5)),
        "valid_until": protocol.format_time(booking.end + timedelta(minutes=5)),
    }
    body = client_for(owner).get(f"/api/v1/bookings/{booking.id}/").json()
    assert body["access"]["state"] == "provisioned"
    assert body["access"]["code"] == grant.code

    # The code opens inside the window only, by the lock's clock.
    skew_to(fleet, lock.id, grant.valid_from - timedelta(seconds=30))
    assert fleet.try_code(lock.id, grant.code)["result"] == "denied"
    skew_to(fleet, lock.id, grant.valid_from + timedelta(seconds=30))
    assert fleet.try_code(lock.id, grant.code)["result"] == "granted"
    skew_to(fleet, lock.id, grant.valid_until + timedelta(seconds=30))
    assert fleet.try_code(lock.id, grant.code)["result"] == "denied"

    # The first granted event checked the booking in.
    wait_for(
        lambda: client_for(owner).get(f"/api/v1/bookings/{booking.id}/").json()["checked_in_at"],
        message="the check-in",
    )


def test_cancelling_removes_the_code_from_the_lock(fleet, gateway, owner):
    lock = enrol(SpaceFactory())
    virtual = join(fleet, lock)
    booking = book(lock.space, owner)
    wait_for(grant_state(booking.grant, GrantState.PROVISIONED), message="the grant provisioned")
    bookings.cancel_booking(booking)
    wait_for(grant_state(booking.grant, GrantState.REVOKED), message="the grant revoked")
    assert fleet.call(lambda: list(virtual.grants)) == []
    wait_for(in_sync(lock), message="the lock in sync")


def test_a_lock_offline_across_the_end_refuses_by_its_clock_and_converges_on_reconnect(
    fleet, gateway, owner
):
    lock = enrol(SpaceFactory())
    virtual = join(fleet, lock)
    booking = book(lock.space, owner)
    grant = booking.grant
    wait_for(grant_state(grant, GrantState.PROVISIONED), message="the grant provisioned")
    fleet.set(lock.id, offline=True)
    wait_for(lambda: not Lock.objects.get(pk=lock.pk).online, message="the last will")
    # The slot passes while the lock is away: beat's sweep ends the grant and publishes.
    skew_to(fleet, lock.id, grant.valid_until + timedelta(minutes=1))
    assert fleet.try_code(lock.id, grant.code)["result"] == "denied"
    with time_machine.travel(grant.valid_until, tick=False):
        services.sweep()
    wait_for(lambda: not in_sync(lock)(), message="a publication without the grant")
    # Not revoked until the lock says so.
    assert Grant.objects.get(pk=grant.pk).state == GrantState.ACTIVE
    fleet.set(lock.id, offline=False)
    wait_for(grant_state(grant, GrantState.REVOKED), message="the revocation confirmed")
    wait_for(in_sync(lock), message="the lock in sync")
    assert fleet.call(lambda: list(virtual.grants)) == []
    assert Lock.objects.get(pk=lock.pk).online


def test_duplicated_reordered_replayed_and_forged_messages_change_nothing(fleet, gateway, owner):
    lock = enrol(SpaceFactory(capacity=50))
    virtual = join(fleet, lock)
    listener = Listener(topic(lock.id, "desired"))
    try:
        first = book(lock.space, owner)
        wait_for(grant_state(first.grant, GrantState.PROVISIONED), message="the first grant")
        wait_for(lambda: listener.messages, message="the retained desired state")
        old_payload = listener.messages[-1][1]
        fleet.set(lock.id, duplicate=True, reorder=True)
        second = book(lock.space, owner, start=first.end + timedelta(hours=1))
        third = book(lock.space, owner, start=first.end + timedelta(hours=3))
        for booking in (second, third):
            wait_for(grant_state(booking.grant, GrantState.PROVISIONED), message="more grants")
        wait_for(in_sync(lock), message="the lock in sync")
        fleet.set(lock.id, duplicate=False, reorder=False)
        applied = Lock.objects.get(pk=lock.pk).applied_version
        held = fleet.call(lambda: sorted(g["grant_id"] for g in virtual.grants))
        assert held == sorted([first.grant.id, second.grant.id, third.grant.id])

        # A replay of an older, genuinely signed state, and a forged one.
        rejected = len(virtual.rejected)
        listener.publish(topic(lock.id, "desired"), old_payload)
        forged = protocol.decode(old_payload)
        forged["version"] = applied + 100
        forged["grants"] = [{**forged["grants"][0], "code": "0000", "grant_id": "g-evil"}]
        listener.publish(topic(lock.id, "desired"), protocol.encode(forged))
        wait_for(lambda: len(virtual.rejected) >= rejected + 2, message="both refused")
        assert fleet.call(lambda: sorted(g["grant_id"] for g in virtual.grants)) == held
        # The backend saw them on the lock's topic and published its own state again.
        wait_for(
            lambda: in_sync(lock)() and Lock.objects.get(pk=lock.pk).applied_version > applied,
            message="the backend's own state again",
        )
        applied = Lock.objects.get(pk=lock.pk).applied_version
        assert fleet.call(lambda: sorted(g["grant_id"] for g in virtual.grants)) == held
        # A report replayed to the backend changes nothing either.
        stale = {"schema": 1, "lock_id": lock.id, "applied_version": 1, "grant_ids": []}
        listener.publish(topic(lock.id, "reported"), protocol.encode(stale))
        marker = services.unlock_once(lock)
        wait_for(
            lambda: LockCommand.objects.get(pk=marker.pk).state == CommandState.ACKED,
            message="a later message handled",
        )
        # (Not back to 1; it may have moved on as the backend restored its own states.)
        assert Lock.objects.get(pk=lock.pk).applied_version >= applied
        assert Grant.objects.filter(lock=lock, state=GrantState.PROVISIONED).count() == 3
    finally:
        # Leave no retained state on the broker for this run's topics.
        listener.publish(topic(lock.id, "desired"), b"", retain=True)
        listener.close()


def test_the_last_will_marks_the_lock_offline_and_reconnecting_online(fleet, gateway):
    lock = enrol(SpaceFactory())
    join(fleet, lock)
    wait_for(lambda: Lock.objects.get(pk=lock.pk).online, message="online")
    fleet.set(lock.id, offline=True)
    wait_for(lambda: not Lock.objects.get(pk=lock.pk).online, message="offline by the will")
    fleet.set(lock.id, offline=False)
    wait_for(lambda: Lock.objects.get(pk=lock.pk).online, message="online again")


def test_the_gateway_ignores_a_lock_reporting_under_another_locks_id(fleet, gateway, owner):
    honest = enrol(SpaceFactory())
    join(fleet, honest)
    impostor = enrol(SpaceFactory())
    wait_for(lambda: Lock.objects.get(pk=honest.pk).online, message="online")
    listener = Listener()
    claim = {"schema": 1, "lock_id": honest.id, "applied_version": 10**9, "grant_ids": []}
    listener.publish(topic(impostor.id, "reported"), protocol.encode(claim))
    listener.publish(
        topic(impostor.id, "status"),
        protocol.encode({"schema": 1, "lock_id": honest.id, "online": False}),
    )
    listener.close()
    marker = services.unlock_once(honest)
    wait_for(
        lambda: LockCommand.objects.get(pk=marker.pk).state == CommandState.ACKED,
        message="a later message handled",
    )
    for lock in (honest, impostor):
        row = Lock.objects.get(pk=lock.pk)
        assert row.applied_version < 10**9
    assert Lock.objects.get(pk=honest.pk).online
    assert not Lock.objects.get(pk=impostor.pk).online
    assert "claims to be from lock" in gateway.log_path.read_text()


def test_unlock_once_reaches_the_lock_and_its_ack_is_recorded(fleet, gateway, as_operator):
    lock = enrol(SpaceFactory())
    join(fleet, lock)
    wait_for(lambda: Lock.objects.get(pk=lock.pk).online, message="online")
    response = as_operator.post(f"/api/v1/locks/{lock.id}/unlock/")
    assert response.status_code == 202
    cmd_id = response.json()["cmd_id"]
    wait_for(
        lambda: LockCommand.objects.get(pk=cmd_id).state == CommandState.ACKED, message="the ack"
    )
    command = LockCommand.objects.get(pk=cmd_id)
    assert command.ok is True and command.sent_at is not None


def test_a_newly_enrolled_lock_finds_a_signed_state_waiting(celery_worker):
    lock = enrol(SpaceFactory())  # no booking, no grant
    wait_for(
        lambda: Lock.objects.filter(
            pk=lock.pk, desired_version__gt=0, publish_requested_at__isnull=True
        ).exists(),
        message="the state published at enrolment",
    )
    listener = Listener(topic(lock.id, "desired"))
    try:
        wait_for(lambda: listener.messages, message="the retained state")
        message = protocol.decode(listener.messages[-1][1])
        assert protocol.verify(
            message, protocol.load_public_key(services.public_key()), settings.LOCK_SIGNING_KID
        )
        assert (message["lock_id"], message["grants"]) == (lock.id, [])
        assert message["version"] == Lock.objects.get(pk=lock.pk).desired_version
    finally:
        listener.publish(topic(lock.id, "desired"), b"", retain=True)
        listener.close()
