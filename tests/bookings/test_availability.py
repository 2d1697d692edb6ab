"""GET /api/v1/spaces/{id}/availability/ agrees with the bookings and with allocation."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from api.bookings import services
from tests.factories import BookingFactory, BookingRequestFactory, SpaceFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 1, 11, 6, 0, tzinfo=UTC)  # Monday 08:00 in Helsinki
MONDAY_8_TO_20 = [(0, 8 * 60, 20 * 60)]


def at(hour, minute=0):
    """Monday 11 January 2027 at a Helsinki wall-clock time (UTC+2), as UTC."""
    return datetime(2027, 1, 11, tzinfo=UTC) + timedelta(hours=hour - 2, minutes=minute)


def free(client, space, start=None, end=None):
    response = client.get(
        f"/api/v1/spaces/{space.id}/availability/",
        {"from": (start or at(0)).isoformat(), "to": (end or at(23)).isoformat()},
    )
    assert response.status_code == 200, response.json()
    return [
        (datetime.fromisoformat(i["start"]), datetime.fromisoformat(i["end"]))
        for i in response.json()["free"]
    ]


@pytest.fixture(autouse=True)
def monday_morning():
    with time_machine.travel(NOW, tick=False):
        yield


def test_bookings_and_their_buffers_are_cut_out(anonymous):
    space = SpaceFactory(opening_hours=MONDAY_8_TO_20, buffer_minutes=30, lead_time_minutes=0)
    BookingFactory(space=space, start=at(12), end=at(14))
    assert free(anonymous, space) == [(at(8), at(11, 30)), (at(14, 30), at(20))]


def test_a_cancelled_booking_is_free_again(anonymous):
    space = SpaceFactory(opening_hours=MONDAY_8_TO_20, lead_time_minutes=0)
    services.cancel_booking(BookingFactory(space=space, start=at(12), end=at(14)))
    assert free(anonymous, space) == [(at(8), at(20))]


def test_the_lead_time_and_a_gap_too_short_to_book_are_not_offered(anonymous):
    space = SpaceFactory(
        opening_hours=MONDAY_8_TO_20, lead_time_minutes=90, min_duration_minutes=60
    )
    BookingFactory(space=space, start=at(10), end=at(11))
    BookingFactory(space=space, start=at(11, 30), end=at(13))
    # 08:00 + 90 min lead = 09:30; 09:30-10:00 and 11:00-11:30 are shorter than an hour.
    assert free(anonymous, space) == [(at(13), at(20))]


def test_every_offered_interval_can_be_booked_and_then_is_gone(anonymous):
    space = SpaceFactory(opening_hours=MONDAY_8_TO_20, buffer_minutes=15, lead_time_minutes=0)
    BookingFactory(space=space, start=at(9), end=at(10))
    for start, end in free(anonymous, space):
        booking_request = BookingRequestFactory(
            space=space, start=start, end=start + timedelta(hours=1)
        )
        services.allocate(booking_request.id)
        booking_request.refresh_from_db()
        assert booking_request.status == "confirmed", (start, end)
    for booking in space.bookings.all():
        for start, end in free(anonymous, space):
            assert end <= booking.start - space.buffer or start >= booking.end + space.buffer


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"to": "2027-01-12T00:00:00Z"}, "from"),
        ({"from": "2027-01-11T00:00:00", "to": "2027-01-12T00:00:00Z"}, "from"),
        ({"from": "2027-01-12T00:00:00Z", "to": "2027-01-11T00:00:00Z"}, "to"),
        ({"from": "2027-01-11T00:00:00Z", "to": "2027-02-12T00:00:00Z"}, "to"),
    ],
)
def test_a_bad_window_is_a_400_naming_the_parameter(anonymous, params, field):
    space = SpaceFactory()
    response = anonymous.get(f"/api/v1/spaces/{space.id}/availability/", params)
    assert response.status_code == 400
    assert field in response.json()
