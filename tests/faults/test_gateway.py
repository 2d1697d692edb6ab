"""The gateway's database connection terminated from PostgreSQL's side in the middle of a batch
(its statement waiting for a row the test holds): the gateway reconnects and records the same
batch, so what the locks said is not lost with the connection, and it keeps running."""

import pytest

from api.access.models import Lock
from tests.conftest import wait_for
from tests.factories import SpaceFactory
from tests.faults.conftest import (
    Clock,
    backends,
    nothing_lost_or_duplicated,
    raw_connection,
    terminate_backends,
)

pytestmark = pytest.mark.django_db(transaction=True)

LOCKS = 5


def test_the_gateway_records_a_batch_whose_connection_was_terminated(stack, fleet):
    faults = stack("gateway")
    lock_ids = [f"{faults.namespace}-lock-{n}" for n in range(LOCKS)]
    for lock_id in lock_ids:
        Lock.objects.create(id=lock_id, space=SpaceFactory(), password_hash="!")
    holder = raw_connection()
    try:
        holder.execute("SELECT 1 FROM access_lock WHERE id = ANY(%s) FOR UPDATE", [lock_ids])
        gateway = faults.start("gateway")
        fleet(faults, lock_ids)  # each lock says it is online and what it holds
        wait_for(
            lambda: backends(faults.namespace, waiting=True),
            message="the gateway recording, waiting for the locks' rows",
        )
        terminated = terminate_backends(faults.namespace)
        clock = Clock()
    finally:
        holder.rollback()
        holder.close()

    def recorded():
        return Lock.objects.filter(id__in=lock_ids, online=True, last_seen__isnull=False).count()

    wait_for(lambda: recorded() == LOCKS or gateway.poll() is not None, timeout=30)
    running = gateway.poll() is None
    nothing_lost_or_duplicated(
        "pg_terminate_backend in the middle of a gateway batch",
        {"locks": {"locks": LOCKS, "lost": LOCKS - recorded(), "duplicated": 0}},
        in_flight=f"the batch of {LOCKS} locks' status and reports",
        terminated_connections=terminated,
        recorded_after_s=clock.since(),
        gateway_running=running,
    )
    assert running, gateway.log_path.read_text()[-3000:]
