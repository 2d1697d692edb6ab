"""Idempotency-Key: a retry with the same body gets the first request and creates nothing; the
same key with another body is a 422 that says so; and a retry of a request that was saved but
never queued (the API died in between) queues it at once, and one already queued never again."""

from datetime import timedelta

import pytest
from django.utils import timezone

from api.bookings import services
from api.bookings.models import BookingRequest
from tests.conftest import client_for, wait_for
from tests.factories import BookingRequestFactory, SpaceFactory, UserFactory, next_slot

URL = "/api/v1/booking-requests/"


def body_for(space, **changes):
    start, end = next_slot()
    return {
        "space": space.pk,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "party_size": 8,
        **changes,
    }


@pytest.mark.django_db
def test_the_same_key_with_another_body_is_a_422_that_says_so(as_owner, space):
    first = as_owner.post(URL, body_for(space), format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 202
    other = as_owner.post(
        URL, body_for(space, party_size=9), format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert other.status_code == 422
    assert other.json()["codes"] == {"Idempotency-Key": ["idempotency_key_reused"]}
    # The owner's language is Finnish (the default).
    assert "toiseen pyyntöön" in other.json()["Idempotency-Key"][0]
    assert BookingRequest.objects.get().party_size == 8


@pytest.mark.django_db
def test_the_same_body_written_another_way_is_the_same_request(as_owner, space):
    body = body_for(space)
    first = as_owner.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-2")
    helsinki = next_slot()[0].astimezone(space.venue.zone).isoformat()
    again = as_owner.post(
        URL, {**body, "start": helsinki}, format="json", HTTP_IDEMPOTENCY_KEY="k-2"
    )
    assert again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert BookingRequest.objects.count() == 1


@pytest.mark.django_db
def test_a_request_is_queued_once_whoever_asks(space, owner):
    booking_request = BookingRequestFactory(user=owner, space=space)
    assert services.queue_once(booking_request.pk) is True
    assert services.queue_once(booking_request.pk) is False


@pytest.mark.django_db
def test_a_request_the_sweeper_queued_again_is_not_queued_by_a_later_retry(space, owner):
    lost = BookingRequestFactory(user=owner, space=space)
    BookingRequest.objects.update(queued_at=timezone.now() - timedelta(hours=1))
    assert services.requeue_stale_requests() == 1
    assert services.queue_once(lost.pk) is False


def saved_but_never_queued(user, space, key) -> tuple[BookingRequest, dict]:
    """The row an API process leaves when it dies after its commit, before it queues, and the
    body that its client sends again."""
    start, end = next_slot()
    fields = {"space": space, "start": start, "end": end, "party_size": 8}
    lost = BookingRequestFactory(
        user=user, idempotency_key=key, fingerprint=services.fingerprint(fields), **fields
    )
    return lost, body_for(space)


@pytest.mark.django_db(transaction=True)
def test_a_retry_queues_at_once_a_request_saved_but_never_queued(celery_worker):
    # No beat runs in the tests: only the retry can get this request decided.
    owner, space = UserFactory(), SpaceFactory()
    lost, body = saved_but_never_queued(owner, space, "k-3")
    retry = client_for(owner).post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="k-3")
    assert retry.status_code == 202
    assert retry.json()["id"] == str(lost.pk)
    wait_for(
        lambda: BookingRequest.objects.get(pk=lost.pk).status == "confirmed",
        timeout=10,
        message="the request to be decided",
    )
    assert BookingRequest.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("key", [None, "k-5"])
def test_a_request_is_queued_once_with_or_without_a_key(monkeypatch, key):
    """Without a key nothing can queue it again, so it is queued without a mark; with one, a
    retry finds the mark and queues nothing more."""
    queued = []
    monkeypatch.setattr(services, "enqueue", lambda name, *args, **kw: queued.append(args))
    monkeypatch.setattr("workers.queue.enqueue", lambda name, *args, **kw: queued.append(args))
    owner, space = UserFactory(), SpaceFactory()
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    body = body_for(space)
    first = client_for(owner).post(URL, body, format="json", **headers)
    assert first.status_code == 202
    if key is not None:
        assert client_for(owner).post(URL, body, format="json", **headers).status_code == 202
    assert queued == [(BookingRequest.objects.get().pk,)]
