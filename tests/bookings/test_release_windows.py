"""Release windows: requests collected in a window wait, and are drawn together when it closes."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from api.bookings import lottery, release, services
from api.bookings.choices import BookingStatus
from api.bookings.models import Booking, BookingRequest, ReleaseWindow
from tests.conftest import client_for
from tests.factories import BookingFactory, SpaceFactory, UserFactory, z

pytestmark = pytest.mark.django_db

OPENS = datetime(2027, 2, 1, 8, tzinfo=UTC)
CLOSES = datetime(2027, 2, 8, 8, tzinfo=UTC)
PERIOD = (datetime(2027, 3, 1, tzinfo=UTC), datetime(2027, 4, 1, tzinfo=UTC))
SLOT = datetime(2027, 3, 4, 16, tzinfo=UTC)


@pytest.fixture
def evening_room():
    return SpaceFactory(max_advance_days=90)


@pytest.fixture
def window(as_operator, evening_room):
    with time_machine.travel(OPENS - timedelta(days=1), tick=False):
        response = as_operator.post(
            "/api/v1/release-windows/",
            {
                "venue": evening_room.venue_id,
                "spaces": [evening_room.pk],
                "period_start": z(PERIOD[0]),
                "period_end": z(PERIOD[1]),
                "collect_from": z(OPENS),
                "collect_until": z(CLOSES),
                "seed": 12345,
            },
            format="json",
        )
    assert response.status_code == 201, response.json()
    return ReleaseWindow.objects.get(pk=response.json()["id"])


def ask(person, space, start=SLOT, at=OPENS + timedelta(days=1)):
    with time_machine.travel(at, tick=False):
        response = client_for(person).post(
            "/api/v1/booking-requests/",
            {
                "space": space.pk,
                "start": z(start),
                "end": z(start + timedelta(hours=2)),
                "party_size": 4,
            },
            format="json",
        )
    assert response.status_code == 202, response.json()
    return response.json()


def test_a_request_in_the_collection_waits_for_the_draw_and_says_when(window, evening_room):
    person = UserFactory()
    shown = ask(person, evening_room)
    assert (shown["status"], shown["draw_at"]) == ("pending", z(CLOSES))
    # The worker leaves it to the draw, however often it is queued.
    with time_machine.travel(OPENS + timedelta(days=2), tick=False):
        services.allocate(shown["id"])
        assert services.requeue_stale_requests() == 0
    assert BookingRequest.objects.get(pk=shown["id"]).status == "pending"
    assert client_for(person).get(f"/api/v1/booking-requests/{shown['id']}/").json()[
        "draw_at"
    ] == z(CLOSES)


def test_outside_the_collection_or_the_period_it_is_first_come_first_served(window, evening_room):
    before = ask(UserFactory(), evening_room, at=OPENS - timedelta(hours=1))
    outside_period = ask(UserFactory(), evening_room, start=datetime(2027, 4, 2, 16, tzinfo=UTC))
    other_space = SpaceFactory(venue=evening_room.venue, max_advance_days=90)
    elsewhere = ask(UserFactory(), other_space)
    assert [before["draw_at"], outside_period["draw_at"], elsewhere["draw_at"]] == [None] * 3


def test_the_draw_decides_all_together_and_shows_its_seed_and_order(
    window, evening_room, as_operator, as_owner
):
    people = [UserFactory() for _ in range(6)]
    asked = [ask(person, evening_room) for person in people]
    # Too early: nothing is drawn.
    with time_machine.travel(CLOSES - timedelta(seconds=1), tick=False):
        assert release.draw_closed_windows() == 0
    with time_machine.travel(CLOSES, tick=False):
        assert release.draw_closed_windows() == 1
        assert release.draw_closed_windows() == 0  # once
    decided = BookingRequest.objects.filter(pk__in=[a["id"] for a in asked])
    assert sorted(r.reason or "confirmed" for r in decided) == ["confirmed"] + ["lost_draw"] * 5
    assert Booking.objects.filter(space=evening_room, status=BookingStatus.CONFIRMED).count() == 1
    drawn = as_operator.get(f"/api/v1/release-windows/{window.pk}/draw/").json()
    assert drawn["seed"] == 12345 and drawn["drawn_at"] == z(CLOSES)
    assert [entry["outcome"] for entry in drawn["order"]] == ["confirmed"] + ["lost_draw"] * 5
    # The stored order is the lottery's for the stored seed: anyone can replay it.
    tickets = [lottery.Ticket(a["id"], p.pk, 120) for a, p in zip(asked, people, strict=True)]
    # (One request each: the order does not depend on the outcomes.)
    replayed = lottery.draw(tickets, {}, 12345, lambda ticket: False)
    assert [entry["request"] for entry in drawn["order"]] == [t.request for t, _ in replayed]
    # Only operators see a draw.
    assert as_owner.get(f"/api/v1/release-windows/{window.pk}/draw/").status_code == 403


def test_the_seed_is_hidden_from_the_public_until_the_draw(window, anonymous, as_operator):
    assert anonymous.get(f"/api/v1/release-windows/{window.pk}/").json()["seed"] is None
    assert as_operator.get(f"/api/v1/release-windows/{window.pk}/").json()["seed"] == 12345
    with time_machine.travel(CLOSES, tick=False):
        release.draw_closed_windows()
    assert anonymous.get(f"/api/v1/release-windows/{window.pk}/").json()["seed"] == 12345


def test_the_draw_serves_fewer_hours_first_and_one_slot_each_before_seconds(window, evening_room):
    rich, poor, greedy = UserFactory(), UserFactory(), UserFactory()
    # `rich` already holds hours at the venue in the period.
    BookingFactory(
        user=rich,
        space=evening_room,
        start=datetime(2027, 3, 10, 16, tzinfo=UTC),
        end=datetime(2027, 3, 10, 20, tzinfo=UTC),
    )
    first, second = SLOT, SLOT + timedelta(days=1)
    # One after another: a person's requests are tried in the order they made them.
    asked_at = [OPENS + timedelta(days=1, minutes=n) for n in range(4)]
    rich_asks = ask(rich, evening_room, first, at=asked_at[0])
    poor_asks = ask(poor, evening_room, first, at=asked_at[1])
    greedy_first = ask(greedy, evening_room, second, at=asked_at[2])
    greedy_second = ask(greedy, evening_room, second + timedelta(days=1), at=asked_at[3])
    with time_machine.travel(CLOSES, tick=False):
        release.draw_closed_windows()
    outcome = {
        str(r.pk): r.reason or "confirmed"
        for r in BookingRequest.objects.filter(release_window=window)
    }
    assert outcome[poor_asks["id"]] == "confirmed"
    assert outcome[rich_asks["id"]] == "lost_draw"
    assert outcome[greedy_first["id"]] == outcome[greedy_second["id"]] == "confirmed"
    order = [entry["request"] for entry in ReleaseWindow.objects.get(pk=window.pk).draw]
    # greedy's second comes after everyone's first.
    assert order.index(greedy_second["id"]) == 3


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"period_end": "2027-02-28T00:00:00Z"}, "period_end"),
        ({"collect_until": "2027-01-01T00:00:00Z"}, "collect_until"),
        ({"collect_until": "2027-03-02T00:00:00Z"}, "collect_until"),
        ({"seed": -1}, "seed"),
        ({"period_end": "2030-01-01T00:00:00Z"}, "period_end"),
        ({"period_start": "2027-03-01T00:00:00"}, "period_start"),
    ],
)
def test_a_window_that_cannot_work_is_refused_naming_the_field(
    as_operator, evening_room, fields, field
):
    body = {
        "venue": evening_room.venue_id,
        "period_start": z(PERIOD[0]),
        "period_end": z(PERIOD[1]),
        "collect_from": z(OPENS),
        "collect_until": z(CLOSES),
    }
    response = as_operator.post("/api/v1/release-windows/", {**body, **fields}, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_a_space_of_another_venue_is_refused(as_operator, evening_room):
    response = as_operator.post(
        "/api/v1/release-windows/",
        {
            "venue": evening_room.venue_id,
            "spaces": [SpaceFactory().pk],
            "period_start": z(PERIOD[0]),
            "period_end": z(PERIOD[1]),
            "collect_from": z(OPENS),
            "collect_until": z(CLOSES),
        },
        format="json",
    )
    assert response.status_code == 400 and "spaces" in response.json()
