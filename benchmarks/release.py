"""7. release: a release window closes with 5,000 requests for 500 slots, and is drawn.

The requests are in the database as intake leaves them (pending, marked with the window); the
collection has just closed. The draw (api/bookings/release.py, what the beat sweep calls) is
timed from the first read to its commit: every request decided in the lottery's order through
allocate()'s own decision, the outcomes and the order stored. Facts: exactly one confirmed
request per slot, no two live bookings of a space overlapping, every request decided, and no
one given a second slot while someone still waiting for a first had a request untried.
"""

import random
import time
from collections import Counter
from datetime import timedelta

from django.db import connection
from django.db.models import Count
from django.utils import timezone

from api.bookings import release
from api.bookings.choices import RequestStatus
from api.bookings.models import BookingRequest, ReleaseWindow
from benchmarks import harness, seed


def run(quick: bool) -> harness.Result:
    spaces_count, evenings, requests_count, people_count = (
        (4, 5, 200, 80) if quick else (50, 10, 5000, 2000)
    )
    slots = spaces_count * evenings
    result = harness.Result("release")
    result.conditions.append(
        f"{requests_count} requests from {people_count} people (1 to 5 each, for random slots) "
        f"for {slots} two-hour slots ({spaces_count} spaces, {evenings} evenings each), collected "
        "in one release window and drawn at once in this process"
    )
    rooms = seed.spaces(spaces_count, max_advance_days=90)
    people = seed.users(people_count)
    first_evening = seed.next_hour(timedelta(days=3))
    starts = [first_evening + timedelta(days=day) for day in range(evenings)]
    now = timezone.now()
    window = ReleaseWindow.objects.create(
        venue=rooms[0].venue,
        period_start=starts[0],
        period_end=starts[-1] + timedelta(days=1),
        collect_from=now - timedelta(days=1),
        collect_until=now - timedelta(seconds=1),
        seed=20270301,
    )
    rng = random.Random(1)
    wanted = []
    while len(wanted) < requests_count:
        person = rng.choice(people)
        for _ in range(rng.randint(1, 5)):
            wanted.append((person, rng.choice(rooms), rng.choice(starts)))
    BookingRequest.objects.bulk_create(
        [
            BookingRequest(
                user=person,
                space=room,
                start=start,
                end=start + timedelta(hours=2),
                party_size=4,
                release_window=window,
            )
            for person, room, start in wanted[:requests_count]
        ],
        batch_size=seed.BATCH,
    )

    began = time.monotonic()
    drawn = release.draw(window.pk)
    took = time.monotonic() - began

    window.refresh_from_db()
    outcomes = Counter(entry["outcome"] for entry in window.draw)
    pending = BookingRequest.objects.filter(status=RequestStatus.PENDING).count()
    confirmed_slots = (
        BookingRequest.objects.filter(release_window=window, status=RequestStatus.CONFIRMED)
        .values("space", "start")
        .annotate(n=Count("id"))
    )
    result.figure("time to draw and decide all", f"{took:.2f} s")
    result.figure("requests decided per second", f"{requests_count / took:.0f}")
    result.figure("outcomes", ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    result.check("the window was drawn", drawn)
    result.check(f"every request decided ({pending} pending)", pending == 0)
    result.check(
        f"exactly {slots} confirmed ({outcomes['confirmed']})", outcomes["confirmed"] == slots
    )
    result.check("one confirmed request per slot", all(row["n"] == 1 for row in confirmed_slots))
    result.check(f"no overlap ({_overlaps()} overlapping pairs)", _overlaps() == 0)
    result.check("no second slot before every first", _firsts_first(window.draw))
    return result


def _overlaps() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM bookings_booking a JOIN bookings_booking b"
            " ON a.space_id = b.space_id AND a.id < b.id AND a.blocked && b.blocked"
            " WHERE a.status IN ('confirmed', 'completed') AND b.status IN ('confirmed', 'completed')"
        )
        return cursor.fetchone()[0]


def _firsts_first(order: list[dict]) -> bool:
    """Whether, at every second win, everyone without a win had no request left to try."""
    left = Counter(entry["user"] for entry in order)
    wins = Counter()
    for entry in order:
        left[entry["user"]] -= 1
        won = entry["outcome"] == "confirmed"
        if won and wins[entry["user"]] and any(left[person] for person in left if not wins[person]):
            return False
        wins[entry["user"]] += won
    return True
