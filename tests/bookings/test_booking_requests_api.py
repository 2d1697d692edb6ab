"""POST/GET /api/v1/booking-requests/: the contract, and that bad input changes nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone

from api.bookings.models import Booking, BookingRequest
from tests.factories import ActivityFactory, BookingRequestFactory, SpaceFactory, next_slot

pytestmark = pytest.mark.django_db

URL = "/api/v1/booking-requests/"


def body_for(space, start=None, end=None, **extra):
    slot_start, slot_end = next_slot()
    start, end = start or slot_start, end or slot_end
    return {
        "space": space.id,
        "start": start.isoformat() if hasattr(start, "isoformat") else start,
        "end": end.isoformat() if hasattr(end, "isoformat") else end,
        "party_size": 8,
        **extra,
    }


def test_a_request_is_accepted_with_202_and_its_location(as_owner, owner, space):
    start, end = next_slot()
    response = as_owner.post(
        URL, body_for(space, start, end, activity="band-rehearsal"), format="json"
    )
    assert response.status_code == 202
    body = response.json()
    assert response["Location"] == f"/api/v1/booking-requests/{body['id']}/"
    assert body["status"] == "pending"
    assert (body["space"], body["party_size"], body["booking"], body["reason"]) == (
        space.id,
        8,
        None,
        None,
    )
    assert body["start"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["end"].endswith("Z")
    assert body["decided_at"] is None
    assert set(body) >= {"id", "status", "space", "start", "end", "party_size", "booking"}
    assert BookingRequest.objects.get().user == owner
    assert as_owner.get(response["Location"]).json() == body


def test_times_with_any_offset_mean_the_same_instant(as_owner, space):
    start, end = next_slot()
    helsinki = start.astimezone(space.venue.zone)
    response = as_owner.post(
        URL, body_for(space, helsinki.isoformat(), end.isoformat()), format="json"
    )
    assert response.status_code == 202
    assert BookingRequest.objects.get().start == start


def invalid_bodies():
    """(name, changes to a valid body, the field the 400 must name)."""
    now = timezone.now()
    start, end = next_slot()
    return [
        ("unknown space", {"space": 999999}, "space"),
        ("unknown activity", {"activity": "underwater-rugby"}, "activity"),
        ("end before start", {"end": (start - timedelta(hours=1)).isoformat()}, "end"),
        ("end equals start", {"end": start.isoformat()}, "end"),
        ("start without offset", {"start": start.replace(tzinfo=None).isoformat()}, "start"),
        ("end without offset", {"end": end.replace(tzinfo=None).isoformat()}, "end"),
        ("start not a time", {"start": "tomorrow evening"}, "start"),
        (
            "start in the past",
            {
                "start": (start - timedelta(days=1)).isoformat(),
                "end": (end - timedelta(days=1)).isoformat(),
            },
            "start",
        ),
        (
            "inside the lead time",
            {
                "start": (now + timedelta(minutes=30)).replace(second=0, microsecond=0).isoformat(),
                "end": (now + timedelta(minutes=120)).isoformat(),
            },
            "start",
        ),
        (
            "beyond max advance",
            {
                "start": (start + timedelta(days=61)).isoformat(),
                "end": (end + timedelta(days=61)).isoformat(),
            },
            "start",
        ),
        ("start off the grid", {"start": (start + timedelta(minutes=10)).isoformat()}, "start"),
        ("end off the grid", {"end": (end + timedelta(minutes=45)).isoformat()}, "end"),
        ("too short", {"end": (start + timedelta(minutes=30)).isoformat()}, "end"),
        ("too long", {"end": (start + timedelta(hours=5)).isoformat()}, "end"),
        ("party of zero", {"party_size": 0}, "party_size"),
        ("party over capacity", {"party_size": 13}, "party_size"),
        ("party not a number", {"party_size": "many"}, "party_size"),
        ("space missing", {"space": None}, "space"),
    ]


@pytest.mark.parametrize(
    ("changes", "field"),
    [case[1:] for case in invalid_bodies()],
    ids=[c[0] for c in invalid_bodies()],
)
def test_bad_input_is_a_400_naming_the_field_and_creates_nothing(as_owner, space, changes, field):
    body = {**body_for(space), **changes}
    response = as_owner.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 400, response.json()
    assert field in response.json()
    assert not BookingRequest.objects.exists()
    assert not Booking.objects.exists()


def test_a_slot_outside_opening_hours_is_a_400(as_owner):
    # Open 16:00-22:00 Helsinki time every day; ask for 10:00-11:00 local.
    space = SpaceFactory(opening_hours=[(w, 16 * 60, 22 * 60) for w in range(7)])
    day = (timezone.now() + timedelta(days=2)).astimezone(space.venue.zone)
    start = day.replace(hour=10, minute=0, second=0, microsecond=0)
    response = as_owner.post(URL, body_for(space, start, start + timedelta(hours=1)), format="json")
    assert response.status_code == 400
    assert "start" in response.json()
    assert not BookingRequest.objects.exists()


def test_an_activity_the_space_does_not_offer_is_a_400(as_owner, space):
    ActivityFactory(slug="yoga", name_fi="Jooga", name_sv="Yoga", name_en="Yoga")
    response = as_owner.post(URL, body_for(space, activity="yoga"), format="json")
    assert response.status_code == 400
    assert "activity" in response.json()


def test_a_body_that_is_not_json_is_a_415(as_owner, space):
    response = as_owner.post(URL, "space=1", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert not BookingRequest.objects.exists()


def test_a_body_too_large_is_a_413(as_owner, space):
    response = as_owner.post(URL, body_for(space, purpose="x" * 100_000), format="json")
    assert response.status_code == 413
    assert not BookingRequest.objects.exists()


def test_anonymous_requests_are_401(anonymous, space):
    assert anonymous.post(URL, body_for(space), format="json").status_code == 401
    assert not BookingRequest.objects.exists()


def test_the_same_idempotency_key_returns_the_first_request(as_owner, as_other, space):
    first = as_owner.post(URL, body_for(space), format="json", HTTP_IDEMPOTENCY_KEY="abc")
    again = as_owner.post(URL, body_for(space), format="json", HTTP_IDEMPOTENCY_KEY="abc")
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert again["Location"] == first["Location"]
    assert BookingRequest.objects.count() == 1
    # Keys belong to one person: another's same key is another request.
    theirs = as_other.post(URL, body_for(space), format="json", HTTP_IDEMPOTENCY_KEY="abc")
    assert theirs.json()["id"] != first.json()["id"]
    assert BookingRequest.objects.count() == 2


def test_an_idempotency_key_over_255_characters_is_a_400(as_owner, space):
    response = as_owner.post(URL, body_for(space), format="json", HTTP_IDEMPOTENCY_KEY="k" * 256)
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()
    assert not BookingRequest.objects.exists()


def test_another_persons_request_is_a_404(as_other, owner):
    theirs = BookingRequestFactory(user=owner)
    assert as_other.get(f"{URL}{theirs.id}/").status_code == 404


def test_booking_requests_are_throttled_per_user_with_retry_after(as_owner, settings, space):
    settings.BOOKING_REQUEST_RATE = "3/min"
    statuses = [as_owner.post(URL, body_for(space), format="json").status_code for _ in range(4)]
    assert statuses == [202, 202, 202, 429]
    response = as_owner.post(URL, body_for(space), format="json")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert BookingRequest.objects.count() == 3


def test_throttling_off_lifts_the_limit(as_owner, settings, space):
    settings.BOOKING_REQUEST_RATE = "1/min"
    settings.THROTTLING = False
    statuses = {as_owner.post(URL, body_for(space), format="json").status_code for _ in range(3)}
    assert statuses == {202}


def test_a_person_lists_their_own_requests_newest_first(as_owner, owner, other):
    older = BookingRequestFactory(user=owner)
    newer = BookingRequestFactory(user=owner)
    BookingRequestFactory(user=other)
    body = as_owner.get(URL).json()
    assert [r["id"] for r in body["results"]] == [str(newer.id), str(older.id)]
    assert body["count"] == 2
    assert as_owner.get(URL, {"status": "confirmed"}).json()["count"] == 0
