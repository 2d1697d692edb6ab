"""Allocation under faults: the worker killed with SIGKILL, or its database connections
terminated from PostgreSQL's side, while both its processes are inside an allocation (the
request row locked, the transaction open) and the rest of the requests are queued or
prefetched. Every request is decided once, with one email; nothing is lost or duplicated."""

import contextlib

import pytest
from django.utils import timezone

from api.bookings.models import BookingRequest
from tests.conftest import wait_for
from tests.faults.conftest import (
    Clock,
    account_for_requests,
    backends,
    contended_requests,
    decided,
    kill,
    mailed,
    raw_connection,
    record,
    terminate_backends,
)

pytestmark = pytest.mark.django_db(transaction=True)


@contextlib.contextmanager
def allocations_in_flight(stack, request_ids):
    """Queue every request for a worker and hold the people's rows until the block ends: both
    of the worker's processes stop inside an allocation, at the quota check."""
    people = list(
        BookingRequest.objects.filter(id__in=request_ids).values_list("user_id", flat=True)
    )
    holder = raw_connection()
    try:
        holder.execute("SELECT 1 FROM accounts_user WHERE id = ANY(%s) FOR UPDATE", [people])
        stack.start("beat")
        worker = stack.start("worker")
        # Queued now, as the API queues them: the sweeper's threshold counts from here.
        BookingRequest.objects.filter(id__in=request_ids).update(queued_at=timezone.now())
        for pk in request_ids:
            stack.send("allocation.allocate", str(pk), queue="allocation")
        wait_for(
            lambda: len(backends(stack.namespace, waiting=True)) == 2,
            message="both worker processes inside an allocation",
        )
        yield worker
    finally:
        holder.rollback()  # the people's rows go free
        holder.close()


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
