"""GET /api/v1/bookings/, its detail and cancel: own bookings only, operators see all."""

from datetime import timedelta

import pytest

from api.bookings.models import Booking
from tests.factories import ActivityFactory, BookingFactory

pytestmark = pytest.mark.django_db


def test_a_person_lists_only_their_own_bookings(as_owner, owner, other):
    mine = BookingFactory(user=owner)
    BookingFactory(user=other)
    body = as_owner.get("/api/v1/bookings/").json()
    assert body["count"] == 1
    assert [b["id"] for b in body["results"]] == [mine.id]
    assert set(body) == {"count", "next", "previous", "results"}


def test_a_booking_shows_the_contract_fields(as_owner, owner):
    booking = BookingFactory(user=owner)
    body = as_owner.get(f"/api/v1/bookings/{booking.id}/").json()
    assert body == {
        "id": booking.id,
        "space": booking.space_id,
        "space_name": booking.space.name,
        "venue_name": booking.space.venue.name,
        "timezone": "Europe/Helsinki",
        "activity": None,
        "start": booking.start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "end": booking.end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "party_size": 4,
        "status": "confirmed",
        "checked_in_at": None,
        "request": None,
        "access": None,
    }


def test_an_operator_sees_every_booking(as_operator, owner, other):
    BookingFactory(user=owner)
    BookingFactory(user=other)
    assert as_operator.get("/api/v1/bookings/").json()["count"] == 2


def test_another_persons_booking_is_a_404_to_read_and_to_cancel(as_other, owner):
    booking = BookingFactory(user=owner)
    assert as_other.get(f"/api/v1/bookings/{booking.id}/").status_code == 404
    assert as_other.post(f"/api/v1/bookings/{booking.id}/cancel/").status_code == 404
    booking.refresh_from_db()
    assert booking.status == "confirmed"


def test_cancel_is_idempotent(as_owner, owner):
    booking = BookingFactory(user=owner)
    first = as_owner.post(f"/api/v1/bookings/{booking.id}/cancel/")
    assert first.status_code == 200
    assert first.json()["status"] == "cancelled"
    cancelled_at = Booking.objects.get().cancelled_at
    again = as_owner.post(f"/api/v1/bookings/{booking.id}/cancel/")
    assert again.status_code == 200
    assert again.json()["status"] == "cancelled"
    assert Booking.objects.get().cancelled_at == cancelled_at


def test_an_operator_may_cancel_anyones_booking(as_operator, owner):
    booking = BookingFactory(user=owner)
    assert as_operator.post(f"/api/v1/bookings/{booking.id}/cancel/").json()["status"] == (
        "cancelled"
    )


def test_bookings_need_a_token(anonymous):
    assert anonymous.get("/api/v1/bookings/").status_code == 401


def test_bookings_filter_by_the_time_they_overlap(as_owner, owner):
    first = BookingFactory(user=owner)
    day = timedelta(days=1)
    second = BookingFactory(user=owner, start=first.start + day, end=first.end + day)

    def listed(**query):
        return [b["id"] for b in as_owner.get("/api/v1/bookings/", query).json()["results"]]

    today = {"from": first.start.isoformat(), "to": (first.start + day).isoformat()}
    assert listed(**today) == [first.id]
    assert listed(**{"from": first.end.isoformat()}) == [second.id]  # one that ends then is over
    assert listed(to=second.start.isoformat()) == [first.id]  # one that starts then is not yet
    assert listed() == [first.id, second.id]


def test_a_booking_filter_time_without_an_offset_is_a_400_naming_it(as_owner):
    response = as_owner.get("/api/v1/bookings/", {"from": "2026-12-01T18:00:00"})
    assert response.status_code == 400
    assert list(response.json()) == ["from", "codes"]
    assert response.json()["codes"] == {"from": ["naive"]}


def test_a_booking_shows_its_activity(as_owner, owner):
    activity = ActivityFactory(slug="choir")
    booking = BookingFactory(user=owner, activity=activity)
    assert as_owner.get(f"/api/v1/bookings/{booking.id}/").json()["activity"] == "choir"
