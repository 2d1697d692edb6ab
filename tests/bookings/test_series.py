"""Weekly series: the band's Thursday 18-20 all year, across both daylight-saving changes."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from icalendar import Calendar

from api.bookings import rules, series, services
from api.bookings.models import BookingSeries
from api.notifications import services as notifications
from api.notifications.models import Notification
from tests.access.conftest import enrol
from tests.factories import BookingFactory, SpaceFactory

pytestmark = pytest.mark.django_db

HELSINKI = ZoneInfo("Europe/Helsinki")
# Thursdays from before the spring change (28 March 2027) to after the autumn one (31 October).
SPRING_TO_AUTUMN = {"first_date": "2027-03-18", "last_date": "2027-11-04"}
NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _early_march():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def music_room():
    space = SpaceFactory(max_advance_days=400)
    space.venue.max_active_bookings = 100
    space.venue.save()
    return space


def thursday_evening(client, space, **fields):
    body = {
        "space": space.pk,
        "weekdays": [3],
        "start_time": "18:00",
        "end_time": "20:00",
        "party_size": 5,
        **SPRING_TO_AUTUMN,
        **fields,
    }
    return client.post("/api/v1/booking-series/", body, format="json")


def decided(client, response):
    series.allocate_series(response.json()["id"])
    return client.get(f"/api/v1/booking-series/{response.json()['id']}/").json()


def excluded(event) -> list[datetime]:
    """The EXDATEs of an event (one property each, or one list)."""
    found = event.get("exdate", [])
    found = found if isinstance(found, list) else [found]
    return [moment.dt for dates in found for moment in dates.dts]


def at_six(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 18, tzinfo=HELSINKI)


def test_occurrences_keep_the_local_time_across_both_changes():
    found = rules.series_occurrences(
        HELSINKI, [3], 18 * 60, 20 * 60, date(2027, 3, 18), date(2027, 11, 4)
    )
    assert len(found) == 34
    assert {start.astimezone(HELSINKI).hour for _, start, _ in found} == {18}
    assert {end.astimezone(HELSINKI).hour for _, _, end in found} == {20}
    utc_hours = [start.hour for _, start, _ in found]
    # 16:00 UTC in winter time, 15:00 UTC in summer time, 16:00 again after October.
    assert utc_hours[:2] == [16, 16] and utc_hours[2] == 15 and utc_hours[-1] == 16
    assert found[0][0] == date(2027, 3, 18) and all(day.weekday() == 3 for day, _, _ in found)


def test_a_series_books_every_occurrence_but_the_one_that_clashes(as_owner, music_room):
    enrol(music_room)
    clash = at_six(date(2027, 4, 1))
    BookingFactory(space=music_room, start=clash, end=clash + timedelta(hours=2))
    response = thursday_evening(as_owner, music_room)
    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "pending"
    assert len(response.json()["occurrences"]) == 34
    shown = decided(as_owner, response)
    assert shown["status"] == "decided"
    refused = [o for o in shown["occurrences"] if o["status"] != "confirmed"]
    assert refused == [
        {
            "date": "2027-04-01",
            "start": "2027-04-01T15:00:00Z",
            "end": "2027-04-01T17:00:00Z",
            "status": "rejected",
            "booking": None,
            "reason": "slot_taken",
        }
    ]
    # Before and after each change the local time is 18:00.
    by_date = {o["date"]: o for o in shown["occurrences"]}
    assert by_date["2027-03-25"]["start"] == "2027-03-25T16:00:00Z"
    assert by_date["2027-04-08"]["start"] == "2027-04-08T15:00:00Z"
    assert by_date["2027-11-04"]["start"] == "2027-11-04T16:00:00Z"
    # Each occurrence is a booking of its own, with its own code on the lock.
    made = BookingSeries.objects.get().occurrences.filter(status="confirmed")
    codes = [request.booking.grant.code for request in made]
    assert len(codes) == 33


def test_the_series_calendar_recurs_weekly_without_what_was_not_booked(as_owner, music_room):
    clash = at_six(date(2027, 4, 1))
    BookingFactory(space=music_room, start=clash, end=clash + timedelta(hours=2))
    response = thursday_evening(as_owner, music_room)
    decided(as_owner, response)
    answer = as_owner.get(f"/api/v1/booking-series/{response.json()['id']}/calendar.ics")
    assert answer.status_code == 200
    (event,) = Calendar.from_ical(answer.content).walk("VEVENT")
    assert event.decoded("dtstart") == at_six(date(2027, 3, 18))
    rule = event["rrule"]
    assert rule["FREQ"] == ["WEEKLY"] and rule["BYDAY"] == ["TH"]
    assert rule["UNTIL"] == [at_six(date(2027, 11, 4)).astimezone(UTC)]
    assert excluded(event) == [clash]
    assert str(event["dtstart"].params["TZID"]) == "Europe/Helsinki"


def test_cancelling_one_occurrence_and_then_the_rest(as_owner, music_room):
    response = thursday_evening(as_owner, music_room, last_date="2027-04-15")
    shown = decided(as_owner, response)
    _first, second, *rest = shown["occurrences"]
    assert as_owner.post(f"/api/v1/bookings/{second['booking']}/cancel/").status_code == 200
    with time_machine.travel(at_six(date(2027, 3, 18)) + timedelta(hours=1), tick=False):
        answer = as_owner.post(f"/api/v1/booking-series/{response.json()['id']}/cancel/")
        again = as_owner.post(f"/api/v1/booking-series/{response.json()['id']}/cancel/")
    assert answer.status_code == 200 and again.json() == answer.json()
    statuses = [o["status"] for o in answer.json()["occurrences"]]
    # The one under way stays; the one cancelled alone and every later one are cancelled.
    assert statuses == ["confirmed", "cancelled", *["cancelled"] * len(rest)]
    assert answer.json()["cancelled_at"] is not None
    calendar = as_owner.get(f"/api/v1/booking-series/{response.json()['id']}/calendar.ics")
    (event,) = Calendar.from_ical(calendar.content).walk("VEVENT")
    assert len(excluded(event)) == 1 + len(rest)


def test_occurrences_not_yet_decided_are_refused_once_the_series_is_cancelled(as_owner, music_room):
    response = thursday_evening(as_owner, music_room, last_date="2027-04-15")
    as_owner.post(f"/api/v1/booking-series/{response.json()['id']}/cancel/")
    shown = decided(as_owner, response)
    assert {o["reason"] for o in shown["occurrences"]} == {"series_cancelled"}


def test_a_series_counts_against_the_active_booking_cap(as_owner, music_room):
    music_room.venue.max_active_bookings = 3
    music_room.venue.save()
    shown = decided(as_owner, thursday_evening(as_owner, music_room, last_date="2027-04-29"))
    reasons = [o["reason"] for o in shown["occurrences"]]
    # The nearest weeks are booked first.
    assert reasons == [None, None, None, *["quota_exceeded"] * 4]


def test_a_series_counts_against_the_weekly_hours_cap(as_owner, music_room):
    music_room.venue.max_weekly_hours = 5
    music_room.venue.save()
    # Tuesdays and Thursdays, 3 hours each: 6 hours a week, one more than allowed.
    response = thursday_evening(
        as_owner, music_room, weekdays=[1, 3], end_time="21:00", last_date="2027-03-31"
    )
    shown = decided(as_owner, response)
    outcome = {o["date"]: o["reason"] for o in shown["occurrences"]}
    assert outcome == {
        "2027-03-18": None,  # a Thursday: the week's first
        "2027-03-23": None,
        "2027-03-25": "weekly_hours_exceeded",
        "2027-03-30": None,
    }


def test_a_series_is_its_owners_only(as_owner, as_other, music_room):
    response = thursday_evening(as_owner, music_room, last_date="2027-04-01")
    url = f"/api/v1/booking-series/{response.json()['id']}/"
    assert as_other.get(url).status_code == 404
    assert as_other.post(f"{url}cancel/").status_code == 404
    assert as_other.get(f"{url}calendar.ics").status_code == 404
    assert as_other.get("/api/v1/booking-series/").json()["count"] == 0
    assert as_owner.get("/api/v1/booking-series/").json()["count"] == 1


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"weekdays": []}, "weekdays"),
        ({"weekdays": [7]}, "weekdays"),
        ({"start_time": "18:15"}, "start_time"),
        ({"end_time": "17:00"}, "end_time"),
        ({"end_time": "18:30"}, "end_time"),
        ({"start_time": "25:00"}, "start_time"),
        ({"last_date": "2027-03-01"}, "last_date"),
        ({"last_date": "2028-12-01"}, "last_date"),
        ({"first_date": "2026-01-01", "last_date": "2026-06-01"}, "first_date"),
        ({"party_size": 13}, "party_size"),
        ({"party_size": 0}, "party_size"),
        ({"activity": "choir"}, "activity"),
    ],
)
def test_a_series_that_can_never_hold_is_refused_naming_the_field(
    as_owner, music_room, fields, field
):
    response = thursday_evening(as_owner, music_room, **fields)
    assert response.status_code == 400
    assert field in response.json()
    assert not BookingSeries.objects.exists()


def test_the_series_task_is_safe_to_run_twice(as_owner, music_room):
    response = thursday_evening(as_owner, music_room, last_date="2027-04-01")
    series.allocate_series(response.json()["id"])
    series.allocate_series(response.json()["id"])
    made = BookingSeries.objects.get()
    assert made.occurrences.count() == 3
    assert sum(1 for o in made.occurrences.all() if services.Booking.objects.filter(request=o)) == 3


def test_each_occurrence_has_its_own_reminder_and_calendar(as_owner, music_room):
    shown = decided(as_owner, thursday_evening(as_owner, music_room, last_date="2027-03-25"))
    first, second = shown["occurrences"]
    # A day before the first, its reminder alone is due.
    day_before = at_six(date(2027, 3, 18)) - timedelta(hours=23)
    assert notifications.queue_reminders(day_before) == 1
    assert Notification.objects.filter(kind="reminder").get().booking_id == first["booking"]
    answer = as_owner.get(f"/api/v1/bookings/{second['booking']}/calendar.ics")
    (event,) = Calendar.from_ical(answer.content).walk("VEVENT")
    assert event.decoded("dtstart") == at_six(date(2027, 3, 25))
