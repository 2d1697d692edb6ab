"""1. intake: POST /api/v1/booking-requests/ under load against a bare DRF create endpoint.

Both endpoints are served by one gunicorn started from the Procfile's `api` line, with the same
token authentication and the same request bodies (distinct spaces and slots, so every request
passes validation). No worker runs meanwhile: the figures are the API's alone, and the queue
must afterwards hold one allocation task per accepted request.
"""

from api.bookings.models import BookingRequest
from benchmarks import harness, load
from benchmarks.baseline.models import Row

GOAL_RATIO = 0.7
GOAL_P99_RATIO = 1.5


def run(quick: bool) -> harness.Result:
    intake_load = load.IntakeLoad.prepare(quick)
    result = harness.Result("intake")
    result.conditions.append(
        f"{intake_load.describe()}; gunicorn as in the Procfile (gthread, 2 workers x 4 "
        "threads); THROTTLING=off, DEBUG=off; no worker running"
    )
    if not intake_load.use_wrk:
        result.notes.append(load.WRK_HINT)

    stack = harness.Stack()
    try:
        base = stack.start_api()
        figures = {}
        for name, path in (("baseline", "/bench/rows/"), ("intake", "/api/v1/booking-requests/")):
            intake_load.run(base + path, warm_up=True)
            figures[name] = intake_load.run(base + path)
    finally:
        stack.stop_all()

    base_run, intake = figures["baseline"], figures["intake"]
    result.figure("baseline (bare DRF create, one row)", base_run.summary())
    result.figure("intake (POST /booking-requests/)", intake.summary())
    result.figure("intake / baseline requests/s", harness.ratio(intake.rate, base_run.rate))
    result.figure("intake p99 / baseline p99", harness.ratio(intake.p99, base_run.p99))
    result.goal(
        f"intake ≥ {GOAL_RATIO}x the baseline's requests/s ({intake.rate / base_run.rate:.2f}x)",
        intake.rate >= GOAL_RATIO * base_run.rate,
    )
    result.goal(
        f"intake p99 within {GOAL_P99_RATIO}x the baseline's p99 "
        f"({intake.p99 * 1000:.1f} ms against {base_run.p99 * 1000:.1f} ms)",
        intake.p99 <= GOAL_P99_RATIO * base_run.p99,
    )

    # Nothing lost: every answered request left a row, and each row queued its allocation.
    # (wrk counts only requests answered before its deadline; the few in flight then also
    # commit, so the rows may exceed the count by up to one per connection.)
    rows = BookingRequest.objects.count()
    warm_rows = BookingRequest.objects.filter(start__gte=intake_load.warm_from).count()
    queued = harness.queue_length("allocation")
    result.check("every intake request answered 202", intake.errors == 0)
    result.check("every baseline request answered 201", base_run.errors == 0)
    result.check(
        f"a row for every accepted request ({rows} rows, {intake.requests} answered, warm-up excluded)",
        rows - warm_rows >= intake.requests,
    )
    result.check(f"an allocation task queued for every row ({queued} queued)", queued == rows)
    result.figure("baseline rows", Row.objects.count())
    harness.purge_queues()
    return result
