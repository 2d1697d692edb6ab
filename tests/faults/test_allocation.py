"""Allocation under faults: the worker killed with SIGKILL, or its database connections
terminated from PostgreSQL's side, while both its processes are inside an allocation (the
request row locked, the transaction open) and the rest of the requests are queued or
prefetched. Every request is decided once, with one email; nothing is lost or duplicated."""

import contextlib

import pytest

from api.bookings.models import BookingRequest
from tests.conftest import wait_for
from tests.faults.conftest import (
    Clock,
    account_for_requests,
    contended_requests,
    decided,
    inside_allocations,
    kill,
    mailed,
    nothing_lost_or_duplicated,
    people_held,
    queue_requests,
    terminate_backends,
)

pytestmark = pytest.mark.django_db(transaction=True)


@contextlib.contextmanager
def allocations_in_flight(stack, request_ids):
    """Beat and a worker, every request queued, both worker processes held inside an
    allocation until the block ends."""
    with people_held(request_ids):
        _, worker = stack.start_many("beat", "worker")
        queue_requests(stack, request_ids)
        inside_allocations(stack)
        yield worker


# Long enough that the sweeper leaves the requests alone until the fault.
REQUEUE_AFTER = "5"


def recovered(request_ids, sink, clock) -> dict:
    wait_for(lambda: decided(request_ids), timeout=60, message="every request decided")
    all_decided = clock.since()
    wait_for(lambda: mailed(request_ids, sink), timeout=60, message="every decision mailed")
    return {"decided_after_s": all_decided, "mailed_after_s": clock.since()}


# What each fault is called in the figures, and what bounds its recovery.
FAULTS = {
    "kill": (
        "worker SIGKILL during allocation",
        f"BOOKING_REQUEUE_AFTER_SECONDS={REQUEUE_AFTER} + the 5 s sweep interval",
    ),
    "terminate": (
        "pg_terminate_backend during allocation",
        "the allocation task's retry (backoff 1 s, then 2 s, ...)",
    ),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_inside_allocations_loses_and_duplicates_nothing(stack, smtp, fault):
    sink, port = smtp()
    faults = stack(
        f"alloc-{fault}",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(port),
        BOOKING_REQUEUE_AFTER_SECONDS=REQUEUE_AFTER,
    )
    request_ids = contended_requests()
    with allocations_in_flight(faults, request_ids) as worker:
        in_flight = BookingRequest.objects.filter(id__in=request_ids, status="pending").count()
        if fault == "kill":
            kill(worker)
            figures = {}
        else:
            figures = {"terminated_connections": terminate_backends(faults.namespace)}
        clock = Clock()
    if fault == "kill":
        # A worker comes back; what the dead one held (unacknowledged) the sweeper queues again.
        faults.start("worker")
        figures["worker_restarted_after_s"] = clock.since()
    times = recovered(request_ids, sink, clock)
    outcome = account_for_requests(request_ids, sink)
    name, bound_by = FAULTS[fault]
    nothing_lost_or_duplicated(
        name,
        {"requests": outcome},
        in_flight=f"2 allocations mid-transaction, {in_flight} requests pending",
        **figures,
        **times,
        bound_by=bound_by,
    )
    assert outcome["confirmed"] == outcome["rejected"] == len(request_ids) // 2
