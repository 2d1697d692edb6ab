"""The catalogue: anyone reads it, operators change it; the space filters."""

from datetime import timedelta

import pytest
from django.utils import timezone

from api.catalogue.models import Activity, Space, Venue
from tests.factories import (
    ActivityFactory,
    BookingFactory,
    OrganisationFactory,
    SpaceFactory,
    VenueFactory,
    next_slot,
)

pytestmark = pytest.mark.django_db

SPACE = {
    "name": "Music room 2",
    "description": "Soundproofed.",
    "capacity": 12,
    "activities": ["band-rehearsal"],
    "equipment": ["piano", "drums"],
    "slot_minutes": 30,
    "min_duration_minutes": 60,
    "max_duration_minutes": 240,
    "lead_time_minutes": 60,
    "max_advance_days": 60,
    "buffer_minutes": 0,
    "access_grace_before_minutes": 5,
    "access_grace_after_minutes": 5,
    "opening_hours": [{"weekday": 0, "opens": "16:00", "closes": "22:00"}],
}


def test_activities_are_a_plain_array_with_names_in_three_languages(anonymous):
    ActivityFactory()
    assert anonymous.get("/api/v1/activities/").json() == [
        {
            "slug": "band-rehearsal",
            "name": {"fi": "Bändiharjoitus", "sv": "Bandrepetition", "en": "Band rehearsal"},
        }
    ]


def test_only_operators_add_activities(anonymous, as_owner, as_operator):
    body = {"slug": "choir", "name": {"fi": "Kuoro", "sv": "Kör", "en": "Choir"}}
    assert anonymous.post("/api/v1/activities/", body, format="json").status_code == 401
    assert as_owner.post("/api/v1/activities/", body, format="json").status_code == 403
    response = as_operator.post("/api/v1/activities/", body, format="json")
    assert response.status_code == 201
    assert response.json() == body
    assert Activity.objects.get().name_sv == "Kör"
    missing = as_operator.post(
        "/api/v1/activities/", {"slug": "yoga", "name": {"fi": "Jooga"}}, format="json"
    )
    assert missing.status_code == 400
    assert "name" in missing.json()


def test_venues_are_public_and_created_by_operators(anonymous, as_operator):
    body = {
        "organisation": OrganisationFactory().pk,
        "name": "Kalasatama school",
        "address": "Polariksenkatu 1",
        "district": "Kalasatama",
        "latitude": 60.187,
        "longitude": 24.977,
        "timezone": "Europe/Helsinki",
    }
    created = as_operator.post("/api/v1/venues/", body, format="json")
    assert created.status_code == 201
    assert created.json() == {"id": created.json()["id"], **body}
    assert anonymous.get("/api/v1/venues/").json()["results"] == [created.json()]
    bad = as_operator.post("/api/v1/venues/", {**body, "timezone": "Mars/Olympus"}, format="json")
    assert bad.status_code == 400
    assert "timezone" in bad.json()


def test_an_operator_creates_and_patches_a_space(as_operator, as_owner, anonymous):
    ActivityFactory()
    venue = VenueFactory()
    response = as_operator.post("/api/v1/spaces/", {**SPACE, "venue": venue.id}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    # distance_km is null without `near` (GET /spaces/?near=… gives it); the venue's name,
    # district and zone come along, and whether a booking of it gets a door code.
    assert body == {
        "id": body["id"],
        "venue": venue.id,
        **SPACE,
        "venue_name": venue.name,
        "district": venue.district,
        "timezone": venue.timezone,
        "has_lock": False,
        "distance_km": None,
    }
    assert anonymous.get(f"/api/v1/spaces/{body['id']}/").json() == body
    patch = {"capacity": 20, "opening_hours": [{"weekday": 6, "opens": "00:00", "closes": "24:00"}]}
    assert as_owner.patch(f"/api/v1/spaces/{body['id']}/", patch, format="json").status_code == 403
    patched = as_operator.patch(f"/api/v1/spaces/{body['id']}/", patch, format="json")
    assert patched.status_code == 200
    assert patched.json()["capacity"] == 20
    assert patched.json()["opening_hours"] == patch["opening_hours"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"min_duration_minutes": 45}, "min_duration_minutes"),
        ({"min_duration_minutes": 300}, "min_duration_minutes"),
        ({"opening_hours": [{"weekday": 0, "opens": "22:00", "closes": "16:00"}]}, "opening_hours"),
        ({"opening_hours": [{"weekday": 7, "opens": "10:00", "closes": "16:00"}]}, "opening_hours"),
        ({"opening_hours": [{"weekday": 0, "opens": "25:00", "closes": "26:00"}]}, "opening_hours"),
        ({"activities": ["no-such-activity"]}, "activities"),
        ({"capacity": 0}, "capacity"),
    ],
)
def test_a_bad_space_is_a_400_naming_the_field(as_operator, changes, field):
    ActivityFactory()
    body = {**SPACE, "venue": VenueFactory().id, **changes}
    response = as_operator.post("/api/v1/spaces/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Space.objects.exists()


def ids(response):
    assert response.status_code == 200, response.json()
    return sorted(space["id"] for space in response.json()["results"])


def test_spaces_filter_by_activity_capacity_district_and_equipment(anonymous):
    choir = ActivityFactory(slug="choir", name_fi="Kuoro", name_sv="Kör", name_en="Choir")
    hall = SpaceFactory(capacity=40, equipment=["piano"], activities=[choir])
    room = SpaceFactory(capacity=8, equipment=["piano", "drums"])
    elsewhere = SpaceFactory(venue=VenueFactory(district="Kallio"), equipment=[])
    get = anonymous.get
    assert ids(get("/api/v1/spaces/", {"activity": "choir"})) == [hall.id]
    assert ids(get("/api/v1/spaces/", {"min_capacity": 10})) == sorted([hall.id, elsewhere.id])
    assert ids(get("/api/v1/spaces/", {"district": "kallio"})) == [elsewhere.id]
    assert ids(get("/api/v1/spaces/?equipment=piano&equipment=drums")) == [room.id]
    assert ids(get("/api/v1/spaces/?equipment=piano")) == sorted([hall.id, room.id])
    assert Venue.objects.count() == 3


def test_near_orders_spaces_by_distance_and_radius_km_keeps_the_close_ones(anonymous):
    espoo = SpaceFactory(venue=VenueFactory(latitude=60.2055, longitude=24.6559))
    kalasatama = SpaceFactory()  # the factories' venue: 60.1875, 24.9776
    pasila = SpaceFactory(venue=VenueFactory(latitude=60.1986, longitude=24.9335))
    response = anonymous.get("/api/v1/spaces/", {"near": "60.1870,24.9770"})
    assert response.status_code == 200
    shown = [(space["id"], space["distance_km"]) for space in response.json()["results"]]
    assert [space_id for space_id, _ in shown] == [kalasatama.id, pasila.id, espoo.id]
    distances = [distance for _, distance in shown]
    assert distances[0] < 0.1 and 2.5 < distances[1] < 3.2 and 17 < distances[2] < 19
    within = anonymous.get("/api/v1/spaces/", {"near": "60.1870,24.9770", "radius_km": 5})
    assert [space["id"] for space in within.json()["results"]] == [kalasatama.id, pasila.id]
    # The other filters still apply, and without near no distance is given.
    near_and_free = anonymous.get(
        "/api/v1/spaces/", {"near": "60.1870,24.9770", "min_capacity": 13}
    )
    assert near_and_free.json()["results"] == []
    assert {
        space["distance_km"] for space in anonymous.get("/api/v1/spaces/").json()["results"]
    } == {None}


def test_spaces_filter_by_free_interval(anonymous):
    start, end = next_slot(hours_ahead=6)
    booked = SpaceFactory()
    buffered = SpaceFactory(buffer_minutes=60)
    closed = SpaceFactory(opening_hours=[])
    free = SpaceFactory()
    BookingFactory(space=booked, start=start, end=end)
    BookingFactory(space=buffered, start=end + timedelta(minutes=30), end=end + timedelta(hours=2))
    params = {"free_from": start.isoformat(), "free_to": end.isoformat()}
    assert ids(anonymous.get("/api/v1/spaces/", params)) == [free.id]
    assert closed.id in ids(anonymous.get("/api/v1/spaces/"))  # filtered out only when asked


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"free_from": "2027-01-01T10:00:00"}, "free_from"),
        ({"free_from": (timezone.now() + timedelta(days=1)).isoformat()}, "free_to"),
        ({"free_from": "2027-01-02T10:00:00Z", "free_to": "2027-01-01T10:00:00Z"}, "free_to"),
        ({"min_capacity": "lots"}, "min_capacity"),
        ({"near": "60.18"}, "near"),
        ({"near": "60.18,24.97,1"}, "near"),
        ({"near": "north,east"}, "near"),
        ({"near": "90.5,24"}, "near"),
        ({"near": "60,-180.5"}, "near"),
        ({"near": "nan,nan"}, "near"),
        ({"near": "6" * 200 + ",1"}, "near"),
        ({"radius_km": 5}, "radius_km"),
        ({"near": "60.18,24.97", "radius_km": 0}, "radius_km"),
        ({"near": "60.18,24.97", "radius_km": "NaN"}, "radius_km"),
        ({"near": "60.18,24.97", "radius_km": "1e9"}, "radius_km"),
    ],
)
def test_bad_filters_are_a_400_naming_the_parameter(anonymous, params, field):
    response = anonymous.get("/api/v1/spaces/", params)
    assert response.status_code == 400
    assert field in response.json()
