"""Faults during a boundary storm: locks that each lose a grant and gain one at the same
instant, the sweep withdrawing and starting them all, the worker publishing every lock's new
state, the gateway recording what the locks report. At the moment the sweep has withdrawn the
first ending grant: the MQTT broker killed and started again (empty), the database connections
of every process terminated, or the worker killed while the broker holds its acknowledgements.
Afterwards every lock holds exactly its starting grant, every ending grant is off its lock and
recorded revoked, every starting one recorded on its lock: none lost, none duplicated."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from api.access.models import Grant, Lock
from tests.conftest import wait_for
from tests.faults.conftest import (
    Clock,
    Mosquitto,
    account_for_grants,
    converged,
    held,
    kill,
    locks_at_a_boundary,
    nothing_lost_or_duplicated,
    terminate_backends,
)

pytestmark = pytest.mark.django_db(transaction=True)

LOCKS = 40
# From the rows' creation to the boundary, the processes already running: time for the locks to
# connect and for the sweep to put every grant on its lock first.
LEAD = timedelta(seconds=10)


class Storm:
    """A boundary for LOCKS locks, the stack's gateway, worker and beat, and the fleet."""

    def __init__(self, stack, fleet, mqtt_url: str | None = None):
        self.stack = stack
        _, self.worker, _ = stack.start_many("gateway", "worker", "beat")
        self.boundary = timezone.now() + LEAD
        self.ending, self.starting = locks_at_a_boundary(LOCKS, self.boundary, stack.namespace)
        self.lock_ids = [lock_id for lock_id, _ in self.ending]
        self.fleet = fleet(stack, self.lock_ids, url=mqtt_url)
        wait_for(
            lambda: converged(self.fleet, [*self.ending, *self.starting]),
            timeout=LEAD.total_seconds(),
            message="every grant on its lock before the boundary",
        )
        assert timezone.now() < self.boundary, "the setup overran the boundary"

    def withdrawing(self) -> None:
        """Wait for the sweep's first withdrawal of an ending grant (it is publishing now)."""
        ending = [grant_id for _, grant_id in self.ending]
        wait_for(
            lambda: Grant.objects.filter(id__in=ending, withdrawn_at__isnull=False).exists(),
            timeout=LEAD.total_seconds() + 10,
            interval=0.01,
            message="the sweep to withdraw the ending grants",
        )

    def still_on_locks(self) -> int:
        """Ending grants still on their locks."""
        return sum(grant in held(self.fleet, lock) for lock, grant in self.ending)

    def recovered(self, clock: Clock, test: str, **figures) -> None:
        """Wait for every lock to reach its state after the boundary, then count."""
        wait_for(
            lambda: converged(self.fleet, self.starting, self.ending),
            timeout=90,
            message="every lock at its state after the boundary",
        )
        nothing_lost_or_duplicated(
            test,
            {"grants": account_for_grants(self.fleet, self.starting, self.ending)},
            **figures,
            converged_after_s=clock.since(),
        )


def test_the_broker_killed_and_restarted_in_a_boundary_storm(stack, fleet, servers):
    broker = servers(Mosquitto)
    storm = Storm(stack("broker", MQTT_URL=broker.url), fleet, mqtt_url=broker.url)
    storm.withdrawing()
    broker.kill()
    clock = Clock()
    in_flight = storm.still_on_locks()
    broker.start()
    storm.recovered(
        clock,
        "MQTT broker SIGKILL and restart during a boundary storm",
        in_flight=f"{in_flight} of {LOCKS} revocations not yet on their locks",
        broker_back_after_s=clock.since(),
        bound_by="reconnects (paho: 1 s doubling to 10 s; the locks: 1 s), then the worker's "
        "retry of an unacknowledged publication (backoff up to 30 s) or the lagging-lock "
        "sweep (LOCK_REPUBLISH_AFTER_SECONDS=2)",
    )


def test_connections_terminated_in_a_boundary_storm(stack, fleet):
    storm = Storm(stack("pgterm"), fleet)
    storm.withdrawing()
    terminated = terminate_backends(storm.stack.namespace)
    clock = Clock()
    in_flight = storm.still_on_locks()
    wait_for(lambda: clock.since() > 0.3)
    terminated += terminate_backends(storm.stack.namespace)  # and whoever reconnected
    storm.recovered(
        clock,
        "pg_terminate_backend during a boundary storm",
        in_flight=f"{in_flight} of {LOCKS} revocations not yet on their locks",
        terminated_connections=terminated,
        bound_by="the publication task's retry, the gateway's retry of its batch",
    )


def test_the_worker_killed_while_publishing_in_a_boundary_storm(stack, fleet, servers):
    broker = servers(Mosquitto)
    storm = Storm(stack("publish", MQTT_URL=broker.url), fleet, mqtt_url=broker.url)
    # The broker stops answering just before the boundary: the storm's publication is sent
    # and waits for its acknowledgements, the locks' rows held.
    wait_for(
        lambda: timezone.now() > storm.boundary - timedelta(seconds=0.3),
        timeout=LEAD.total_seconds(),
        interval=0.01,
    )
    broker.pause()
    storm.withdrawing()

    def publishing() -> bool:
        with transaction.atomic():
            free = Lock.objects.select_for_update(skip_locked=True).filter(id__in=storm.lock_ids)
            return len(free.values_list("id", flat=True)) < LOCKS

    wait_for(publishing, message="the publication waiting for its acknowledgements")
    kill(storm.worker)
    clock = Clock()
    broker.resume()
    storm.stack.start("worker")
    back = clock.since()
    storm.recovered(
        clock,
        "worker SIGKILL while publishing a boundary storm",
        in_flight=f"one publication to {LOCKS} locks sent, unacknowledged, its transaction open",
        worker_back_after_s=back,
        revocations_missing_after_restart=storm.still_on_locks(),
        bound_by="LOCK_REPUBLISH_AFTER_SECONDS=2 + the 2 s sweep interval",
    )
