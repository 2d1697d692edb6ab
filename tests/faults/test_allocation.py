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
    people_held,
    queue_requests,
    record,
    terminate_backends,
)

pytestmark = pytest.mark.django_db(transaction=True)


@contextlib.contextmanager
def allocations_in_flight(stack, request_ids):
    """Beat and a worker, every request queued, both worker processes held inside an
    allocation until the block ends."""
    with people_held(request_ids):
        stack.start("beat")
        worker = stack.start("worker")
        queue_requests(stack, request_ids)
        inside_allocations(stack)
        yield worker


# Long enough that the sweeper leaves the requests alone until the fault.
REQUEUE_AFTER = "8"


def recovered(request_ids, sink, clock) -> dict:
    wait_for(lambda: decided(request_ids), timeout=60, message="every request decided")
    all_decided = clock.since()
    wait_for(lambda: mailed(request_ids, sink), timeout=60, message="every decision mailed")
    return {"decided_after_s": all_decided, "mailed_after_s": clock.since()}


def test_a_worker_killed_inside_allocations_loses_and_duplicates_nothing(stack, smtp):
    sink, port = smtp()
    faults = stack(
        EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(port), BOOKING_REQUEUE_AFTER_SECONDS=REQUEUE_AFTER
    )
    request_ids = contended_requests()
    with allocations_in_flight(faults, request_ids) as worker:
        in_flight = BookingRequest.objects.filter(id__in=request_ids, status="pending").count()
        kill(worker)
        clock = Clock()
    # A worker comes back; what the dead one held (unacknowledged) the sweeper queues again.
    faults.start("worker")
    restarted = clock.since()
    times = recovered(request_ids, sink, clock)
    outcome = account_for_requests(request_ids, sink)
    record(
        "worker SIGKILL during allocation",
        in_flight=f"2 allocations mid-transaction, {in_flight} requests pending",
        worker_restarted_after_s=restarted,
        **times,
        **outcome,
        bound_by=f"BOOKING_REQUEUE_AFTER_SECONDS={REQUEUE_AFTER} + the 5 s sweep interval",
    )
    assert (outcome["lost"], outcome["duplicated"]) == (0, 0)
    assert outcome["confirmed"] == outcome["rejected"] == len(request_ids) // 2


def test_connections_terminated_inside_allocations_lose_and_duplicate_nothing(stack, smtp):
    sink, port = smtp()
    faults = stack(
        EMAIL_HOST="127.0.0.1", EMAIL_PORT=str(port), BOOKING_REQUEUE_AFTER_SECONDS=REQUEUE_AFTER
    )
    request_ids = contended_requests()
    with allocations_in_flight(faults, request_ids):
        in_flight = BookingRequest.objects.filter(id__in=request_ids, status="pending").count()
        terminated = terminate_backends(faults.namespace)
        clock = Clock()
    times = recovered(request_ids, sink, clock)
    outcome = account_for_requests(request_ids, sink)
    record(
        "pg_terminate_backend during allocation",
        in_flight=f"2 allocations mid-transaction, {in_flight} requests pending",
        terminated_connections=terminated,
        **times,
        **outcome,
        bound_by="the allocation task's retry (backoff 1 s, then 2 s, ...)",
    )
    assert (outcome["lost"], outcome["duplicated"]) == (0, 0)
    assert outcome["confirmed"] == outcome["rejected"] == len(request_ids) // 2
