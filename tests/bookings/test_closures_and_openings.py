"""Dated closures and extra openings, honoured by validation, the worker, availability and
alerts (slot search: test_slots_api.py)."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine

from api.bookings import services
from api.bookings.models import BookingRequest
from api.catalogue.models import Closure, ExtraOpening
from tests.factories import BookingFactory, BookingRequestFactory, SpaceFactory, UserFactory, z

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 1, 11, 6, 0, tzinfo=UTC)  # Monday 08:00 in Helsinki
WEEKDAY_EVENINGS = [(weekday, 16 * 60, 22 * 60) for weekday in range(5)]
SATURDAY = date(2027, 1, 16)
REASONS = {"reason_fi": "Huolto", "reason_sv": "Underhåll", "reason_en": "Maintenance"}


def at(hour, minute=0, day=12):
    """January 2027 (Tuesday the 12th unless told) at a Helsinki wall-clock time, as UTC."""
    return datetime(2027, 1, day, tzinfo=UTC) + timedelta(hours=hour - 2, minutes=minute)


@pytest.fixture(autouse=True)
def monday_morning():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def evening_room():
    return SpaceFactory(opening_hours=WEEKDAY_EVENINGS)


def close(space=None, venue=None, first=date(2027, 1, 12), last=None, hours=(None, None)):
    return Closure.objects.create(
        space=space,
        venue=venue,
        first_date=first,
        last_date=last or first,
        opens=hours[0],
        closes=hours[1],
        **REASONS,
    )


def ask(client, space, start, end):
    body = {"space": space.pk, "start": z(start), "end": z(end), "party_size": 4}
    return client.post("/api/v1/booking-requests/", body, format="json")


def free(client, space, day=12):
    body = client.get(
        f"/api/v1/spaces/{space.pk}/availability/",
        {"from": z(at(0, day=day)), "to": z(at(23, 59, day=day))},
    ).json()
    return [
        (datetime.fromisoformat(i["start"]), datetime.fromisoformat(i["end"])) for i in body["free"]
    ]


@pytest.mark.parametrize("of", ["space", "venue"])
def test_a_closed_day_is_refused_at_once_and_shown_closed(as_owner, anonymous, evening_room, of):
    close(**{of: evening_room if of == "space" else evening_room.venue})
    response = ask(as_owner, evening_room, at(18), at(20))
    assert response.status_code == 400
    assert response.json()["codes"] == {"start": ["space_closed"]}
    assert not BookingRequest.objects.exists()
    assert free(anonymous, evening_room) == []
    assert free(anonymous, evening_room, day=13) == [(at(16, day=13), at(22, day=13))]


def test_a_closure_of_some_hours_closes_only_those(as_owner, anonymous, evening_room):
    close(space=evening_room, hours=(18 * 60, 20 * 60))
    assert ask(as_owner, evening_room, at(18), at(19)).status_code == 400
    assert ask(as_owner, evening_room, at(16), at(18)).status_code == 202
    assert free(anonymous, evening_room) == [(at(16), at(18)), (at(20), at(22))]


def test_an_extra_opening_can_be_booked_and_is_shown_free(as_owner, anonymous, evening_room):
    ExtraOpening.objects.create(space=evening_room, date=SATURDAY, opens=10 * 60, closes=14 * 60)
    assert ask(as_owner, evening_room, at(10, day=16), at(12, day=16)).status_code == 202
    assert ask(as_owner, evening_room, at(13, day=16), at(15, day=16)).status_code == 400
    assert free(anonymous, evening_room, day=16) == [(at(10, day=16), at(14, day=16))]


def test_a_closure_added_after_a_request_was_queued_rejects_it_space_closed(evening_room):
    booking_request = BookingRequestFactory(space=evening_room, start=at(18), end=at(20))
    close(venue=evening_room.venue, first=date(2027, 1, 10), last=date(2027, 1, 20))
    services.allocate(booking_request.id)
    booking_request.refresh_from_db()
    assert (booking_request.status, booking_request.reason) == ("rejected", "space_closed")


def test_an_extra_opening_added_after_queueing_lets_the_worker_confirm(evening_room):
    booking_request = BookingRequestFactory(
        space=evening_room, start=at(10, day=16), end=at(12, day=16)
    )
    ExtraOpening.objects.create(space=evening_room, date=SATURDAY, opens=9 * 60, closes=13 * 60)
    services.allocate(booking_request.id)
    booking_request.refresh_from_db()
    assert booking_request.status == "confirmed"


def test_a_flexible_request_goes_around_a_closure(evening_room):
    other = SpaceFactory(opening_hours=WEEKDAY_EVENINGS, capacity=20)
    close(space=evening_room)
    booking_request = BookingRequest.objects.create(
        user=UserFactory(),
        activity=evening_room.activities.first(),
        party_size=4,
        window_start=at(18),
        window_end=at(20),
        duration_minutes=120,
    )
    services.allocate(booking_request.id)
    booking_request.refresh_from_db()
    assert (booking_request.status, booking_request.space) == ("confirmed", other)


def alerts(client):
    response = client.get("/api/v1/alerts/")
    assert response.status_code == 200
    return [a for a in response.json()["results"] if a["kind"] == "booking_in_closure"]


def test_a_closure_over_a_confirmed_booking_keeps_it_and_raises_an_alert(as_operator, evening_room):
    booking = BookingFactory(space=evening_room, start=at(18), end=at(20))
    untouched = BookingFactory(space=evening_room, start=at(16), end=at(17))
    closure = close(space=evening_room, hours=(17 * 60, 22 * 60))
    booking.refresh_from_db()
    assert booking.status == "confirmed"
    [alert] = alerts(as_operator)
    assert (alert["booking"], alert["space"], alert["since"] is not None) == (
        booking.pk,
        evening_room.pk,
        True,
    )
    assert f"closure {closure.pk}" in alert["detail"]
    assert untouched.pk not in [a["booking"] for a in alerts(as_operator)]
    # Removing the closure ends the alert.
    as_operator.delete(f"/api/v1/spaces/{evening_room.pk}/closures/{closure.pk}/")
    assert alerts(as_operator) == []


def test_cancelling_the_booking_ends_the_alert_of_a_venue_closure(as_operator, evening_room):
    booking = BookingFactory(space=evening_room, start=at(18), end=at(20))
    close(venue=evening_room.venue, first=date(2027, 1, 1), last=date(2027, 3, 1))
    assert [a["booking"] for a in alerts(as_operator)] == [booking.pk]
    as_operator.post(f"/api/v1/bookings/{booking.pk}/cancel/")
    assert alerts(as_operator) == []


def test_a_closure_that_ended_or_a_booking_that_ended_raises_nothing(as_operator, evening_room):
    BookingFactory(space=evening_room, start=at(18, day=8), end=at(20, day=8))
    close(space=evening_room, first=date(2027, 1, 8))
    close(
        space=evening_room, first=date(2027, 1, 1), last=date(9999, 12, 31), hours=(8 * 60, 9 * 60)
    )
    assert alerts(as_operator) == []


def test_alerts_are_for_operators_only(as_owner, anonymous):
    assert as_owner.get("/api/v1/alerts/").status_code == 403
    assert anonymous.get("/api/v1/alerts/").status_code == 401
