"""Booking Helsinki opening hours on both sides of daylight-saving changes, end to end."""

from datetime import UTC, datetime

import pytest
import time_machine

from api.bookings import services
from api.bookings.models import Booking, BookingRequest
from tests.factories import SpaceFactory

pytestmark = pytest.mark.django_db

EVERY_DAY_16_TO_22 = [(weekday, 16 * 60, 22 * 60) for weekday in range(7)]


@pytest.fixture
def evening_space():
    return SpaceFactory(opening_hours=EVERY_DAY_16_TO_22, max_duration_minutes=360)


def request(client, space, start, end):
    return client.post(
        "/api/v1/booking-requests/",
        {"space": space.id, "start": start, "end": end, "party_size": 4},
        format="json",
    )


@pytest.mark.parametrize(
    ("today", "start", "end", "start_utc"),
    [
        ("2027-03-20", "2027-03-27T16:00:00+02:00", "2027-03-27T22:00:00+02:00", "14:00"),
        ("2027-03-20", "2027-03-28T16:00:00+03:00", "2027-03-28T22:00:00+03:00", "13:00"),
        ("2027-10-25", "2027-10-30T16:00:00+03:00", "2027-10-30T22:00:00+03:00", "13:00"),
        ("2027-10-25", "2027-10-31T16:00:00+02:00", "2027-10-31T22:00:00+02:00", "14:00"),
    ],
)
def test_the_whole_local_evening_is_bookable_and_stored_in_utc(
    as_owner, evening_space, today, start, end, start_utc
):
    with time_machine.travel(datetime.fromisoformat(today).replace(hour=12, tzinfo=UTC)):
        response = request(as_owner, evening_space, start, end)
        assert response.status_code == 202, response.json()
        assert response.json()["start"] == f"{start[:10]}T{start_utc}:00Z"
        services.allocate(BookingRequest.objects.get().id)
    booking = Booking.objects.get()
    assert booking.start == datetime.fromisoformat(start)
    assert booking.start.astimezone(evening_space.venue.zone).hour == 16
    assert booking.end.astimezone(evening_space.venue.zone).hour == 22


@pytest.mark.parametrize(
    ("today", "start", "end"),
    [
        # 15:00-17:00 local on the first summer-time Sunday: an hour before opening.
        ("2027-03-20", "2027-03-28T12:00:00Z", "2027-03-28T14:00:00Z"),
        # 21:00-23:00 local on the first winter-time Sunday: an hour after closing.
        ("2027-10-25", "2027-10-31T19:00:00Z", "2027-10-31T21:00:00Z"),
    ],
)
def test_an_hour_outside_local_opening_hours_is_refused(as_owner, evening_space, today, start, end):
    with time_machine.travel(datetime.fromisoformat(today).replace(hour=12, tzinfo=UTC)):
        response = request(as_owner, evening_space, start, end)
    assert response.status_code == 400
    assert "start" in response.json()
    assert not BookingRequest.objects.exists()


@pytest.mark.parametrize(
    ("today", "day", "free"),
    [
        ("2027-03-20", "2027-03-27", ("2027-03-27T14:00:00Z", "2027-03-27T20:00:00Z")),
        ("2027-03-20", "2027-03-28", ("2027-03-28T13:00:00Z", "2027-03-28T19:00:00Z")),
        ("2027-10-25", "2027-10-30", ("2027-10-30T13:00:00Z", "2027-10-30T19:00:00Z")),
        ("2027-10-25", "2027-10-31", ("2027-10-31T14:00:00Z", "2027-10-31T20:00:00Z")),
    ],
)
def test_availability_follows_the_local_clock(anonymous, evening_space, today, day, free):
    with time_machine.travel(datetime.fromisoformat(today).replace(hour=12, tzinfo=UTC)):
        response = anonymous.get(
            f"/api/v1/spaces/{evening_space.id}/availability/",
            {"from": f"{day}T00:00:00Z", "to": f"{day}T23:00:00Z"},
        )
    assert response.status_code == 200
    assert response.json() == {
        "space": evening_space.id,
        "free": [{"start": free[0], "end": free[1]}],
    }
