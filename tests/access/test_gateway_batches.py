"""The gateway records a batch of messages in a few statements, whatever the fleet sends at once."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from api.access import services
from api.access.models import Lock
from devices import protocol
from devices.gateway import Gateway, Inbound
from tests.access.conftest import new_lock_id
from tests.factories import SpaceFactory

pytestmark = pytest.mark.django_db


def status(gateway, lock_id, online):
    payload = protocol.encode({"schema": 1, "lock_id": lock_id, "online": online})
    return Inbound(protocol.topic(gateway.root, lock_id, "status"), payload, mid=0, qos=1)


def test_a_fleet_reconnecting_at_once_is_recorded_in_two_statements():
    gateway = Gateway()
    locks = [services.enrol_lock(new_lock_id(), SpaceFactory())[0] for _ in range(30)]
    Lock.objects.update(online=False, last_seen=None)
    came_and_went = locks[0].id
    batch = [status(gateway, lock.id, True) for lock in locks]
    batch += [status(gateway, locks[1].id, False), status(gateway, came_and_went, False)]
    batch += [status(gateway, came_and_went, True)]  # back again: its last word wins
    before = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        gateway.handle(batch)
    updates = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "access_lock"')]
    assert len(updates) == 2, updates
    online = dict(Lock.objects.values_list("id", "online"))
    assert online == {lock.id: lock.id != locks[1].id for lock in locks}
    assert Lock.objects.filter(online=True, last_seen__gte=before).count() == 29
    assert gateway.handled == 30  # the last status of each lock heard


def desired(gateway, lock, version, retained=True, signed=True):
    state = protocol.desired_state(lock.id, version, timezone.now(), [])
    payload = protocol.encode(services.sign(state) if signed else {**state, "sig": "AAAA"})
    topic = protocol.topic(gateway.root, lock.id, "desired")
    return Inbound(topic, payload, mid=0, qos=1, retained=retained)


def test_the_retained_states_of_a_fleet_are_checked_in_one_query_and_only_the_wrong_restored():
    gateway = Gateway()
    locks = [services.enrol_lock(new_lock_id(), SpaceFactory())[0] for _ in range(30)]
    Lock.objects.update(desired_version=20, publish_requested_at=None)
    old, forged = locks[0], locks[1]
    batch = [desired(gateway, lock, 20) for lock in locks[2:]]
    batch += [desired(gateway, old, 19), desired(gateway, forged, 20, signed=False)]
    with CaptureQueriesContext(connection) as queries:
        gateway.handle(batch)
    reads = [q["sql"] for q in queries if "desired_version" in q["sql"]]
    assert len(reads) == 1, reads
    requested = Lock.objects.filter(publish_requested_at__isnull=False)
    assert set(requested.values_list("id", flat=True)) == {old.id, forged.id}
    assert gateway.desired_seen == {lock.id: 20 for lock in locks[2:]}
    assert gateway.desired_heard == {lock.id for lock in locks}
