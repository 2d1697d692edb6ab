"""endtoend: bookings confirmed per second with the API and the worker on the same machine.

The intake benchmark measures the API alone and the allocation benchmark the worker alone; a
city runs both at once, on the same cores. Here gunicorn (the Procfile's `api`) and the worker
(the Procfile's `worker`) run together while wrk sends intake's load; the rate is the requests
confirmed from the first measured request to the last decision, against the bare DRF create
endpoint served by the same gunicorn in the same run (with the worker idle meanwhile).
"""

from datetime import UTC, datetime

from django.db.models import Count, Max

from api.bookings.choices import RequestStatus
from api.bookings.models import Booking, BookingRequest
from benchmarks import harness, load

GOAL_RATIO = 0.5


def run(quick: bool) -> harness.Result:
    intake_load = load.IntakeLoad.prepare(quick)
    result = harness.Result("endtoend")
    result.conditions.append(
        f"{intake_load.describe()}; the Procfile's api and worker running together; "
        "THROTTLING=off, DEBUG=off; the per-person booking cap lifted so that 64 people can "
        "hold every slot"
    )
    if not intake_load.use_wrk:
        result.notes.append(load.WRK_HINT)
    measured = BookingRequest.objects.filter(start__lt=intake_load.warm_from)

    stack = harness.Stack()
    lifted = {"MAX_ACTIVE_BOOKINGS_PER_USER": "1000000"}
    try:
        base = stack.start_api(**lifted)
        stack.start_worker(**lifted)
        intake_load.run(base + "/bench/rows/", warm_up=True)
        baseline = intake_load.run(base + "/bench/rows/")
        intake_load.run(base + "/api/v1/booking-requests/", warm_up=True)
        _wait_decided(BookingRequest.objects.all(), 120, "the warm-up requests to be decided")

        began = datetime.now(UTC)
        intake = intake_load.run(base + "/api/v1/booking-requests/")
        _wait_decided(measured, 120 if quick else 1200, "every measured request to be decided")
    finally:
        stack.stop_all()

    outcomes = dict(measured.values_list("status").annotate(n=Count("id")))
    confirmed = outcomes.get(RequestStatus.CONFIRMED, 0)
    finished = measured.aggregate(last=Max("decided_at"))["last"]
    rate = confirmed / (finished - began).total_seconds()
    waits = [
        (decided - created).total_seconds()
        for created, decided in measured.values_list("created_at", "decided_at")
    ]
    last_created, last_decided = measured.order_by("-created_at").values_list(
        "created_at", "decided_at"
    )[0]

    result.figure("baseline (bare DRF create, worker idle)", baseline.summary())
    result.figure("intake answered while the worker decides", intake.summary())
    result.figure("bookings confirmed/s, first request to last decision", f"{rate:.0f}")
    result.figure("confirmed/s / baseline requests/s", harness.ratio(rate, baseline.rate))
    result.figure("request→decision p50", harness.ms(harness.percentile(waits, 0.5)))
    result.figure("request→decision p99", harness.ms(harness.percentile(waits, 0.99)))
    result.figure(
        "the last accepted request waited for its decision",
        harness.ms((last_decided - last_created).total_seconds()),
    )
    result.figure("requests decided after the last one was accepted", _pending_at_stop(measured))
    result.goal(
        f"confirmed/s ≥ {GOAL_RATIO}x the baseline's requests/s ({rate / baseline.rate:.2f}x)",
        rate >= GOAL_RATIO * baseline.rate,
    )
    result.check("every intake request answered 202", intake.errors == 0)
    result.check(
        f"every measured request confirmed (distinct slots): {outcomes}",
        set(outcomes) == {RequestStatus.CONFIRMED} and confirmed >= intake.requests,
    )
    result.check(
        "one booking per confirmed request",
        Booking.objects.count() == BookingRequest.objects.filter(status="confirmed").count(),
    )
    harness.purge_queues()
    return result


def _wait_decided(requests, timeout: float, what: str) -> None:
    harness.wait_until(
        lambda: not requests.filter(status=RequestStatus.PENDING).exists(),
        timeout=timeout,
        what=what,
    )


def _pending_at_stop(measured) -> int:
    """Requests accepted before the last one was answered but decided after the load ended."""
    last_created = measured.aggregate(last=Max("created_at"))["last"]
    return measured.filter(decided_at__gt=last_created).count()
