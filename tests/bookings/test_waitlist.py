"""The waitlist: a freed slot goes to the first entry that can take it, once."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from api.bookings import services, waitlist
from api.bookings.choices import BookingStatus, WaitlistStatus
from api.bookings.models import Booking, WaitlistEntry
from api.notifications.choices import NotificationKind
from api.notifications.models import Notification
from tests.conftest import all_at_once
from tests.factories import (
    ActivityFactory,
    BookingFactory,
    BookingRequestFactory,
    SpaceFactory,
    UserFactory,
    z,
)
from workers import queue

START = datetime(2027, 3, 3, 16, tzinfo=UTC)
NOW = START - timedelta(days=1)


@pytest.fixture
def early():
    with time_machine.travel(NOW, tick=False):
        yield


def wait_for_slot(client, space, start=START, hours=2):
    return client.post(
        "/api/v1/waitlist/",
        {
            "space": space.pk,
            "start": z(start),
            "end": z(start + timedelta(hours=hours)),
            "party_size": 4,
        },
        format="json",
    )


@pytest.mark.django_db
def test_a_cancelled_booking_goes_to_the_first_in_line(early, as_owner, owner, as_other):
    space = SpaceFactory()
    taken = BookingFactory(space=space, start=START, end=START + timedelta(hours=2))
    first = wait_for_slot(as_owner, space)
    assert first.status_code == 201, first.json()
    assert first.json()["status"] == "waiting"
    assert first.json()["expires_at"] == z(START)
    wait_for_slot(as_other, space)
    services.cancel_booking(taken)
    assert waitlist.promote(space.pk, START, START + timedelta(hours=2)) == 1
    entries = as_owner.get("/api/v1/waitlist/").json()["results"]
    [entry] = entries
    assert entry["status"] == "confirmed"
    booking = Booking.objects.get(pk=entry["booking"])
    assert (booking.user, booking.status) == (owner, BookingStatus.CONFIRMED)
    # Told like any confirmed request.
    assert Notification.objects.filter(
        recipient=owner, kind=NotificationKind.BOOKING_CONFIRMED, booking=booking
    ).exists()
    # The other stays waiting; offering the slot again gives nothing more.
    assert as_other.get("/api/v1/waitlist/").json()["results"][0]["status"] == "waiting"
    assert waitlist.promote(space.pk, START, START + timedelta(hours=2)) == 0


@pytest.mark.django_db
def test_an_entry_the_slot_does_not_suit_stays_waiting_without_a_trace(early, owner):
    space = SpaceFactory()
    BookingFactory(space=space, start=START, end=START + timedelta(hours=2))
    entry = waitlist.join(
        owner, space=space, start=START, end=START + timedelta(hours=1), party_size=4
    )
    assert waitlist.promote(space.pk, START, START + timedelta(hours=2)) == 0
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.WAITING
    assert not owner.booking_requests.exists()


@pytest.mark.django_db
def test_a_flexible_entry_takes_any_space_that_fits(early, owner):
    activity = ActivityFactory()
    space = SpaceFactory(activities=[activity])
    taken = BookingFactory(space=space, start=START, end=START + timedelta(hours=1))
    entry = waitlist.join(
        owner,
        activity=activity,
        party_size=4,
        window_start=START,
        window_end=START + timedelta(hours=1),
        duration_minutes=60,
    )
    assert entry.expires_at == START
    services.cancel_booking(taken)
    assert waitlist.promote(space.pk, START, START + timedelta(hours=1)) == 1
    entry.refresh_from_db()
    assert (entry.booking.space, entry.booking.start) == (space, START)


@pytest.mark.django_db
def test_an_entry_expires_when_its_slot_starts(early, owner):
    space = SpaceFactory()
    entry = waitlist.join(
        owner, space=space, start=START, end=START + timedelta(hours=1), party_size=4
    )
    assert waitlist.expire(START - timedelta(seconds=1)) == 0
    assert waitlist.expire(START) == 1
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.EXPIRED
    assert waitlist.promote(space.pk, START, START + timedelta(hours=1)) == 0


@pytest.mark.django_db
def test_a_lifted_closure_queues_the_waitlist(
    early, as_operator, django_capture_on_commit_callbacks, monkeypatch
):
    space = SpaceFactory()
    closure = as_operator.post(
        f"/api/v1/spaces/{space.pk}/closures/",
        {
            "first_date": "2027-03-03",
            "last_date": "2027-03-03",
            "reason": {"fi": "a", "sv": "b", "en": "c"},
        },
        format="json",
    ).json()
    queued = []
    monkeypatch.setattr(queue, "enqueue", lambda name, *args: queued.append(name))
    with django_capture_on_commit_callbacks(execute=True):
        as_operator.delete(f"/api/v1/spaces/{space.pk}/closures/{closure['id']}/")
    # One promotion asked for, over the closure's local day.
    assert queued == ["allocation.promote_waitlist"]
    owner = UserFactory()
    entry = waitlist.join(
        owner, space=space, start=START, end=START + timedelta(hours=1), party_size=4
    )
    assert (
        waitlist.promote(
            space.pk, datetime(2027, 3, 2, 22, tzinfo=UTC), datetime(2027, 3, 3, 22, tzinfo=UTC)
        )
        == 1
    )
    entry.refresh_from_db()
    assert entry.status == WaitlistStatus.CONFIRMED


@pytest.mark.django_db
def test_leaving_the_waitlist(early, as_owner, as_other):
    space = SpaceFactory()
    entry = wait_for_slot(as_owner, space).json()
    assert as_other.delete(f"/api/v1/waitlist/{entry['id']}/").status_code == 404
    assert as_owner.delete(f"/api/v1/waitlist/{entry['id']}/").status_code == 204
    assert not WaitlistEntry.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"start": "2027-03-03T16:15:00Z"}, "start"),
        ({"party_size": 13}, "party_size"),
        ({"space": 999999}, "space"),
        ({"end": "2027-03-03T15:00:00Z"}, "end"),
    ],
)
def test_an_entry_that_could_never_be_booked_is_refused(early, as_owner, fields, field):
    space = SpaceFactory()
    body = {
        "space": space.pk,
        "start": z(START),
        "end": z(START + timedelta(hours=1)),
        "party_size": 4,
    }
    response = as_owner.post("/api/v1/waitlist/", {**body, **fields}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not WaitlistEntry.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_waitlist_and_a_direct_request_race_for_a_freed_slot_and_one_wins():
    space = SpaceFactory()
    for _ in range(5):
        waiting = UserFactory()
        entry = waitlist.join(
            waiting, space=space, start=START, end=START + timedelta(hours=2), party_size=4
        )
        direct = BookingRequestFactory(space=space, start=START, end=START + timedelta(hours=2))
        with time_machine.travel(NOW, tick=False):
            errors = all_at_once(
                lambda job: job[0](job[1]),
                [(waitlist.promote_entry, entry.pk), (services.allocate, direct.id)],
            )
        assert errors == []
        live = Booking.objects.filter(space=space, status__in=BookingStatus.live())
        assert live.count() == 1
        entry.refresh_from_db()
        direct.refresh_from_db()
        # Exactly one of the two holds the slot, and the other knows it lost.
        assert (entry.status == "confirmed") != (direct.status == "confirmed")
        if direct.status != "confirmed":
            assert direct.reason == "slot_taken"
        # Freed for the next round without offering it to anyone.
        live.update(status=BookingStatus.CANCELLED)
