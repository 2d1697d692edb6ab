"""The intake judges requests by each space's rules from the cache, and every change to what the
rules read is enforced at the next request, not after a timeout."""

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from api.bookings import rules_cache
from api.bookings.models import ReleaseWindow
from api.catalogue.models import Closure, ExtraOpening, OpeningHours, Space
from tests.factories import ActivityFactory, SpaceFactory, z

pytestmark = pytest.mark.django_db

NOW = datetime(2027, 1, 11, 6, 0, tzinfo=UTC)  # Monday 08:00 in Helsinki
TUESDAY = date(2027, 1, 12)
EVENINGS = [(weekday, 16 * 60, 22 * 60) for weekday in range(5)]
REASONS = {"reason_fi": "Huolto", "reason_sv": "Underhåll", "reason_en": "Maintenance"}
RULE_TABLES = ("catalogue_openinghours", "catalogue_closure", "catalogue_extraopening", "catalogue_space_activities")  # fmt: skip


def at(hour, day=12):
    """January 2027 at a Helsinki wall-clock hour, as UTC (winter: UTC+2)."""
    return datetime(2027, 1, day, hour - 2, tzinfo=UTC)


@pytest.fixture(autouse=True)
def monday_morning():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def room():
    return SpaceFactory(opening_hours=EVENINGS, capacity=8)


def ask(client, space, start=None, end=None, **fields):
    body = {
        "space": space.pk,
        "start": z(start or at(18)),
        "end": z(end or at(20)),
        "party_size": 4,
    }
    return client.post("/api/v1/booking-requests/", {**body, **fields}, format="json")


def test_a_request_for_a_space_read_before_reads_none_of_its_rules_from_the_database(
    as_owner, room
):
    assert ask(as_owner, room).status_code == 202
    with CaptureQueriesContext(connection) as queries:
        assert ask(as_owner, room, at(20), at(21)).status_code == 202
    read = [q["sql"] for q in queries if any(table in q["sql"] for table in RULE_TABLES)]
    assert read == []


def test_a_request_for_a_space_read_before_is_one_insert_beside_the_sign_in(as_owner, room):
    """The space, its venue, its rules and its release windows all come from the cache."""
    assert ask(as_owner, room).status_code == 202
    with CaptureQueriesContext(connection) as queries:
        assert ask(as_owner, room, at(20), at(21)).status_code == 202
    # (The test's own transaction wraps the INSERT in a savepoint.)
    made = [q["sql"] for q in queries if "authtoken_token" not in q["sql"] and "SAVEPOINT" not in q["sql"]]  # fmt: skip
    assert len(made) == 1 and made[0].startswith('INSERT INTO "bookings_bookingrequest"'), made


@pytest.mark.parametrize("naming", ["the space", "the whole venue", "the space afterwards"])
def test_a_release_window_opened_after_the_cache_was_filled_collects_the_next_request(
    as_owner, room, naming
):
    assert ask(as_owner, room).status_code == 202
    assert rules_cache.may_collect(Space.objects.get(pk=room.pk)) is False
    window = ReleaseWindow.objects.create(
        venue=room.venue,
        period_start=datetime(2027, 1, 13, tzinfo=UTC),
        period_end=datetime(2027, 1, 20, tzinfo=UTC),
        collect_from=NOW - timedelta(hours=1),
        collect_until=NOW + timedelta(days=1),
        seed=1,
    )
    if naming == "the space":
        window.spaces.add(room)
    elif naming == "the space afterwards":
        # Narrowing a venue-wide window to other spaces lets this one's requests through.
        window.spaces.add(SpaceFactory(venue=room.venue))
    response = ask(as_owner, room, at(18, day=14), at(20, day=14))
    assert response.status_code == 202
    waits = naming != "the space afterwards"
    assert (response.json()["draw_at"] is not None) is waits
    window.drawn_at = NOW
    window.save()
    assert rules_cache.may_collect(Space.objects.get(pk=room.pk)) is False
    response = ask(as_owner, room, at(18, day=15), at(20, day=15))
    assert response.json()["draw_at"] is None


def test_an_unknown_or_malformed_space_is_refused_by_name(as_owner, room):
    for given, code in ((room.pk + 1000, "does_not_exist"), ("x", "incorrect_type"), (True, "incorrect_type"), (1e300, "does_not_exist"), (10**30, "does_not_exist")):  # fmt: skip
        response = as_owner.post(
            "/api/v1/booking-requests/",
            {"space": given, "start": z(at(18)), "end": z(at(20)), "party_size": 4},
            format="json",
        )
        assert response.status_code == 400, (given, response.content)
        assert response.json()["codes"] == {"space": [code]}, given


def close_tuesday(client, space):
    closure = Closure.objects.create(space=space, first_date=TUESDAY, last_date=TUESDAY, **REASONS)
    return lambda: closure.delete()


def close_the_venue(client, space):
    closure = Closure.objects.create(
        venue=space.venue, first_date=TUESDAY, last_date=TUESDAY, **REASONS
    )
    return lambda: closure.delete()


def close_through_the_api(operator_client, space):
    body = {"first_date": "2027-01-12", "last_date": "2027-01-12", "reason": {"fi": "Huolto", "sv": "Underhåll", "en": "Maintenance"}}  # fmt: skip
    response = operator_client.post(f"/api/v1/spaces/{space.pk}/closures/", body, format="json")
    assert response.status_code == 201, response.content
    url = f"/api/v1/spaces/{space.pk}/closures/{response.json()['id']}/"
    return lambda: operator_client.delete(url)


def shorten_the_evening(client, space):
    hours = OpeningHours.objects.get(space=space, weekday=1)
    hours.closes = 17 * 60
    hours.save()

    def undo():
        hours.closes = 22 * 60
        hours.save()

    return undo


def shrink_the_room(client, space):
    space.capacity = 2
    space.save()

    def undo():
        space.capacity = 8
        space.save()

    return undo


def move_the_venue_to_another_zone(client, space):
    # 16:00-18:00 UTC is 18:00-20:00 in Helsinki but 01:00-03:00 in Tokyo, when it is closed.
    venue = space.venue
    venue.timezone = "Asia/Tokyo"
    venue.save()

    def undo():
        venue.timezone = "Europe/Helsinki"
        venue.save()

    return undo


@pytest.mark.parametrize(
    "change",
    [
        close_tuesday,
        close_the_venue,
        close_through_the_api,
        shorten_the_evening,
        shrink_the_room,
        move_the_venue_to_another_zone,
    ],
)
def test_a_change_to_the_rules_is_enforced_at_the_next_request(as_owner, as_operator, room, change):
    assert ask(as_owner, room).status_code == 202  # the rules are now in the cache
    undo = change(as_operator, room)
    assert ask(as_owner, room, at(18, day=12), at(19, day=12)).status_code == 400
    undo()
    assert ask(as_owner, room, at(19, day=12), at(20, day=12)).status_code == 202


def test_an_extra_opening_is_bookable_at_the_next_request(as_owner, room):
    saturday = dict(start=at(10, day=16), end=at(12, day=16))
    assert ask(as_owner, room, **saturday).status_code == 400
    ExtraOpening.objects.create(space=room, date=date(2027, 1, 16), opens=10 * 60, closes=14 * 60)
    assert ask(as_owner, room, **saturday).status_code == 202


def test_an_activity_taken_off_the_space_is_refused_at_the_next_request(as_owner, room):
    band = ActivityFactory()
    room.activities.add(band)
    assert ask(as_owner, room, activity=band.slug).status_code == 202
    room.activities.remove(band)
    response = ask(as_owner, room, at(20), at(21), activity=band.slug)
    assert response.status_code == 400
    assert response.json()["codes"] == {"activity": ["activity_not_offered"]}


def test_an_entry_filled_from_the_state_before_a_change_is_read_again(room):
    """A reader that read the version, then the database before a change committed, stores an
    entry under the old version; the change's bump makes it stale."""
    before = rules_cache.rules_of(room)
    version_before = cache.get(f"space-rules-version:{room.pk}", 0)
    Space.objects.filter(pk=room.pk).update(capacity=3)  # no signal: as a commit elsewhere
    rules_cache.changed([room.pk])
    cache.set(f"space-rules:{room.pk}", (version_before, before))  # the late reader's entry
    assert rules_cache.rules_of(Space.objects.select_related("venue").get(pk=room.pk)).capacity == 3


def test_the_worker_reads_the_database_not_the_cache(room):
    """A change the cache never heard of (a bulk update sends no signal) still binds the
    decision, which re-reads every rule."""
    from api.bookings import services
    from tests.factories import BookingRequestFactory

    rules_cache.rules_of(room)
    Space.objects.filter(pk=room.pk).update(capacity=2)
    request = BookingRequestFactory(space=room, start=at(18), end=at(20), party_size=4)
    services.allocate(request.id)
    request.refresh_from_db()
    assert (request.status, request.reason) == ("rejected", "over_capacity")
