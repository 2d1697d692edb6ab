"""The boundary sweep on the real database, worker and broker: claims are exclusive, so two
sweeps at once publish each lock's change once, and a sweep that finds another under way
leaves the work to it."""

import threading
from collections import Counter
from datetime import timedelta

import pytest
import time_machine
from django.db import connection, transaction
from django.db.models import Q

from api.access import services
from api.access.choices import GrantState
from api.access.models import Grant, Lock
from devices import protocol
from tests.access.conftest import enrol
from tests.access.test_on_the_broker import Listener
from tests.conftest import wait_for
from tests.factories import BookingFactory, SpaceFactory, next_slot

pytestmark = pytest.mark.django_db(transaction=True)

LOCKS = 30


def test_two_sweeps_at_once_publish_nothing_twice(celery_worker, owner, settings):
    start = next_slot()[0]
    locks = [enrol(SpaceFactory()) for _ in range(LOCKS)]
    # Each lock's first state, published at enrolment, before anything is booked.
    mine = Lock.objects.filter(pk__in=[lock.pk for lock in locks])
    wait_for(
        lambda: not mine.filter(Q(desired_version=0) | Q(publish_requested_at__isnull=False)),
        message="the states published at enrolment",
    )
    first = dict(mine.values_list("id", "desired_version"))
    # Made while the lead time is shorter, so the sweep is the one to provision them.
    lead = settings.LOCK_PROVISION_LEAD
    settings.LOCK_PROVISION_LEAD = timedelta(hours=1)
    for lock in locks:
        with transaction.atomic():  # as allocate() does
            services.create_grant(BookingFactory(space=lock.space, user=owner, start=start))
    settings.LOCK_PROVISION_LEAD = lead
    # Every grant is beyond the lead time, so nothing is published yet.
    assert not Lock.objects.filter(publish_requested_at__isnull=False).exists()
    listener = Listener(protocol.subscription(settings.MQTT_TOPIC_ROOT, "desired"))
    try:
        barrier = threading.Barrier(2)
        results = []

        def sweep():
            try:
                barrier.wait()
                results.append(services.sweep())
            finally:
                connection.close()

        threads = [threading.Thread(target=sweep) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(result["provisioned"] for result in results) == LOCKS
        assert Grant.objects.filter(queued_at__isnull=True).count() == 0

        ours = {protocol.topic(settings.MQTT_TOPIC_ROOT, lock.id, "desired") for lock in locks}

        def received():
            # Retained states of other tests' locks arrive too, and ours from enrolment: only
            # the sweep's count.
            return [
                (topic, payload)
                for topic, payload in listener.messages
                if topic in ours and payload
                and protocol.decode(payload)["version"] > first[topic.split("/")[-2]]
            ]  # fmt: skip

        wait_for(lambda: len(received()) >= LOCKS, message="every desired state")
        per_lock = Counter(topic for topic, _ in received())
        assert len(per_lock) == LOCKS
        assert set(per_lock.values()) == {1}
        # Each carries its lock's one grant.
        for topic, payload in received():
            message = protocol.decode(payload)
            assert topic.endswith(f"/{message['lock_id']}/desired")
            assert len(message["grants"]) == 1
        # A third sweep finds nothing due.
        assert services.sweep()["provisioned"] == 0
    finally:
        for lock in locks:
            listener.publish(
                protocol.topic(settings.MQTT_TOPIC_ROOT, lock.id, "desired"), b"", True
            )
        listener.close()


def test_a_lagging_online_lock_is_published_to_again(celery_worker, settings):
    lock = enrol(SpaceFactory())
    wait_for(
        lambda: Lock.objects.filter(pk=lock.pk, publish_requested_at__isnull=True).exists(),
        message="the state published at enrolment",
    )
    Lock.objects.filter(pk=lock.pk).update(
        online=True, desired_version=5, applied_version=3, last_published_at=None
    )
    assert services.sweep()["republished"] == 1
    wait_for(lambda: Lock.objects.get(pk=lock.pk).desired_version > 5, message="a new publication")
    assert Lock.objects.get(pk=lock.pk).publish_requested_at is None
    listener = Listener()
    listener.publish(protocol.topic(settings.MQTT_TOPIC_ROOT, lock.id, "desired"), b"", True)
    listener.close()


def test_a_grant_state_never_moves_backwards():
    transitions = GrantState.transitions()
    assert transitions[GrantState.REVOKED] == set()
    assert GrantState.PENDING not in set().union(*transitions.values())


def test_a_sweep_while_another_is_under_way_leaves_the_work_to_it(owner):
    lock = enrol(SpaceFactory())
    with transaction.atomic():
        grant = services.create_grant(
            BookingFactory(space=lock.space, user=owner, start=next_slot()[0])
        )
    held, done = threading.Event(), threading.Event()

    def other_sweep():
        # What a sweep under way holds, on a connection of its own.
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s)", [services._SWEEPING])
            held.set()
            done.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_sweep)
    thread.start()
    try:
        assert held.wait(5)
        with time_machine.travel(grant.valid_until, tick=False):
            assert not any(services.sweep().values())
            assert Grant.objects.filter(pk=grant.pk, withdrawn_at__isnull=True).exists()
            done.set()
            thread.join()
            assert services.sweep()["ended"] == 1
    finally:
        done.set()
        thread.join()
