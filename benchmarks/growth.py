"""5. growth: what a beat sweep and a read cost at 10k, 100k and 1M bookings.

The city grows the way a real one does: a constant near future (a booking a space in the coming
week, at a day and hour of its own) and a history that keeps growing (one past booking a space a
day, going back), each booking with its decided request. Rows go in with INSERT … SELECT, then
ANALYZE (what autovacuum would do soon after). At each size, with the same small amount of due
work (50 bookings just ended, 50 requests left pending), every beat sweep runs in-process and
the reads are timed through the Procfile's gunicorn; the figure is the median, and the ratio
largest / smallest. Slot search (a week's window over every space, and the same near a point)
gets its p50 and p99 over more repeats: its goal is a p99.
"""

import http.client
import itertools
import logging
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlsplit

from django.db import connection
from django.urls import Resolver404, resolve

import beat.schedule
from api.bookings.choices import BookingStatus, RequestStatus
from api.bookings.models import Booking, BookingRequest
from api.catalogue.models import Activity
from benchmarks import harness, seed
from workers import app

GOAL_GROWTH = 2.0
GOAL_SLOTS_P99 = 0.100
DUE = 50
SLOTS = "GET /slots/ (a week, every space)"
SLOTS_NEAR = "GET /slots/?near&radius_km (a week, 5 km)"
SLOTS_BASELINE = "baseline GET /activities/"


def run(quick: bool) -> harness.Result:
    sizes = [1_000, 3_000, 10_000] if quick else [10_000, 100_000, 1_000_000]
    space_count = 300 if quick else 10_000
    repeats = 7 if quick else 31
    slot_repeats = 30 if quick else 200
    result = harness.Result("growth")
    # The requeue sweep warns at every run; here it runs on purpose, dozens of times.
    logging.getLogger("api.bookings.services").setLevel(logging.ERROR)
    result.conditions.append(
        f"{space_count} spaces in {space_count // 10} venues; bookings at "
        f"{', '.join(f'{s:,}' for s in sizes)} (with as many requests), {space_count} of them "
        f"in the coming week; {DUE} due bookings and {DUE} stale requests at each size; median "
        f"of {repeats}, slot search p50 and p99 of {slot_repeats}"
    )
    spaces = seed.spaces(space_count, venues=space_count // 10)
    people = seed.users(200 if quick else 1000)
    activity = Activity.objects.create(
        slug="band-rehearsal", name_fi="Bändi", name_sv="Band", name_en="Band rehearsal"
    )
    Activity.spaces.through.objects.bulk_create(
        [Activity.spaces.through(activity=activity, space=s) for s in spaces]
    )
    # The seeding SQL numbers spaces and people from the first id on.
    assert spaces[-1].pk - spaces[0].pk == len(spaces) - 1, "space ids are not contiguous"
    assert people[-1].pk - people[0].pk == len(people) - 1, "user ids are not contiguous"
    now = datetime.now(UTC)
    due = _seed_due(spaces, people, now)
    _seed_future(spaces, people, now)

    app.loader.import_default_modules()
    sweeps = {entry["task"] for entry in beat.schedule.SCHEDULE.values()}
    missing = sorted(name for name in sweeps if name not in app.tasks)
    if missing:
        result.notes.append(f"sweeps in the schedule but not registered: {', '.join(missing)}")
    has_slots = _resolves("/api/v1/slots/")
    if not has_slots:
        result.notes.append("GET /api/v1/slots/ does not exist yet: slot search not timed")

    timings: dict[str, list[float]] = {}
    percentiles: dict[str, list[tuple[float, float]]] = {}
    stack = harness.Stack()
    try:
        base = stack.start_api()
        client = _Client(base)
        probe = itertools.cycle([s.pk for s in spaces[:: max(1, space_count // 20)]][:20])
        history = 0
        for size in sizes:
            history = _grow_to(size, history, spaces, people, now)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            for name in sorted(sweeps - set(missing)):
                timings.setdefault(f"sweep {name}", []).append(
                    _median(repeats, lambda name=name: _sweep(name, due))
                )
            window = {"from": _z(now), "to": _z(now + timedelta(days=31))}
            timings.setdefault("GET /spaces/{id}/availability/ (31 days)", []).append(
                _median(
                    repeats,
                    lambda window=window: client.get(
                        f"/api/v1/spaces/{next(probe)}/availability/?{urlencode(window)}"
                    ),
                )
            )
            slot = now.replace(minute=0, second=0, microsecond=0) + timedelta(days=3, hours=1)
            search = {"free_from": _z(slot), "free_to": _z(slot + timedelta(hours=2))}
            timings.setdefault("GET /spaces/?free_from&free_to (space search)", []).append(
                _median(
                    repeats,
                    lambda search=search: client.get(f"/api/v1/spaces/?{urlencode(search)}"),
                )
            )
            if has_slots:
                week = {
                    "activity": "band-rehearsal",
                    "party_size": 2,
                    "from": _z(now + timedelta(days=1)),
                    "to": _z(now + timedelta(days=8)),
                    "duration_minutes": 60,
                }
                near = {**week, "near": "60.1750,24.9450", "radius_km": 5}
                # Each slot search alternates with the baseline, so that a busy moment of the
                # shared machine weighs on both alike.
                for name, query in ((SLOTS, week), (SLOTS_NEAR, near)):
                    searched, baseline = _alternating(
                        slot_repeats,
                        lambda query=query: client.get(f"/api/v1/slots/?{urlencode(query)}"),
                        lambda: client.get("/api/v1/activities/"),
                    )
                    percentiles.setdefault(name, []).append(searched)
                    percentiles.setdefault(f"{SLOTS_BASELINE}, beside {name}", []).append(baseline)
            harness.purge_queues()
    finally:
        stack.stop_all()

    labels = [f"{s:,}" for s in sizes]
    result.figure("operation", " → ".join(labels) + " bookings (median)")
    for name, values in timings.items():
        growth = values[-1] / values[0]
        result.figure(name, " → ".join(harness.ms(v) for v in values) + f" ({growth:.2f}x)")
        result.goal(
            f"{name} within {GOAL_GROWTH:.0f}x from {labels[0]} to {labels[-1]} ({growth:.2f}x)",
            growth <= GOAL_GROWTH,
        )
    for name, values in percentiles.items():
        p50s, p99s = [p50 for p50, _ in values], [p99 for _, p99 in values]
        growth = p99s[-1] / p99s[0]
        result.figure(f"{name} p50", " → ".join(harness.ms(v) for v in p50s))
        result.figure(f"{name} p99", " → ".join(harness.ms(v) for v in p99s) + f" ({growth:.2f}x)")
        if name.startswith(SLOTS_BASELINE):
            continue
        result.goal(
            f"{name} p99 within {GOAL_GROWTH:.0f}x from {labels[0]} to {labels[-1]} "
            f"({growth:.2f}x)",
            growth <= GOAL_GROWTH,
        )
        if name == SLOTS:
            result.goal(
                f"{name} p99 under {GOAL_SLOTS_P99 * 1000:.0f} ms at {space_count:,} spaces and "
                f"{labels[-1]} bookings ({harness.ms(p99s[-1])})",
                p99s[-1] < GOAL_SLOTS_P99 if not quick else None,
            )
    result.check(f"{sizes[-1]:,} bookings seeded", Booking.objects.count() == sizes[-1] + DUE)
    return result


def _z(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _resolves(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


def _median(repeats: int, action) -> float:
    action()  # untimed: warms caches and reopens an idle connection
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        action()
        times.append(time.perf_counter() - began)
    return harness.median(times)


def _alternating(repeats: int, action, baseline) -> tuple[tuple[float, float], ...]:
    """(p50, p99) of `repeats` timed runs of `action` and of `baseline`, taken in turn, after
    one untimed run of each."""
    action()
    baseline()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for timed, run in zip(times, (action, baseline), strict=True):
            began = time.perf_counter()
            run()
            timed.append(time.perf_counter() - began)
    return tuple((harness.percentile(t, 0.5), harness.percentile(t, 0.99)) for t in times)


class _Client:
    """A keep-alive connection, opened again when gunicorn closed it while idle (after 2 s);
    a non-200 answer stops the benchmark."""

    def __init__(self, base: str):
        parts = urlsplit(base)
        self.address = (parts.hostname, parts.port)
        self.conn = http.client.HTTPConnection(*self.address, timeout=60)

    def get(self, path: str) -> None:
        try:
            response = self._get(path)
        except (http.client.RemoteDisconnected, ConnectionError):
            self.conn.close()
            self.conn = http.client.HTTPConnection(*self.address, timeout=60)
            response = self._get(path)
        body = response.read()
        if response.status != 200:
            raise harness.CorrectnessError(f"GET {path} answered {response.status}: {body[:300]}")

    def _get(self, path: str):
        self.conn.request("GET", path)
        return self.conn.getresponse()


def _seed_due(spaces, people, now: datetime) -> dict:
    """The constant due work: bookings that just ended, requests left pending."""
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)
    bookings = [
        Booking(
            space=space,
            user=people[n % len(people)],
            start=start,
            end=start + timedelta(hours=1),
            party_size=2,
        )
        for n, space in enumerate(spaces[:DUE])
    ]
    for booking in bookings:  # save() derives `blocked`; bulk_create would not
        booking.blocked = _range(booking.start, booking.end)
    Booking.objects.bulk_create(bookings)
    requests = BookingRequest.objects.bulk_create(
        BookingRequest(
            user=people[n % len(people)],
            space=space,
            start=start + timedelta(days=20),
            end=start + timedelta(days=20, hours=1),
            party_size=2,
        )
        for n, space in enumerate(spaces[:DUE])
    )
    return {"bookings": [b.pk for b in bookings], "requests": [r.pk for r in requests]}


def _range(start, end):
    from django.db.backends.postgresql.psycopg_any import DateTimeTZRange

    return DateTimeTZRange(start, end, "[)")


def _sweep(name: str, due: dict) -> None:
    """Make the same work due again, then run the sweep as beat's task would, in-process."""
    Booking.objects.filter(pk__in=due["bookings"]).update(status=BookingStatus.CONFIRMED)
    BookingRequest.objects.filter(pk__in=due["requests"]).update(
        status=RequestStatus.PENDING, queued_at=datetime.now(UTC) - timedelta(hours=1)
    )
    app.tasks[name]()


def _seed_future(spaces, people, now: datetime) -> None:
    """A booking a space in the coming week, two hours at a day and an hour of its own (so that
    no two spaces' offers are alike): the part that slot search and availability read."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = "%(day)s::timestamptz + ((1 + g %% 6) * interval '1 day') + ((6 + g * 7 %% 14) * interval '1 hour')"
    with connection.cursor() as cursor:
        cursor.execute(
            'INSERT INTO bookings_booking (space_id, user_id, start, "end", blocked, '
            "party_size, status, created_at) SELECT %(first_space)s + g, "
            f"%(first_user)s + g %% %(users)s, {start}, {start} + interval '2 hours', "
            f"tstzrange({start}, {start} + interval '2 hours', '[)'), 2, 'confirmed', now() "
            "FROM generate_series(0, %(spaces)s - 1) AS g",
            {
                "first_space": spaces[0].pk,
                "first_user": people[0].pk,
                "users": len(people),
                "spaces": len(spaces),
                "day": day,
            },
        )


def _grow_to(size: int, history: int, spaces, people, now: datetime) -> int:
    """Add past bookings (one a space a day, going back) until there are `size` in all."""
    wanted = size - len(spaces)
    if wanted <= history:
        return history
    day = now.replace(hour=10, minute=0, second=0, microsecond=0)
    with connection.cursor() as cursor:
        for table, columns in (
            (
                "bookings_booking",
                'space_id, user_id, start, "end", blocked, party_size, status, created_at',
            ),
            (
                "bookings_bookingrequest",
                'id, space_id, user_id, start, "end", party_size, purpose, status, created_at, '
                "queued_at, decided_at, equipment",
            ),
        ):
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT {_select(table)} "
                "FROM generate_series(%(lo)s, %(hi)s) AS g",
                {
                    "lo": history,
                    "hi": wanted - 1,
                    "spaces": len(spaces),
                    "first_space": spaces[0].pk,
                    "first_user": people[0].pk,
                    "users": len(people),
                    "day": day,
                },
            )
    return wanted


def _select(table: str) -> str:
    # Booking g: space first_space + g % spaces, on day g / spaces + 2 before today, 10-12 UTC.
    start = "%(day)s::timestamptz - ((g / %(spaces)s + 2) * interval '1 day')"
    space = "%(first_space)s + g %% %(spaces)s"
    user = "%(first_user)s + g %% %(users)s"
    if table == "bookings_booking":
        return (
            f"{space}, {user}, {start}, {start} + interval '2 hours', "
            f"tstzrange({start}, {start} + interval '2 hours', '[)'), 2, 'completed', {start}"
        )
    return (
        f"gen_random_uuid(), {space}, {user}, {start}, {start} + interval '2 hours', 2, '', "
        f"'confirmed', {start} - interval '1 day', {start} - interval '1 day', "
        f"{start} - interval '1 day', '{{}}'"
    )
