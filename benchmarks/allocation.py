"""2. allocation: a backlog of queued requests drained by the Procfile's worker.

Three phases, each with the worker exactly as the Procfile starts it (prefork, concurrency 2):
the request backlog (queued while no worker runs, then drained), the baseline backlog (the same
number of one-insert tasks), and a paced run at half the measured decision rate for the
request→decision latency. Rates come from the rows' own timestamps (first to last decision),
so the worker's start-up is left out of both alike.
"""

import time
from datetime import UTC, datetime, timedelta

from django.db.models import Count, Max, Min

from api.accounts.models import User
from api.bookings import services
from api.bookings.choices import RejectReason, RequestStatus
from api.bookings.models import Booking, BookingRequest
from api.notifications.choices import NotificationState
from api.notifications.models import Notification
from benchmarks import harness, seed
from benchmarks.baseline.models import Row
from workers import app

GOAL_RATIO = 0.5
GOAL_P99 = 1.0
PER_SPACE = 10  # requests per space in the backlog; the last repeats the first one's slot


def run(quick: bool) -> harness.Result:
    total, space_count = (400, 40) if quick else (20_000, 2_000)
    paced_seconds = 3 if quick else 20
    result = harness.Result("allocation")
    result.conditions.append(
        f"{total} queued requests over {space_count} spaces ({PER_SPACE} each, one of which "
        f"asks for a slot already asked for); the Procfile's worker (concurrency 2); "
        f"paced run {paced_seconds} s at half the measured rate"
    )
    spaces = seed.spaces(space_count)
    people = seed.users(total // 5)
    first = seed.next_hour(timedelta(hours=3))
    requests = BookingRequest.objects.bulk_create(
        [
            BookingRequest(
                user=people[(n * PER_SPACE + j) % len(people)],
                space=space,
                start=first + timedelta(hours=j % (PER_SPACE - 1)),
                end=first + timedelta(hours=j % (PER_SPACE - 1) + 1),
                party_size=2,
            )
            for n, space in enumerate(spaces)
            for j in range(PER_SPACE)
        ],
        batch_size=5000,
    )
    stack = harness.Stack()
    try:
        # The request backlog.
        for request in requests:
            app.send_task("allocation.allocate", args=[str(request.id)])
        stack.start_worker()
        harness.wait_until(
            lambda: not BookingRequest.objects.filter(status=RequestStatus.PENDING).exists(),
            timeout=120 if quick else 1200,
            what="the backlog to be decided",
        )
        stack.stop("worker")
        span = BookingRequest.objects.aggregate(a=Min("decided_at"), b=Max("decided_at"))
        rate = (total - 1) / (span["b"] - span["a"]).total_seconds()
        # The worker also sent decision emails meanwhile (it serves every queue, as in the
        # Procfile); the rest of them must not load the baseline's worker.
        mailed = Notification.objects.filter(state=NotificationState.SENT).count()
        harness.purge_queues()

        # The baseline backlog.
        sent = datetime.now(UTC).isoformat()
        for _ in range(total):
            app.send_task("allocation.bench_insert_row", args=[sent])
        stack.start_worker()
        harness.wait_until(
            lambda: Row.objects.count() >= total,
            timeout=120 if quick else 1200,
            what="the baseline backlog",
        )
        span = Row.objects.aggregate(a=Min("created_at"), b=Max("created_at"))
        base_rate = (total - 1) / (span["b"] - span["a"]).total_seconds()

        # The paced run, on the still running worker, on fresh slots a week later.
        paced = _paced(spaces, people, rate / 2, paced_seconds, first + timedelta(days=7))
    finally:
        stack.stop_all()

    decisions = dict(
        BookingRequest.objects.filter(id__in=[r.id for r in requests])
        .values_list("reason")
        .annotate(n=Count("id"))
        .values_list("reason", "n")
    )
    result.figure("decisions/s (backlog)", f"{rate:.0f}")
    result.figure("decision emails sent by the same worker during the drain", mailed)
    result.figure("baseline one-insert tasks/s", f"{base_rate:.0f}")
    result.figure("decisions / baseline rate", harness.ratio(rate, base_rate))
    result.figure(
        "paced run",
        f"{paced['count']} requests at {paced['rate']:.0f}/s (asked {rate / 2:.0f}/s)",
    )
    result.figure("request→decision p50 (paced)", harness.ms(paced["p50"]))
    result.figure("request→decision p99 (paced)", harness.ms(paced["p99"]))
    result.goal(
        f"decisions ≥ {GOAL_RATIO}x the baseline's rate ({rate / base_rate:.2f}x)",
        rate >= GOAL_RATIO * base_rate,
    )
    result.goal(
        f"request→decision p99 < 1 s at half the sustainable load ({paced['p99'] * 1000:.0f} ms)",
        paced["p99"] < GOAL_P99,
    )
    duplicates = len(spaces)
    result.check(
        f"every backlog request decided: {total - duplicates} confirmed, {duplicates} slot_taken "
        f"(got {decisions.get(None, 0)} confirmed, {decisions.get(RejectReason.SLOT_TAKEN, 0)} slot_taken)",
        decisions.get(None, 0) == total - duplicates
        and decisions.get(RejectReason.SLOT_TAKEN, 0) == duplicates,
    )
    result.check(
        "one booking per confirmed request",
        Booking.objects.count() == BookingRequest.objects.filter(status="confirmed").count(),
    )
    result.check(f"every paced request decided ({paced['pending']} pending)", not paced["pending"])
    result.check("every baseline task inserted its row", Row.objects.count() == total)
    return result


def _paced(spaces, people: list[User], rate: float, seconds: float, first: datetime) -> dict:
    """Requests through `request_booking` (row, then queue) at `rate` per second."""
    count = max(1, int(rate * seconds))
    began = time.monotonic()
    made = []
    for k in range(count):
        delay = began + k / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        start = first + timedelta(hours=k // len(spaces))
        made.append(
            services.request_booking(
                people[k % len(people)],
                space=spaces[k % len(spaces)],
                start=start,
                end=start + timedelta(hours=1),
                party_size=2,
            ).id
        )
    achieved = count / (time.monotonic() - began)
    rows = BookingRequest.objects.filter(id__in=made)
    harness.wait_until(
        lambda: not rows.filter(status=RequestStatus.PENDING).exists(),
        timeout=60,
        what="the paced requests to be decided",
    )
    latencies = [
        (decided - created).total_seconds()
        for created, decided in rows.values_list("created_at", "decided_at")
    ]
    return {
        "count": count,
        "rate": achieved,
        "p50": harness.percentile(latencies, 0.5),
        "p99": harness.percentile(latencies, 0.99),
        "pending": rows.filter(status=RequestStatus.PENDING).count(),
    }
