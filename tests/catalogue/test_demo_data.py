"""The README's demo: a band of six finds a Thursday-evening slot, books it flexibly, gets a code."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from rest_framework.test import APIClient

from api.accounts.models import User
from api.bookings import services
from api.catalogue.models import Closure, Space
from api.organisations.models import Organisation

pytestmark = pytest.mark.django_db

MONDAY = datetime(2027, 1, 11, 6, 0, tzinfo=UTC)
THURSDAY_17 = "2027-01-14T17:00:00+02:00"
THURSDAY_22 = "2027-01-14T22:00:00+02:00"


def test_band_rehearsal_for_six_on_thursday_evening_books_the_music_room_with_a_door_code(
    anonymous,
):
    with time_machine.travel(MONDAY, tick=False):
        call_command("demo_data", stdout=open("/dev/null", "w"))  # noqa: SIM115
        call_command("demo_data", stdout=open("/dev/null", "w"))  # noqa: SIM115  (idempotent)
        music_room = Space.objects.get(name="Music room")
        wanted = {
            "activity": "band-rehearsal",
            "party_size": 6,
            "duration_minutes": 120,
        }
        slots = anonymous.get(
            "/api/v1/slots/", {**wanted, "from": THURSDAY_17, "to": THURSDAY_22}
        ).json()
        assert slots["count"] > 0
        assert slots["results"][0] == {
            "space": music_room.pk,
            "venue": music_room.venue_id,
            "start": "2027-01-14T15:00:00Z",
            "end": "2027-01-14T17:00:00Z",
            "distance_km": None,
        }
        person = APIClient()
        person.force_authenticate(User.objects.get(email="demo@flexispace.example"))
        response = person.post(
            "/api/v1/booking-requests/",
            {**wanted, "window_start": THURSDAY_17, "window_end": THURSDAY_22},
            format="json",
        )
        assert response.status_code == 202, response.json()
        services.allocate(response.json()["id"])
        decided = person.get(response["Location"]).json()
        assert (decided["status"], decided["space"]) == ("confirmed", music_room.pk)
        booking = person.get(f"/api/v1/bookings/{decided['booking']}/").json()
    assert booking["access"]["code"].isdigit() and len(booking["access"]["code"]) == 6
    assert booking["access"]["valid_from"] == "2027-01-14T14:55:00Z"
    assert Closure.objects.filter(venue__name="Kalasatama school").count() == 1
    assert music_room.lock.id == "demo-lock-2"
    assert datetime.fromisoformat(decided["end"]) - datetime.fromisoformat(
        decided["start"]
    ) == timedelta(hours=2)


def test_the_demo_has_two_organisations_with_their_own_people():
    call_command("demo_data", stdout=open("/dev/null", "w"))  # noqa: SIM115
    youth = Organisation.objects.get(name="Helsinki Youth Services")
    housing = Organisation.objects.get(kind="housing")
    assert set(youth.venues.values_list("name", flat=True)) >= {
        "Kalasatama school",
        "Kalasatama library",
    }
    assert list(housing.venues.values_list("spaces__name", flat=True)) == ["Club room"]
    caretaker = APIClient()
    token = caretaker.post(
        "/api/v1/auth/token/",
        {"email": "caretaker@flexispace.example", "password": "caretaker-passphrase"},
        format="json",
    ).json()["token"]
    caretaker.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    me = caretaker.get("/api/v1/auth/me/").json()
    assert me["organisations"] == [{"id": housing.pk, "role": "admin"}]
    assert caretaker.get("/api/v1/locks/").json()["results"] == []  # the city's are not theirs
    youth_admin = APIClient()
    youth_admin.force_authenticate(User.objects.get(email="youth-admin@flexispace.example"))
    assert {lock["id"] for lock in youth_admin.get("/api/v1/locks/").json()["results"]} >= {
        "demo-lock-2"
    }
