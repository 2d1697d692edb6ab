"""A line break in a name: refused where names come in (the API, the admin), and harmless in
the calendars and the mail of rows that hold one already (made before names were checked)."""

import email
import email.policy

import pytest
from django.core import mail
from django.db import transaction
from django.utils import timezone
from icalendar import Calendar

from api.access import services as access
from api.catalogue.admin import VenueAdmin
from api.notifications import services as notifications
from api.notifications.models import Notification
from tests.conftest import client_for
from tests.factories import (
    BookingFactory,
    BookingRequestFactory,
    OrganisationFactory,
    SpaceFactory,
    VenueFactory,
)
from tests.security.world import build_world, row_counts

pytestmark = pytest.mark.django_db

BROKEN = ["Hall\nX", "Hall\r\nX", "Hall\rX", "Hall\u2028X", "Hall\x0bX", "Hall\x1bX"]


@pytest.fixture
def space_with_broken_names():
    space = SpaceFactory(name="Music\r\nroom 2", venue__name="Kallio\nlibrary")
    access.enrol_lock("broken-names", space)
    return space


def one_line_texts(component) -> list[str]:
    return [str(component[name]) for name in ("summary", "location") if name in component]


def test_a_space_name_with_a_line_break_does_not_break_its_public_calendar(
    anonymous, space_with_broken_names
):
    BookingFactory(space=space_with_broken_names)
    response = anonymous.get(f"/api/v1/spaces/{space_with_broken_names.pk}/calendar.ics")
    assert response.status_code == 200
    calendar = Calendar.from_ical(response.content)
    assert str(calendar["x-wr-calname"]) == "Kallio library / Music room 2"


def test_a_space_name_with_a_line_break_does_not_break_a_bookings_ics(
    owner, space_with_broken_names
):
    booking = BookingFactory(user=owner, space=space_with_broken_names)
    response = client_for(owner).get(f"/api/v1/bookings/{booking.pk}/calendar.ics")
    assert response.status_code == 200
    [event] = Calendar.from_ical(response.content).events
    assert str(event["summary"]) == "Music room 2, Kallio library"
    assert all("\n" not in text and "\r" not in text for text in one_line_texts(event))


def test_the_confirmation_email_with_the_code_goes_out_for_a_name_with_a_line_break(
    owner, settings, space_with_broken_names
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    request = BookingRequestFactory(
        user=owner, space=space_with_broken_names, status="confirmed", decided_at=timezone.now()
    )
    with transaction.atomic():
        booking = BookingFactory(user=owner, space=space_with_broken_names, request=request)
        code = access.create_grant(booking).code
        notifications.requests_decided([(request, booking)])
    notification = Notification.objects.get(booking=booking, kind="booking_confirmed")
    assert notifications.send_notification(notification.pk) == "sent"
    [sent] = mail.outbox
    message = email.message_from_bytes(sent.message().as_bytes(), policy=email.policy.default)
    assert "\n" not in message["Subject"]
    [attachment] = [part for part in message.iter_attachments()]
    [event] = Calendar.from_ical(attachment.get_content()).events
    assert code in str(event["description"])


@pytest.mark.parametrize("name", BROKEN)
def test_the_api_refuses_a_name_with_a_line_break_or_a_control_character(name):
    world = build_world()
    client = client_for(world.operator)
    before = row_counts()
    venue = {
        "name": name,
        "address": "Työpajankatu 8",
        "district": "Kalasatama",
        "latitude": 60.18,
        "longitude": 24.97,
    }
    for url, body, field in [
        ("/api/v1/venues/", venue, "name"),
        ("/api/v1/venues/", {**venue, "name": "Hall", "address": name}, "address"),
        ("/api/v1/spaces/", {"venue": world.venue.pk, "name": name, "capacity": 5, "activities": []}, "name"),
        ("/api/v1/activities/", {"slug": "salsa", "name": {"fi": name, "sv": "Salsa", "en": "Salsa"}}, "name"),
    ]:  # fmt: skip
        response = client.post(url, body, format="json")
        assert response.status_code == 400, (url, response.content)
        assert field in response.json()
    response = client.patch(f"/api/v1/spaces/{world.space.pk}/", {"name": name}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()
    assert row_counts() == before
    world.space.refresh_from_db()
    assert "X" not in world.space.name


def test_a_name_in_any_script_is_taken_as_it_is(as_operator):
    name = "Käpylän sali \N{EN DASH} 音楽室 🎷 Musiksal"
    body = {"name": name, "address": "Pohjolankatu 1", "district": "Käpylä"}
    body["organisation"] = OrganisationFactory().pk
    response = as_operator.post(
        "/api/v1/venues/", {**body, "latitude": 60.21, "longitude": 24.95}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["name"] == name


def test_the_admin_refuses_a_venue_name_with_a_line_break(rf, operator):
    from django.contrib.admin.sites import site

    venue = VenueFactory()
    request = rf.get("/")
    request.user = operator
    form_class = VenueAdmin(type(venue), site).get_form(request, venue)
    form = form_class(
        {
            "organisation": venue.organisation_id,
            "name": "Hall\nX",
            "address": venue.address,
            "district": venue.district,
            "latitude": venue.latitude,
            "longitude": venue.longitude,
            "timezone": venue.timezone,
        },
        instance=venue,
    )
    assert not form.is_valid()
    assert "name" in form.errors
