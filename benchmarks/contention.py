"""3. contention: many requests for one slot at once; exactly one may win.

The requests are committed together and queued together (as `request_booking` does: the row,
then the task after the commit), then the Procfile's worker decides them while it runs.
"""

import time
from datetime import timedelta

from django.db import transaction
from django.db.models import Count, Max, Min

from api.bookings.choices import BookingStatus, RejectReason, RequestStatus
from api.bookings.models import Booking, BookingRequest
from benchmarks import harness, seed
from workers.queue import enqueue_on_commit

GOAL_SECONDS = 10.0


def run(quick: bool) -> harness.Result:
    count = 50 if quick else 1000
    result = harness.Result("contention")
    result.conditions.append(
        f"{count} requests from {count} people for one slot of one space, committed and queued "
        "together; the Procfile's worker (concurrency 2) already running"
    )
    (space,) = seed.spaces(1)
    people = seed.users(count)
    start = seed.next_hour(timedelta(hours=3))
    stack = harness.Stack()
    try:
        stack.start_worker()
        began = time.monotonic()
        with transaction.atomic():
            requests = BookingRequest.objects.bulk_create(
                BookingRequest(
                    user=person,
                    space=space,
                    start=start,
                    end=start + timedelta(hours=1),
                    party_size=2,
                )
                for person in people
            )
            for request in requests:
                enqueue_on_commit("allocation.allocate", request.id)
        queued = time.monotonic() - began
        harness.wait_until(
            lambda: not BookingRequest.objects.filter(status=RequestStatus.PENDING).exists(),
            timeout=120 if quick else 600,
            interval=0.05,
            what="every contending request to be decided",
        )
    finally:
        stack.stop_all()

    span = BookingRequest.objects.aggregate(
        created=Min("created_at"), first=Min("decided_at"), last=Max("decided_at")
    )
    decided_in = (span["last"] - span["created"]).total_seconds()
    outcomes = dict(
        BookingRequest.objects.values_list("status", "reason")
        .annotate(n=Count("id"))
        .values_list("reason", "n")
    )
    live = Booking.objects.filter(space=space, status__in=BookingStatus.live()).count()
    result.figure("time to queue them all", harness.ms(queued))
    result.figure("first request → last decision", f"{decided_in:.2f} s")
    result.figure("decisions/s under contention", f"{(count - 1) / decided_in:.0f}")
    result.goal(f"all decided within 10 s ({decided_in:.2f} s)", decided_in < GOAL_SECONDS)
    result.check(f"exactly one confirmed ({outcomes.get(None, 0)})", outcomes.get(None, 0) == 1)
    result.check(
        f"every other one slot_taken ({outcomes.get(RejectReason.SLOT_TAKEN, 0)} of {count - 1})",
        outcomes.get(RejectReason.SLOT_TAKEN, 0) == count - 1,
    )
    result.check(f"exactly one live booking of the space ({live})", live == 1)
    return result
