"""A door code is readable only by its booking's owner, operators and its lock: absent from
what anyone else gets (answers, lists, errors, calendars), from webhooks, and from the logs of
the API and the worker that made it."""

import logging
import re

import pytest

from api.access import services as access
from api.access.models import Grant
from api.bookings.models import BookingRequest
from api.notifications.models import Webhook, WebhookDelivery
from tests.conftest import client_for, wait_for
from tests.factories import SpaceFactory, UserFactory, next_slot
from tests.security.world import build_world
from tests.settings import RUN


def appears(code: str, text: str) -> bool:
    return re.search(rf"(?<![0-9A-Za-z]){code}(?![0-9A-Za-z])", text) is not None


@pytest.mark.django_db
def test_no_answer_to_another_user_carries_the_code():
    world = build_world()
    code, booking = world.grant.code, world.booking
    other, owner, operator = (client_for(world.user(r)) for r in ("other", "owner", "operator"))
    assert owner.get(f"/api/v1/bookings/{booking.pk}/").json()["access"]["code"] == code
    assert operator.get(f"/api/v1/bookings/{booking.pk}/").json()["access"]["code"] == code

    answers = [
        other.get("/api/v1/bookings/"),
        other.get(f"/api/v1/bookings/?space={world.space.pk}"),
        other.get(f"/api/v1/bookings/{booking.pk}/"),
        other.get(f"/api/v1/bookings/{booking.pk}/calendar.ics"),
        other.post(f"/api/v1/bookings/{booking.pk}/cancel/"),
        other.get(f"/api/v1/booking-requests/{world.booking_request.pk}/"),
        other.get(f"/api/v1/locks/{world.lock.pk}/"),
        other.get("/api/v1/alerts/"),
        other.get(f"/api/v1/spaces/{world.space.pk}/calendar.ics"),
        other.get(f"/api/v1/spaces/{world.space.pk}/availability/", {"from": booking.start.isoformat(), "to": booking.end.isoformat()}),
        # Asking for the same slot: an answer about the slot, not about whose it is.
        other.post("/api/v1/booking-requests/", {"space": world.space.pk, "start": booking.start.isoformat(), "end": booking.end.isoformat(), "party_size": 2}, format="json"),
        other.post("/api/v1/booking-requests/", {"space": world.space.pk, "start": booking.start.isoformat(), "end": "nonsense", "party_size": 2}, format="json"),
        # The owner's personal feed is for calendars: codes stay in the app and mail.
        client_for().get(f"/api/v1/calendar/{world.calendar_secret}.ics"),
        owner.get(f"/api/v1/calendar/{world.calendar_secret}.ics"),
    ]  # fmt: skip
    assert [response.status_code for response in answers[2:6]] == [404, 404, 404, 404]
    for response in answers:
        assert not appears(code, response.content.decode()), response.request["PATH_INFO"]


@pytest.mark.django_db(transaction=True)
def test_the_code_is_in_no_log_and_no_webhook_from_request_to_decision(celery_worker, caplog):
    caplog.set_level(logging.DEBUG)
    operator = UserFactory(is_staff=True)
    Webhook.objects.create(
        url="http://127.0.0.1:9/unreachable",
        secret="a webhook secret of sixteen+",
        events=["request.decided", "booking.cancelled"],
        created_by=operator,
    )
    space = SpaceFactory()
    access.enrol_lock(f"{RUN}-lock-codes", space)
    owner = client_for(UserFactory())
    start, end = next_slot()
    response = owner.post(
        "/api/v1/booking-requests/",
        {"space": space.pk, "start": start.isoformat(), "end": end.isoformat(), "party_size": 3},
        format="json",
    )
    request_id = response.json()["id"]
    wait_for(
        lambda: BookingRequest.objects.filter(pk=request_id, status="confirmed").exists(),
        message="the decision",
    )
    grant = Grant.objects.get(booking__request_id=request_id)
    owner.post(f"/api/v1/bookings/{grant.booking_id}/cancel/")
    wait_for(lambda: WebhookDelivery.objects.count() == 2, message="both webhook events")

    assert not appears(grant.code, caplog.text)
    assert not appears(grant.code, celery_worker.log_path.read_text())
    for delivery in WebhookDelivery.objects.all():
        assert not appears(grant.code, delivery.body)
