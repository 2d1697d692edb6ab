"""GET /api/v1/slots/: concrete bookable offers across every matching space, best first."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.db import transaction

from api.bookings import services
from api.bookings.models import BookingRequest
from api.catalogue.models import Closure, ExtraOpening
from tests.factories import (
    ActivityFactory,
    BookingFactory,
    SpaceFactory,
    UserFactory,
    VenueFactory,
    z,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/slots/"
NOW = datetime(2027, 1, 11, 6, 0, tzinfo=UTC)  # Monday 08:00 in Helsinki
MONDAY_16_TO_20 = [(0, 16 * 60, 20 * 60)]
# Kalasatama, and places about 1, 5 and 30 km from it.
KALASATAMA = (60.1875, 24.9776)
PASILA = (60.1986, 24.9335)  # ~2.8 km
ESPOO = (60.2055, 24.6559)  # ~17.9 km


def at(hour, minute=0, day=11):
    """January 2027 at a Helsinki wall-clock time (UTC+2), as UTC."""
    return datetime(2027, 1, day, tzinfo=UTC) + timedelta(hours=hour - 2, minutes=minute)


@pytest.fixture(autouse=True)
def monday_morning():
    with time_machine.travel(NOW, tick=False):
        yield


def room(name, capacity=12, place=KALASATAMA, venue=None, **fields):
    venue = venue or VenueFactory(latitude=place[0], longitude=place[1])
    fields.setdefault("opening_hours", MONDAY_16_TO_20)
    return SpaceFactory(name=name, capacity=capacity, venue=venue, **fields)


def search(client, **params):
    query = {
        "activity": "band-rehearsal",
        "party_size": 6,
        "from": z(at(16)),
        "to": z(at(20)),
        "duration_minutes": 60,
        **params,
    }
    response = client.get(URL, query)
    assert response.status_code == 200, response.json()
    return response.json()


def decide(space, start, duration) -> tuple[str, str | None]:
    """A direct request for the offer, decided by the worker's code: (status, reason)."""
    booking_request = BookingRequest.objects.create(
        user=UserFactory(), space=space, start=start, end=start + duration, party_size=6
    )
    services.allocate(booking_request.id)
    booking_request.refresh_from_db()
    return booking_request.status, booking_request.reason


def offers(body):
    return [(o["space"], datetime.fromisoformat(o["start"])) for o in body["results"]]


def test_offers_go_smallest_space_that_fits_then_nearest_then_earliest(anonymous):
    big = room("Hall", capacity=40)
    far = room("Far room", capacity=8, place=ESPOO)
    near = room("Near room", capacity=8, place=PASILA)
    room("Too small", capacity=4)
    body = search(anonymous, near="60.1875,24.9776", to=z(at(18)))
    starts = [at(16), at(16, 30), at(17)]  # 60 minutes from 16:00 to 18:00, every 30 minutes
    assert offers(body) == [
        *((near.pk, s) for s in starts),
        *((far.pk, s) for s in starts),
        *((big.pk, s) for s in starts),
    ]
    assert body["count"] == 9
    first = body["results"][0]
    assert first == {
        "space": near.pk,
        "venue": near.venue_id,
        "start": "2027-01-11T14:00:00Z",
        "end": "2027-01-11T15:00:00Z",
        "distance_km": first["distance_km"],
    }
    assert 2.5 < first["distance_km"] < 3.2
    assert 17 < body["results"][3]["distance_km"] < 19


def test_without_near_the_distance_is_null_and_equal_spaces_interleave_by_time(anonymous):
    venue = VenueFactory()
    one, two = room("One", venue=venue), room("Two", venue=venue)
    body = search(anonymous, to=z(at(17, 30)))
    assert offers(body) == [
        (one.pk, at(16)),
        (two.pk, at(16)),
        (one.pk, at(16, 30)),
        (two.pk, at(16, 30)),
    ]
    assert {o["distance_km"] for o in body["results"]} == {None}


def test_radius_km_keeps_the_spaces_within_it(anonymous):
    room("Here")
    room("Pasila", place=PASILA)
    room("Espoo", place=ESPOO)
    names = {
        radius: {
            o["space"]
            for o in search(anonymous, near="60.1875,24.9776", radius_km=radius)["results"]
        }
        for radius in (1, 5, 50)
    }
    assert (len(names[1]), len(names[5]), len(names[50])) == (1, 2, 3)


def test_the_filters_narrow_the_spaces(anonymous):
    kalasatama = room("Kalasatama room", equipment=["piano", "drums"])
    other = room("Other district", venue=VenueFactory(district="Kallio"), equipment=["piano"])
    yoga = ActivityFactory(slug="yoga", name_fi="Jooga", name_sv="Yoga", name_en="Yoga")
    room("Yoga only", activities=[yoga])
    assert {o["space"] for o in search(anonymous)["results"]} == {kalasatama.pk, other.pk}
    assert {o["space"] for o in search(anonymous, district="kallio")["results"]} == {other.pk}
    drums = search(anonymous, equipment=["drums", "piano"])["results"]
    assert {o["space"] for o in drums} == {kalasatama.pk}


def test_pages_hold_the_ranked_offers_in_order(anonymous):
    venue = VenueFactory()
    spaces = [room(f"Room {n}", venue=venue, opening_hours=[(0, 0, 24 * 60)]) for n in range(3)]
    window = {"from": z(at(10)), "to": z(at(23, 30)), "duration_minutes": 60}
    everything = []
    page = search(anonymous, **window)
    count = page["count"]
    while True:
        everything += offers(page)
        if not page["next"]:
            break
        page = anonymous.get(page["next"]).json()
    # From 10:00 to 22:30 local, every half hour: 26 starts; three spaces, interleaved by time.
    assert count == len(everything) == 3 * 26
    assert everything == sorted(everything, key=lambda o: (o[1], o[0]))
    assert {space for space, _ in everything} == {s.pk for s in spaces}
    assert anonymous.get(
        URL, {**window, "activity": "band-rehearsal", "party_size": 6, "page": 2}
    ).json()["previous"]


def test_every_offer_lies_in_availability_and_can_be_booked_and_then_is_gone(anonymous):
    space = room("Music room", buffer_minutes=15, lead_time_minutes=0)
    BookingFactory(space=space, start=at(17), end=at(18))
    body = search(anonymous, duration_minutes=60)
    free = anonymous.get(
        f"/api/v1/spaces/{space.pk}/availability/", {"from": z(at(0)), "to": z(at(23))}
    ).json()["free"]
    intervals = [
        (datetime.fromisoformat(i["start"]), datetime.fromisoformat(i["end"])) for i in free
    ]
    found = offers(body)
    assert found  # 16:00 and 18:15 … are free around the booking and its buffer
    for _, start in found:
        assert any(s <= start and start + timedelta(hours=1) <= e for s, e in intervals), start
    _, start = found[0]
    assert decide(space, start, timedelta(hours=1)) == ("confirmed", None)
    after = offers(search(anonymous, duration_minutes=60))
    assert (space.pk, start) not in after
    assert all(
        s >= start + timedelta(hours=1, minutes=15) or s + timedelta(hours=1, minutes=15) <= start
        for _, s in after
    )


def test_every_offer_is_bookable_as_it_stands(anonymous):
    space = room("Music room", lead_time_minutes=0, opening_hours=[(0, 16 * 60, 22 * 60)])
    BookingFactory(space=space, start=at(18), end=at(19, 30))
    found = offers(search(anonymous, to=z(at(22)), duration_minutes=90))
    assert len(found) == 3 + 2  # 16:00 to 16:30 before the booking, 19:30 to 20:30 after
    for _, start in found:
        # Each offer on its own, as the world stands (the savepoint undoes the booking).
        savepoint = transaction.savepoint()
        assert decide(space, start, timedelta(minutes=90)) == ("confirmed", None), start
        transaction.savepoint_rollback(savepoint)


def test_a_closure_and_an_extra_opening_change_the_offers(anonymous):
    space = room("Music room", lead_time_minutes=0)
    tuesday = date(2027, 1, 12)
    Closure.objects.create(
        space=space,
        first_date=date(2027, 1, 11),
        last_date=date(2027, 1, 11),
        opens=17 * 60,
        closes=24 * 60,
        reason_fi="Huolto",
        reason_sv="Underhåll",
        reason_en="Maintenance",
    )
    ExtraOpening.objects.create(space=space, date=tuesday, opens=10 * 60, closes=12 * 60)
    body = search(anonymous, to=z(at(23, day=12)))
    assert offers(body) == [
        (space.pk, at(16)),
        (space.pk, at(10, day=12)),
        (space.pk, at(10, 30, day=12)),
        (space.pk, at(11, day=12)),
    ]


def test_a_venue_closure_closes_all_its_spaces(anonymous):
    venue = VenueFactory()
    room("One", venue=venue)
    room("Two", venue=venue)
    Closure.objects.create(
        venue=venue,
        first_date=date(2027, 1, 11),
        last_date=date(2027, 1, 11),
        reason_fi="Tapahtuma",
        reason_sv="Evenemang",
        reason_en="Event",
    )
    assert search(anonymous)["count"] == 0


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"activity": None}, "activity"),
        ({"activity": "underwater-rugby"}, "activity"),
        ({"party_size": 0}, "party_size"),
        ({"party_size": "many"}, "party_size"),
        ({"party_size": 10**12}, "party_size"),
        ({"from": None}, "from"),
        ({"from": "2027-01-11T16:00:00"}, "from"),
        ({"from": "next monday"}, "from"),
        ({"to": "2027-01-11T10:00:00Z"}, "to"),
        ({"to": "2027-02-20T10:00:00Z"}, "to"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"duration_minutes": 10**9}, "duration_minutes"),
        ({"duration_minutes": 300}, "duration_minutes"),  # longer than the window
        ({"duration_minutes": "1h"}, "duration_minutes"),
        ({"near": "60.18"}, "near"),
        ({"near": "91,24"}, "near"),
        ({"near": "60,181"}, "near"),
        ({"near": "nan,24"}, "near"),
        ({"near": "x" * 5000}, "near"),
        ({"radius_km": 5}, "radius_km"),  # without near
        ({"near": "60.1,24.9", "radius_km": -1}, "radius_km"),
        ({"near": "60.1,24.9", "radius_km": "inf"}, "radius_km"),
        ({"near": "60.1,24.9", "radius_km": "far"}, "radius_km"),
        ({"district": "x" * 101}, "district"),
        ({"equipment": ["x" * 61]}, "equipment"),
        ({"page": "many"}, "detail"),
    ],
)
def test_a_bad_query_is_a_400_naming_the_parameter(anonymous, changes, field):
    room("Music room")
    query = {
        "activity": "band-rehearsal",
        "party_size": 6,
        "from": z(at(16)),
        "to": z(at(20)),
        "duration_minutes": 60,
        **changes,
    }
    query = {key: value for key, value in query.items() if value is not None}
    response = anonymous.get(URL, query)
    assert response.status_code == (404 if field == "detail" else 400), response.json()
    assert field in response.json()


def test_a_window_far_in_the_past_or_future_has_no_offers(anonymous):
    room("Music room", opening_hours=[(d, 0, 24 * 60) for d in range(7)], buffer_minutes=30)
    for start, end in (
        ("1970-01-01T00:00:00Z", "1970-01-02T00:00:00Z"),
        ("9998-12-30T00:00:00Z", "9998-12-31T00:00:00Z"),
    ):
        assert search(anonymous, **{"from": start, "to": end})["count"] == 0
    # Beyond the years the API takes at all (api/fields.py), a 400.
    response = anonymous.get(URL, {"from": "0001-01-01T00:00:00Z", "to": "0001-01-02T00:00:00Z"})
    assert response.status_code == 400 and "from" in response.json()
