"""The .ics documents: a booking's, a space's busy times, a person's feed behind a secret."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from icalendar import Calendar

from api.access import services as access
from api.access.models import Grant
from tests.conftest import client_for
from tests.factories import BookingFactory, SpaceFactory, UserFactory

pytestmark = pytest.mark.django_db
HELSINKI = ZoneInfo("Europe/Helsinki")
# Helsinki moves to summer time on the last Sunday of March and back on the last of October.
AROUND_DST = [
    (datetime(2027, 3, 27, 18, tzinfo=HELSINKI), datetime(2027, 3, 27, 16, tzinfo=UTC)),
    (datetime(2027, 3, 29, 18, tzinfo=HELSINKI), datetime(2027, 3, 29, 15, tzinfo=UTC)),
    (datetime(2027, 10, 30, 18, tzinfo=HELSINKI), datetime(2027, 10, 30, 15, tzinfo=UTC)),
    (datetime(2027, 11, 1, 18, tzinfo=HELSINKI), datetime(2027, 11, 1, 16, tzinfo=UTC)),
]


def parse(response) -> Calendar:
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/calendar")
    return Calendar.from_ical(response.content)


def zone_ids(calendar: Calendar) -> set[str]:
    return {str(zone["tzid"]) for zone in calendar.walk("VTIMEZONE")}


@pytest.mark.parametrize(("local", "utc"), AROUND_DST)
def test_a_bookings_ics_shows_the_local_time_on_both_sides_of_a_dst_change(owner, local, utc):
    booking = BookingFactory(user=owner, start=local, end=local.replace(hour=20))
    calendar = parse(client_for(owner).get(f"/api/v1/bookings/{booking.pk}/calendar.ics"))
    assert zone_ids(calendar) == {"Europe/Helsinki"}
    [event] = calendar.events
    assert event["dtstart"].params["TZID"] == "Europe/Helsinki"
    assert (event.start.hour, event.start.minute, event.end.hour) == (18, 0, 20)
    assert event.start == utc
    assert event.start.tzinfo.utcoffset(event.start) == local.utcoffset()
    # The VTIMEZONE alone gives the same instant to a client that knows no zone names.
    standard = {str(c["tzname"]): c for c in calendar.walk("STANDARD")}
    daylight = {str(c["tzname"]): c for c in calendar.walk("DAYLIGHT")}
    assert "EET" in standard and "EEST" in daylight


def test_a_bookings_ics_carries_the_code_for_its_owner_only(owner, other, operator, anonymous):
    space = SpaceFactory(name="Hall 2")
    access.enrol_lock("hall-2", space)
    booking = BookingFactory(user=owner, space=space)
    access.create_grant(booking)
    code = Grant.objects.get(booking=booking).code
    url = f"/api/v1/bookings/{booking.pk}/calendar.ics"
    [event] = parse(client_for(owner).get(url, HTTP_ACCEPT="text/calendar")).events
    assert code in str(event["description"])
    assert str(event["location"]).startswith("Hall 2, ")
    assert str(event["status"]) == "CONFIRMED"
    assert client_for(other).get(url).status_code == 404
    assert client_for(operator).get(url).status_code == 404
    assert anonymous.get(url).status_code == 401


def test_a_spaces_feed_shows_busy_times_without_personal_data(anonymous):
    space = SpaceFactory()
    person = UserFactory(email="private.person@example.org", name="Private Person")
    for local, _ in AROUND_DST[:2]:
        BookingFactory(user=person, space=space, start=local, end=local.replace(hour=19))
    BookingFactory(space=SpaceFactory())  # another space's
    cancelled = BookingFactory(
        space=space, start=AROUND_DST[3][0], end=AROUND_DST[3][0].replace(hour=19)
    )
    cancelled.status = "cancelled"
    cancelled.save()
    response = anonymous.get(f"/api/v1/spaces/{space.pk}/calendar.ics")
    calendar = parse(response)
    assert zone_ids(calendar) == {"Europe/Helsinki"}
    assert [(e.start, str(e["summary"])) for e in calendar.events] == [
        (AROUND_DST[0][1], "Varattu"),
        (AROUND_DST[1][1], "Varattu"),
    ]
    text = response.content.decode()
    for private in ("private.person", "Private Person", "DESCRIPTION", "ATTENDEE", "ORGANIZER"):
        assert private not in text
    assert anonymous.get("/api/v1/spaces/999999/calendar.ics").status_code == 404


def test_the_personal_feed_follows_its_secret_which_the_user_can_rotate(owner, other, anonymous):
    for local, _ in AROUND_DST:
        BookingFactory(user=owner, start=local, end=local.replace(hour=20))
    BookingFactory(user=other)
    client = client_for(owner)
    assert anonymous.post("/api/v1/auth/me/calendar-token/").status_code == 401
    first = client.post("/api/v1/auth/me/calendar-token/").json()["url"]
    assert first.startswith(f"{settings.PUBLIC_URL}/api/v1/calendar/") and first.endswith(".ics")
    calendar = parse(anonymous.get(first))
    assert [e.start for e in calendar.events] == [utc for _, utc in AROUND_DST]
    assert all(e.start.hour == 18 for e in calendar.events)
    assert zone_ids(calendar) == {"Europe/Helsinki"}
    assert "Europe/Helsinki" in {str(e["dtstart"].params["TZID"]) for e in calendar.events}

    second = client.post("/api/v1/auth/me/calendar-token/").json()["url"]
    assert second != first
    assert anonymous.get(first).status_code == 404
    parse(anonymous.get(second))
    assert anonymous.get("/api/v1/calendar/not-a-token.ics").status_code == 404
