"""6. flexible: many flexible requests for fewer spaces in one window; each space goes once.

2,000 flexible requests (any space for the activity, two hours, in one two-hour window) for 500
spaces, committed and queued together, decided by the Procfile's worker already running: exactly
500 may be confirmed, one per space, and the rest rejected `no_space_available`. The baseline,
in the same run: as many direct requests with the same outcome (four for each space's slot), so
the ratio is what finding the space costs over being told it.
"""

import time
from datetime import timedelta

from django.db import transaction
from django.db.models import Count, Max, Min
from django.utils import timezone

from api.bookings.choices import BookingStatus, RejectReason, RequestStatus
from api.bookings.models import Booking, BookingRequest
from api.catalogue.models import Activity
from benchmarks import harness, seed
from workers.queue import enqueue_on_commit

CONTENDERS = 4  # requests per space


def run(quick: bool) -> harness.Result:
    space_count = 50 if quick else 500
    count = CONTENDERS * space_count
    result = harness.Result("flexible")
    result.conditions.append(
        f"{count} flexible requests from {count} people for {space_count} spaces, one two-hour "
        "window that each space fits once, committed and queued together; the Procfile's worker "
        f"(concurrency 2) already running; baseline: {count} direct requests, "
        f"{CONTENDERS} for each space's slot"
    )
    spaces = seed.spaces(space_count, venues=max(1, space_count // 10))
    activity = Activity.objects.create(
        slug="band-rehearsal", name_fi="Bändi", name_sv="Band", name_en="Band rehearsal"
    )
    Activity.spaces.through.objects.bulk_create(
        [Activity.spaces.through(activity=activity, space=s) for s in spaces]
    )
    people = seed.users(count)
    start = seed.next_hour(timedelta(hours=3))
    end = start + timedelta(hours=2)
    flexible = [
        BookingRequest(
            user=person,
            activity=activity,
            party_size=2,
            window_start=start,
            window_end=end,
            duration_minutes=120,
        )
        for person in people
    ]
    direct = [
        BookingRequest(
            user=person, space=spaces[n % space_count], start=start, end=end, party_size=2
        )
        for n, person in enumerate(people)
    ]
    stack = harness.Stack()
    try:
        stack.start_worker()
        # Warm the worker's processes (imports, connections) so neither run pays for it.
        _decide_all(
            [
                BookingRequest(
                    user=person, space=space, start=end, end=end + timedelta(hours=1), party_size=2
                )
                for person, space in zip(people[:10], spaces, strict=False)
            ],
            quick,
        )
        runs, outcomes = {}, {}
        for name, requests in (("baseline (direct)", direct), ("flexible", flexible)):
            runs[name] = _decide_all(requests, quick)
            outcomes[name] = _outcomes(runs[name]["requests"])
            live = Booking.objects.filter(status__in=BookingStatus.live(), start=start)
            result.check(
                f"{name}: one live booking a space ({live.count()} for "
                f"{live.values('space').distinct().count()} spaces)",
                live.count() == space_count == live.values("space").distinct().count(),
            )
            # The next run starts from free spaces again.
            live.update(status=BookingStatus.CANCELLED)
    finally:
        stack.stop_all()

    for name, run_ in runs.items():
        result.figure(f"{name}: time to queue them all", harness.ms(run_["queued"]))
        result.figure(f"{name}: first request → last decision", f"{run_['decided_in']:.2f} s")
        result.figure(f"{name}: decisions/s", f"{count / run_['decided_in']:.0f}")
    flexible_time = runs["flexible"]["decided_in"]
    baseline_time = runs["baseline (direct)"]["decided_in"]
    result.figure("flexible / baseline time", harness.ratio(flexible_time, baseline_time))
    confirmed = outcomes["flexible"].get(None, 0)
    rejected = outcomes["flexible"].get(RejectReason.NO_SPACE_AVAILABLE, 0)
    result.check(
        f"exactly {space_count} flexible requests confirmed ({confirmed})", confirmed == space_count
    )
    result.check(
        f"every other one no_space_available ({rejected} of {count - space_count})",
        rejected == count - space_count,
    )
    taken = outcomes["baseline (direct)"].get(RejectReason.SLOT_TAKEN, 0)
    result.check(
        f"baseline: {space_count} confirmed, the rest slot_taken ({taken})",
        taken == count - space_count,
    )
    result.notes.append(
        "the issue sets no goal for the time; the ratio says what finding the space costs over "
        "being told it"
    )
    return result


def _decide_all(requests: list[BookingRequest], quick: bool) -> dict:
    """Commit and queue the requests together; wait until every one is decided."""
    began, since = time.monotonic(), timezone.now()
    with transaction.atomic():
        created = BookingRequest.objects.bulk_create(requests)
        for request in created:
            enqueue_on_commit("allocation.allocate", request.id)
    queued = time.monotonic() - began
    harness.wait_until(
        lambda: not BookingRequest.objects.filter(status=RequestStatus.PENDING).exists(),
        timeout=300 if quick else 1200,
        interval=0.1,
        what="every request to be decided",
    )
    mine = BookingRequest.objects.filter(created_at__gte=since)
    span = mine.aggregate(created=Min("created_at"), last=Max("decided_at"))
    decided_in = (span["last"] - span["created"]).total_seconds()
    return {"requests": mine, "queued": queued, "decided_in": decided_in}


def _outcomes(requests) -> dict:
    return dict(requests.values_list("reason").annotate(n=Count("id")).values_list("reason", "n"))
