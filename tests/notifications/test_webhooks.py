"""Webhooks: operators register them; events arrive signed, retried with the same id."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.utils import timezone

from api.access import signals
from api.bookings import services as bookings
from api.bookings.models import BookingRequest
from api.notifications.models import Webhook, WebhookDelivery
from tests.conftest import client_for, wait_for
from tests.factories import BookingFactory, BookingRequestFactory, SpaceFactory
from tests.notifications.conftest import payload, signature_ok

SECRET = "a-long-enough-shared-secret"


def register(operator, url, events):
    response = client_for(operator).post(
        "/api/v1/webhooks/", {"url": url, "secret": SECRET, "events": events}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.mark.django_db
def test_only_operators_manage_webhooks_and_the_secret_is_never_shown(operator, owner):
    assert client_for(owner).get("/api/v1/webhooks/").status_code == 403
    assert client_for().get("/api/v1/webhooks/").status_code == 401
    body = register(operator, "https://example.org/hook", ["booking.cancelled", "request.decided"])
    assert body["events"] == ["booking.cancelled", "request.decided"]
    assert "secret" not in body
    listed = client_for(operator).get("/api/v1/webhooks/").json()["results"]
    assert [hook["url"] for hook in listed] == ["https://example.org/hook"]
    assert "secret" not in listed[0]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.org/x", "secret": SECRET, "events": ["booking.cancelled"]}, "url"),
        (
            {"url": "https://example.org/x", "secret": "short", "events": ["booking.cancelled"]},
            "secret",
        ),
        ({"url": "https://example.org/x", "secret": SECRET, "events": ["booking.eaten"]}, "events"),
        ({"url": "https://example.org/x", "secret": SECRET, "events": []}, "events"),
    ],
)
def test_a_bad_webhook_is_refused_by_field(operator, body, field):
    response = client_for(operator).post("/api/v1/webhooks/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Webhook.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_try_signed(
    celery_worker, operator, receivers
):
    receiver = receivers(statuses=[500, 503, 204])
    hook = register(operator, receiver.url, ["request.decided"])
    booking_request = BookingRequestFactory()
    bookings.allocate(booking_request.id)
    booking_request.refresh_from_db()

    delivery = wait_for(
        lambda: WebhookDelivery.objects.filter(state="delivered").first(), message="delivery"
    )
    assert len(receiver.calls) == 3
    bodies = {call["body"] for call in receiver.calls}
    assert len(bodies) == 1  # the same event, with the same id, every time
    assert all(signature_ok(call, SECRET) for call in receiver.calls)
    sent_names = receiver.calls[0]["headers"].keys()
    assert {"X-FlexiSpace-Timestamp", "X-FlexiSpace-Signature"} <= set(sent_names)
    event = payload(receiver.calls[-1])
    assert event["event"] == "request.decided"
    assert event["id"] == str(delivery.event_id)
    assert event["at"].endswith("Z")
    assert event["data"]["id"] == str(booking_request.id)
    assert event["data"]["status"] == "confirmed"
    assert event["data"]["booking"] == booking_request.booking.pk

    log = client_for(operator).get(f"/api/v1/webhooks/{hook['id']}/deliveries/").json()
    [entry] = log["results"]
    assert (entry["id"], entry["state"], entry["attempts"], entry["last_status"]) == (
        event["id"],
        "delivered",
        3,
        204,
    )
    assert entry["payload"] == event


@pytest.mark.django_db(transaction=True)
def test_a_receiver_that_never_answers_holds_up_no_other(celery_worker, operator, receivers):
    silent = receivers(hang=True)
    quick = receivers(statuses=[200])
    register(operator, silent.url, ["booking.cancelled"])
    register(operator, quick.url, ["booking.cancelled", "booking.checked_in"])
    booking = BookingFactory()
    bookings.cancel_booking(booking)
    bookings.cancel_booking(booking)
    wait_for(lambda: quick.calls, message="the quick receiver")
    assert payload(quick.calls[0])["event"] == "booking.cancelled"
    assert payload(quick.calls[0])["data"]["id"] == booking.pk
    assert "user" not in payload(quick.calls[0])["data"]
    slow = wait_for(
        lambda: (
            WebhookDelivery.objects.filter(webhook__url=silent.url, attempts__gte=1)
            .exclude(state="sending")
            .first()
        ),
        message="the silent receiver's time-out",
    )
    assert slow.state == "pending"
    assert "timed out" in slow.last_error
    assert WebhookDelivery.objects.filter(webhook__url=quick.url).count() == 1

    # The access app reports a check-in: a second event for the webhook that wants it.
    booking.checked_in_at = timezone.now()
    booking.save()
    signals.checked_in.send(None, booking_id=booking.pk, at=booking.checked_in_at)
    wait_for(lambda: len(quick.calls) == 2, message="the check-in event")
    assert payload(quick.calls[1])["event"] == "booking.checked_in"


@pytest.mark.django_db(transaction=True)
def test_a_rejection_is_decided_once_for_webhooks_however_often_allocate_runs(operator):
    Webhook.objects.create(url="http://127.0.0.1:9/", secret=SECRET, events=["request.decided"])
    space = SpaceFactory()
    zone = ZoneInfo("Europe/Helsinki")
    start = datetime.combine(
        timezone.now().astimezone(zone).date() + timedelta(days=2), time(12), tzinfo=zone
    )
    BookingFactory(space=space, start=start, end=start + timedelta(hours=1))
    request = BookingRequestFactory(space=space, start=start, end=start + timedelta(hours=1))
    with transaction.atomic():
        bookings.allocate(request.id)
        bookings.allocate(request.id)
    assert BookingRequest.objects.get(pk=request.pk).status == "rejected"
    [delivery] = WebhookDelivery.objects.all()
    assert delivery.payload_json["data"]["reason"] == "slot_taken"
