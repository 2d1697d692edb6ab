"""Flexible requests: any space for an activity, a party and a window, decided by the worker."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from api.bookings import search, services
from api.bookings.choices import BookingStatus
from api.bookings.models import Booking, BookingRequest
from api.catalogue import geo
from api.catalogue.models import Space
from tests.conftest import all_at_once, client_for, wait_for
from tests.factories import (
    ActivityFactory,
    BookingFactory,
    SpaceFactory,
    UserFactory,
    VenueFactory,
    z,
)

URL = "/api/v1/booking-requests/"
NOW = datetime(2027, 1, 11, 6, 0, tzinfo=UTC)  # Monday 08:00 in Helsinki
EVENINGS = [(weekday, 16 * 60, 22 * 60) for weekday in range(7)]
FAR = (60.2055, 24.6559)  # Espoo, ~18 km from the factories' Kalasatama


def at(hour, minute=0, day=14):
    """Thursday 14 January 2027 (unless told) at a Helsinki wall-clock time, as UTC."""
    return datetime(2027, 1, day, tzinfo=UTC) + timedelta(hours=hour - 2, minutes=minute)


def flexible(**changes):
    body = {
        "activity": "band-rehearsal",
        "party_size": 6,
        "window_start": z(at(17)),
        "window_end": z(at(22)),
        "duration_minutes": 120,
        **changes,
    }
    return {key: value for key, value in body.items() if value is not None}


@pytest.fixture
def thursday_week():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.mark.django_db
def test_a_flexible_request_is_accepted_with_202_and_no_space_yet(as_owner, thursday_week):
    SpaceFactory(opening_hours=EVENINGS)
    body = flexible(near="60.1875,24.9776", radius_km=5, district="Kalasatama", equipment=["drums"])
    response = as_owner.post(URL, body, format="json")
    assert response.status_code == 202, response.json()
    shown = response.json()
    assert response["Location"] == f"{URL}{shown['id']}/"
    assert {k: shown[k] for k in ("status", "space", "start", "end", "booking", "reason")} == {
        "status": "pending",
        "space": None,
        "start": None,
        "end": None,
        "booking": None,
        "reason": None,
    }
    assert {k: shown[k] for k in body} == {
        **body,
        "window_start": z(at(17)),
        "window_end": z(at(22)),
    }
    stored = BookingRequest.objects.get()
    assert (stored.is_flexible, stored.near_latitude, stored.radius_km) == (True, 60.1875, 5.0)


@pytest.mark.django_db
def test_a_direct_request_shows_no_flexible_criteria(as_owner, space):
    start = (datetime.now(UTC) + timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    body = {
        "space": space.pk,
        "start": z(start),
        "end": z(start + timedelta(hours=1)),
        "party_size": 2,
    }
    shown = as_owner.post(URL, body, format="json").json()
    assert {
        k: shown[k] for k in ("window_start", "window_end", "duration_minutes", "near")
    } == dict.fromkeys(("window_start", "window_end", "duration_minutes", "near"))
    assert shown["equipment"] == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"activity": None}, "activity"),
        ({"activity": "underwater-rugby"}, "activity"),
        ({"party_size": None}, "party_size"),
        ({"party_size": 0}, "party_size"),
        ({"party_size": 2**31}, "party_size"),
        ({"window_start": None}, "window_start"),
        ({"window_end": None}, "window_end"),
        ({"duration_minutes": None}, "duration_minutes"),
        ({"window_start": "2027-01-14T17:00:00"}, "window_start"),
        ({"window_end": "thursday"}, "window_end"),
        ({"window_end": z(at(16))}, "window_end"),
        ({"window_end": z(at(17, day=16) + timedelta(days=31))}, "window_end"),
        ({"window_start": z(at(17, day=5)), "window_end": z(at(20, day=5))}, "window_end"),
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"duration_minutes": 600}, "duration_minutes"),
        ({"duration_minutes": 2.5}, "duration_minutes"),
        ({"duration_minutes": 10**12}, "duration_minutes"),
        ({"district": ""}, "district"),
        ({"district": "x" * 101}, "district"),
        ({"district": 7}, None),  # a number is read as its text: harmless, so accepted
        ({"near": "60.18"}, "near"),
        ({"near": "60.18,24.97,3"}, "near"),
        ({"near": "-91,24"}, "near"),
        ({"near": "inf,24"}, "near"),
        ({"near": [60.18, 24.97]}, "near"),
        ({"radius_km": 3}, "radius_km"),
        ({"near": "60.18,24.97", "radius_km": 0}, "radius_km"),
        ({"near": "60.18,24.97", "radius_km": 10**9}, "radius_km"),
        ({"near": "60.18,24.97", "radius_km": "near"}, "radius_km"),
        ({"equipment": "drums"}, "equipment"),
        ({"equipment": ["x" * 61]}, "equipment"),
        ({"equipment": ["drums"] * 21}, "equipment"),
        ({"equipment": [{"a": 1}]}, "equipment"),
        ({"start": z(at(17))}, "start"),
        ({"end": z(at(19))}, "end"),
    ],
)
def test_a_bad_flexible_request_is_a_400_naming_the_field_and_stores_nothing(
    as_owner, thursday_week, changes, field
):
    ActivityFactory()
    response = as_owner.post(URL, flexible(**changes), format="json")
    if field is None:
        assert response.status_code == 202
        return
    assert response.status_code == 400, response.json()
    assert field in response.json(), response.json()
    assert not BookingRequest.objects.exists()


@pytest.mark.django_db
def test_a_space_with_flexible_criteria_is_a_400(as_owner, space, thursday_week):
    body = {**flexible(), "space": space.pk, "start": z(at(18)), "end": z(at(20))}
    response = as_owner.post(URL, body, format="json")
    assert response.status_code == 400
    assert "window_start" in response.json()
    assert not BookingRequest.objects.exists()


@pytest.mark.django_db
def test_a_body_with_neither_a_space_nor_a_window_names_space(as_owner, thursday_week):
    ActivityFactory()
    response = as_owner.post(URL, {"party_size": 4, "activity": "band-rehearsal"}, format="json")
    assert response.status_code == 400
    assert "space" in response.json()


def decide(user=None, **changes) -> BookingRequest:
    body = flexible(**changes)
    near = geo.parse_point(body["near"]) if "near" in body else None
    booking_request = BookingRequest.objects.create(
        user=user or UserFactory(),
        activity=ActivityFactory(),
        party_size=body["party_size"],
        window_start=datetime.fromisoformat(body["window_start"]),
        window_end=datetime.fromisoformat(body["window_end"]),
        duration_minutes=body["duration_minutes"],
        near_latitude=near and near[0],
        near_longitude=near and near[1],
        radius_km=body.get("radius_km"),
    )
    services.allocate(booking_request.id)
    booking_request.refresh_from_db()
    return booking_request


@pytest.mark.django_db
def test_the_worker_books_the_best_offer_and_the_request_shows_it(as_owner, owner, thursday_week):
    big = SpaceFactory(capacity=40, opening_hours=EVENINGS)
    far = SpaceFactory(
        capacity=8, opening_hours=EVENINGS, venue=VenueFactory(latitude=FAR[0], longitude=FAR[1])
    )
    near = SpaceFactory(capacity=8, opening_hours=EVENINGS)
    BookingFactory(space=near, start=at(17), end=at(18))
    response = as_owner.post(URL, flexible(near="60.1875,24.9776"), format="json")
    services.allocate(response.json()["id"])
    shown = as_owner.get(response["Location"]).json()
    # The smallest that fits (8), the nearest of those, the earliest start there.
    assert (shown["status"], shown["reason"], shown["space"]) == ("confirmed", None, near.pk)
    assert (shown["start"], shown["end"]) == (z(at(18)), z(at(20)))
    booking = Booking.objects.get(pk=shown["booking"])
    assert (booking.space, booking.start, booking.end, booking.user) == (
        near,
        at(18),
        at(20),
        owner,
    )
    assert {big.pk, far.pk}.isdisjoint({booking.space_id})


@pytest.mark.django_db
def test_nothing_fitting_is_rejected_no_space_available(thursday_week):
    space = SpaceFactory(capacity=4, opening_hours=EVENINGS)
    decision = decide()
    assert (decision.status, decision.reason, decision.space) == (
        "rejected",
        "no_space_available",
        None,
    )
    space.capacity = 12
    space.save()
    BookingFactory(space=space, start=at(16), end=at(22))
    assert decide().reason == "no_space_available"


@pytest.mark.django_db
def test_a_flexible_request_keeps_to_the_radius(thursday_week):
    SpaceFactory(opening_hours=EVENINGS, venue=VenueFactory(latitude=FAR[0], longitude=FAR[1]))
    assert decide(near="60.1875,24.9776", radius_km=5).reason == "no_space_available"
    assert decide(near="60.1875,24.9776", radius_km=25).status == "confirmed"


@pytest.mark.django_db
def test_a_flexible_request_honours_the_quota(settings, thursday_week):
    settings.MAX_ACTIVE_BOOKINGS_PER_USER = 1
    SpaceFactory(opening_hours=EVENINGS)
    person = UserFactory()
    assert decide(user=person).status == "confirmed"
    assert decide(user=person).reason == "quota_exceeded"


@pytest.mark.django_db
def test_when_the_best_offer_is_taken_under_it_the_worker_moves_to_the_next(
    monkeypatch, thursday_week
):
    first = SpaceFactory(capacity=8, opening_hours=EVENINGS)
    second = SpaceFactory(capacity=10, opening_hours=EVENINGS)
    real_search = search.search

    def search_then_lose_the_race(query, now=None):
        offers = real_search(query, now)
        # Someone books the best offer after the search saw it free.
        best = offers[0]
        BookingFactory(space=Space.objects.get(pk=best.space), start=best.start, end=best.end)
        return offers

    monkeypatch.setattr(search, "search", search_then_lose_the_race)
    decision = decide()
    # The next offers in order are the same room every half hour after, which the booking that
    # won 17:00-19:00 overlaps until 19:00.
    assert (decision.status, decision.space, decision.start) == ("confirmed", first, at(19))
    assert second.bookings.count() == 0


@pytest.mark.django_db(transaction=True)
def test_n_flexible_requests_racing_for_m_spaces_confirm_exactly_m(thursday_week):
    spaces = [SpaceFactory(opening_hours=EVENINGS) for _ in range(4)]
    # One exact slot: each space has one offer, 18:00-20:00.
    requests = [
        BookingRequest.objects.create(
            user=UserFactory(),
            activity_id=spaces[0].activities.first().pk,
            party_size=4,
            window_start=at(18),
            window_end=at(20),
            duration_minutes=120,
        )
        for _ in range(12)
    ]
    assert all_at_once(services.allocate, [r.id for r in requests]) == []
    decisions = list(BookingRequest.objects.values_list("status", "reason"))
    assert decisions.count(("confirmed", None)) == 4
    assert decisions.count(("rejected", "no_space_available")) == 8
    assert sorted(Booking.objects.values_list("space_id", flat=True)) == sorted(
        s.pk for s in spaces
    )


@pytest.mark.django_db(transaction=True)
def test_flexible_requests_through_the_real_worker_confirm_one_per_free_space(celery_worker):
    start = (datetime.now(UTC) + timedelta(days=2)).replace(minute=0, second=0, microsecond=0)
    spaces = [SpaceFactory() for _ in range(3)]
    ids = []
    for _ in range(8):
        response = client_for(UserFactory()).post(
            URL,
            flexible(window_start=z(start), window_end=z(start + timedelta(hours=2)), party_size=4),
            format="json",
        )
        assert response.status_code == 202, response.json()
        ids.append(response.json()["id"])
    wait_for(
        lambda: not BookingRequest.objects.filter(id__in=ids, status="pending").exists(),
        message="every flexible request to be decided",
    )
    decisions = list(
        BookingRequest.objects.filter(id__in=ids).values_list("status", "reason", "space")
    )
    confirmed = [d for d in decisions if d[0] == "confirmed"]
    assert len(confirmed) == 3
    assert sorted(d[2] for d in confirmed) == sorted(s.pk for s in spaces)
    assert [d[:2] for d in decisions].count(("rejected", "no_space_available")) == 5
    live = Booking.objects.filter(status__in=BookingStatus.live())
    assert live.count() == 3 and live.values("space").distinct().count() == 3
