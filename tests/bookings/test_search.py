"""search(): the offers across spaces against a brute force of the rules, and its pages."""

import random
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from api.bookings import availability, rules, search
from api.catalogue.models import Closure, ExtraOpening
from tests.factories import ActivityFactory, BookingFactory, SpaceFactory, VenueFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 1, 11, 6, 0, tzinfo=UTC)  # Monday 08:00 in Helsinki
EVENINGS = [(weekday, 16 * 60, 22 * 60) for weekday in range(7)]
PLACES = [(60.1875, 24.9776), (60.1986, 24.9335), (60.2055, 24.6559)]


@pytest.fixture(autouse=True)
def monday_morning():
    with time_machine.travel(NOW, tick=False):
        yield


def brute_force(query: search.SlotQuery, spaces) -> list[tuple]:
    """Every (space, start) minute by minute that breaks no rule and meets no live booking
    within the buffer, ranked by rules.offer_rank."""
    found = []
    for space in spaces:
        space_rules = availability.rules_of(space, query.start, query.end)
        bookings = availability.bookings_of(
            space, query.start - timedelta(days=1), query.end + timedelta(days=1)
        )
        busy = rules.widen(bookings, space_rules.buffer)
        distance = None
        if query.near:
            distance = search._grouped(search._matching_spaces(query).filter(pk=space.pk), query)[
                0
            ]["distance_km"]
        moment = query.start
        while moment + query.duration <= query.end:
            end = moment + query.duration
            clear = all(end <= b or moment >= e for b, e in busy)
            if (
                clear
                and rules.breach(
                    space_rules, moment, end, query.party_size, query.activities[0], NOW
                )
                is None
            ):
                found.append(
                    (rules.offer_rank(space.capacity, distance, moment, space.pk), space.pk, moment)
                )
            moment += timedelta(minutes=15)
    return [(space_id, start) for _, space_id, start in sorted(found)]


@pytest.mark.parametrize("seed", range(4))
def test_the_offers_are_exactly_what_the_rules_allow_in_rank_order(seed):
    chance = random.Random(seed)
    activity = ActivityFactory()
    venues = [VenueFactory(latitude=lat, longitude=lon) for lat, lon in PLACES]
    spaces = []
    for _ in range(8):
        space = SpaceFactory(
            venue=chance.choice(venues),
            capacity=chance.choice([6, 8, 12]),
            opening_hours=chance.choice([EVENINGS, [(0, 8 * 60, 20 * 60), (1, 0, 24 * 60)]]),
            slot_minutes=chance.choice([30, 60]),
            min_duration_minutes=60,
            buffer_minutes=chance.choice([0, 15, 30]),
            lead_time_minutes=chance.choice([0, 120]),
            activities=[activity],
        )
        spaces.append(space)
        for _ in range(chance.randint(0, 3)):
            day = chance.randint(11, 13)
            start = datetime(
                2027, 1, day, chance.randint(6, 19), chance.choice([0, 30]), tzinfo=UTC
            )
            if not space.bookings.filter(
                start__lt=start + timedelta(hours=3), end__gt=start - timedelta(hours=2)
            ).exists():
                BookingFactory(
                    space=space, start=start, end=start + timedelta(hours=chance.choice([1, 2]))
                )
    Closure.objects.create(
        space=spaces[0],
        first_date=date(2027, 1, 12),
        last_date=date(2027, 1, 12),
        opens=17 * 60,
        closes=19 * 60,
        reason_fi="a",
        reason_sv="b",
        reason_en="c",
    )
    Closure.objects.create(
        venue=venues[1],
        first_date=date(2027, 1, 13),
        last_date=date(2027, 1, 13),
        reason_fi="a",
        reason_sv="b",
        reason_en="c",
    )
    ExtraOpening.objects.create(
        space=spaces[1], date=date(2027, 1, 12), opens=9 * 60, closes=11 * 60
    )
    near = PLACES[0] if seed % 2 else None
    query = search.SlotQuery(
        party_size=7,
        start=datetime(2027, 1, 11, 12, tzinfo=UTC),
        end=datetime(2027, 1, 14, 0, tzinfo=UTC),
        duration=timedelta(minutes=120),
        activities=(activity.pk,),
        near=near,
    )
    offers = search.search(query)
    expected = brute_force(query, [s for s in spaces if s.capacity >= 7])
    everything = [(offer.space, offer.start) for offer in offers]
    assert len(expected) > 20 and len({space for space, _ in expected}) > 2
    assert everything == expected
    assert len(offers) == len(expected)
    for start in range(0, len(expected), 7):
        assert [(o.space, o.start) for o in offers[start : start + 11]] == expected[
            start : start + 11
        ]
    assert all(o.end - o.start == timedelta(hours=2) for o in offers)
