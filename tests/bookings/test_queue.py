"""The booking path on the real Redis broker and a real Celery worker."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from api.bookings import services
from api.bookings.choices import RequestStatus
from api.bookings.models import Booking, BookingRequest
from tests.conftest import client_for, wait_for
from tests.factories import BookingRequestFactory, SpaceFactory, UserFactory, next_slot
from workers import app

pytestmark = pytest.mark.django_db(transaction=True)


def decided(*request_ids):
    def check():
        return not BookingRequest.objects.filter(
            id__in=request_ids, status=RequestStatus.PENDING
        ).exists()

    return check


def test_a_posted_request_is_queued_allocated_and_confirmed(celery_worker, owner):
    space = SpaceFactory()
    start, end = next_slot()
    client = client_for(owner)
    response = client.post(
        "/api/v1/booking-requests/",
        {"space": space.id, "start": start.isoformat(), "end": end.isoformat(), "party_size": 5},
        format="json",
    )
    assert response.status_code == 202
    location = response["Location"]
    wait_for(lambda: client.get(location).json()["status"] != "pending", message="a decision")
    body = client.get(location).json()
    assert body["status"] == "confirmed"
    assert body["reason"] is None
    assert body["decided_at"] is not None
    booking = client.get(f"/api/v1/bookings/{body['booking']}/").json()
    assert (booking["space"], booking["status"], booking["request"]) == (
        space.id,
        "confirmed",
        body["id"],
    )


def test_fifty_people_racing_for_one_slot_give_one_booking(celery_worker):
    space = SpaceFactory(capacity=50)
    start, end = next_slot()
    requests = [
        BookingRequestFactory(space=space, start=start, end=end, user=UserFactory())
        for _ in range(50)
    ]
    for booking_request in requests:
        app.send_task("allocation.allocate", args=[booking_request.id])
    wait_for(decided(*[r.id for r in requests]), timeout=60, message="50 decisions")
    outcomes = sorted(BookingRequest.objects.values_list("status", "reason").distinct().order_by())
    counts = {
        status: BookingRequest.objects.filter(status=status).count()
        for status in RequestStatus.values
    }
    assert counts == {"pending": 0, "confirmed": 1, "rejected": 49}
    assert outcomes == [("confirmed", None), ("rejected", "slot_taken")]
    assert Booking.objects.filter(space=space).count() == 1


def test_a_redelivered_allocation_task_decides_nothing_twice(celery_worker):
    booking_request = BookingRequestFactory()
    for _ in range(3):
        app.send_task("allocation.allocate", args=[booking_request.id])
    wait_for(decided(booking_request.id), message="the decision")
    booking_request.refresh_from_db()
    first_decision = booking_request.decided_at
    app.send_task("allocation.allocate", args=[booking_request.id])
    # The last delivery is the newest message on the queue; once a later one is handled, it was.
    marker = BookingRequestFactory()
    app.send_task("allocation.allocate", args=[marker.id])
    wait_for(decided(marker.id), message="the marker")
    booking_request.refresh_from_db()
    assert booking_request.status == RequestStatus.CONFIRMED
    assert booking_request.decided_at == first_decision
    assert Booking.objects.filter(request=booking_request).count() == 1


def test_a_request_whose_message_redis_lost_is_requeued_and_decided(celery_worker, settings):
    settings.BOOKING_REQUEUE_AFTER = settings.BOOKING_REQUEUE_AFTER * 0
    # Written and committed, but its message never reached the queue (Redis restarted empty).
    lost = BookingRequestFactory()
    assert services.requeue_stale_requests() == 1
    wait_for(decided(lost.id), message="the re-queued request")
    lost.refresh_from_db()
    assert lost.status == RequestStatus.CONFIRMED
    assert services.requeue_stale_requests() == 0


def test_two_sweeps_at_once_queue_a_stale_request_once(monkeypatch):
    stale = {r.id for r in BookingRequestFactory.create_batch(20)}
    BookingRequest.objects.update(queued_at=timezone.now() - timedelta(minutes=5))
    queued, barrier = [], threading.Barrier(2)
    monkeypatch.setattr(
        services, "enqueue_on_commit", lambda name, request_id: queued.append(request_id)
    )

    def sweep():
        barrier.wait()
        services.requeue_stale_requests()
        connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(queued) == sorted(stale)
