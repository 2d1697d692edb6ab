"""allocate() decides other waiting requests beside its own, in one transaction, keeping every
guarantee of a decision made alone."""

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from api.bookings import services
from api.bookings.choices import RequestStatus
from api.bookings.models import Booking, BookingRequest
from api.notifications.models import Notification
from tests.conftest import all_at_once, wait_for
from tests.factories import (
    BookingFactory,
    BookingRequestFactory,
    SpaceFactory,
    UserFactory,
    next_slot,
)


def request(**fields) -> BookingRequest:
    return BookingRequestFactory(**fields)


def decided(booking_request: BookingRequest) -> tuple:
    booking_request.refresh_from_db()
    return booking_request.status, booking_request.reason


@pytest.mark.django_db
def test_one_task_decides_the_waiting_requests_with_their_bookings_and_mail():
    start, end = next_slot()
    waiting = [request(start=start, end=end) for _ in range(5)]
    services.allocate(waiting[2].id)
    assert [decided(r) for r in waiting] == [("confirmed", None)] * 5
    assert Booking.objects.count() == 5
    assert Notification.objects.filter(kind="booking_confirmed").count() == 5
    for booking_request in waiting:
        assert booking_request.booking.space_id == booking_request.space_id
        assert booking_request.decided_at is not None


@pytest.mark.django_db
def test_a_batch_of_twenty_costs_fewer_statements_than_five_decisions_alone():
    def statements(count: int) -> int:
        start, end = next_slot(hours_ahead=3 + count)
        space = SpaceFactory()
        waiting = [request(space=space, start=start + timedelta(hours=k), end=end + timedelta(hours=k)) for k in range(count)]  # fmt: skip
        with CaptureQueriesContext(connection) as queries:
            services.allocate(waiting[0].id)
        assert all(decided(r) == ("confirmed", None) for r in waiting)
        return len(queries)

    alone = statements(1)
    assert statements(20) < 5 * alone


@pytest.mark.django_db
def test_within_a_batch_the_earlier_request_wins_and_only_the_later_one_is_rejected():
    space = SpaceFactory()
    start, end = next_slot()
    first = request(space=space, start=start, end=end)
    clash = request(space=space, start=start + timedelta(minutes=30), end=end + timedelta(hours=1))
    elsewhere = request(start=start, end=end)
    services.allocate(clash.id)  # the task of the later request, deciding the earlier too
    assert decided(first) == ("confirmed", None)
    assert decided(clash) == ("rejected", "slot_taken")
    assert decided(elsewhere) == ("confirmed", None)
    assert space.bookings.get().request_id == first.id


@pytest.mark.django_db
def test_a_slot_booked_before_the_batch_rejects_only_its_request():
    space = SpaceFactory()
    start, end = next_slot()
    BookingFactory(space=space, start=start, end=end)
    taken = request(space=space, start=start, end=end)
    free = [request(start=start, end=end) for _ in range(3)]
    services.allocate(free[0].id)
    assert decided(taken) == ("rejected", "slot_taken")
    assert [decided(r) for r in free] == [("confirmed", None)] * 3


@pytest.mark.django_db
def test_a_rule_broken_by_one_request_rejects_only_that_one():
    start, end = next_slot()
    small = SpaceFactory(capacity=2)
    too_many = request(space=small, start=start, end=end, party_size=9)
    fine = request(start=start, end=end)
    services.allocate(fine.id)
    assert decided(too_many) == ("rejected", "over_capacity")
    assert decided(fine) == ("confirmed", None)


@pytest.mark.django_db
def test_a_batch_takes_one_request_a_person_so_that_their_caps_are_counted_exactly(settings):
    """A person's further requests wait for their own tasks, each counted from the database
    with the bookings the earlier ones made (here the cap of two active bookings)."""
    settings.MAX_ACTIVE_BOOKINGS_PER_USER = 2
    person = UserFactory()
    start, end = next_slot()
    taken = SpaceFactory()
    BookingFactory(space=taken, start=start, end=end)
    lost = request(user=person, space=taken, start=start, end=end)
    others = [request(user=person, start=start, end=end) for _ in range(3)]
    someone_else = request(start=start, end=end)
    services.allocate(lost.id)
    assert decided(lost) == ("rejected", "slot_taken")
    assert decided(someone_else) == ("confirmed", None)
    assert [decided(r)[0] for r in others] == ["pending"] * 3
    for booking_request in others:
        services.allocate(booking_request.id)
    assert [decided(r) for r in others] == [
        ("confirmed", None),
        ("confirmed", None),
        ("rejected", "quota_exceeded"),
    ]


@pytest.mark.django_db
def test_a_batch_is_bounded():
    start, end = next_slot()
    waiting = [request(start=start, end=end) for _ in range(services.BATCH_SIZE + 5)]
    services.allocate(waiting[-1].id)
    statuses = [decided(r)[0] for r in waiting]
    assert statuses.count("confirmed") == services.BATCH_SIZE
    # The task's own request first, then the oldest others.
    assert statuses[-1] == "confirmed" and statuses[: services.BATCH_SIZE - 1] == ["confirmed"] * (services.BATCH_SIZE - 1)  # fmt: skip


def held_then_let_go(booking_request: BookingRequest):
    """Another batch holding the request (its row locked) until `release`, then rolling back;
    and the request's own task, started meanwhile. Returns (release, join, the task's thread)."""
    holding, released = threading.Event(), threading.Event()

    def a_batch_that_fails():
        with transaction.atomic():
            BookingRequest.objects.select_for_update().get(pk=booking_request.pk)
            holding.set()
            released.wait(10)
            transaction.set_rollback(True)
        connection.close()

    other = threading.Thread(target=a_batch_that_fails)
    other.start()
    holding.wait(10)
    own = threading.Thread(
        target=lambda: (services.allocate(booking_request.id), connection.close())
    )
    own.start()

    def join():
        other.join()
        own.join(10)

    return released.set, join, own


@pytest.mark.django_db(transaction=True)
def test_a_request_held_by_a_batch_that_rolls_back_is_decided_by_its_own_task():
    booking_request = request()
    release, join, own = held_then_let_go(booking_request)
    own.join(0.5)
    assert own.is_alive(), "the task waits for its own request rather than skipping it"
    release()
    join()
    assert decided(booking_request) == ("confirmed", None)


@pytest.mark.django_db(transaction=True)
def test_a_task_whose_request_another_batch_holds_decides_others_meanwhile():
    """Tasks come in queue order, so the next task's request is usually in the batch under way:
    rather than wait idle for that batch, the task decides a batch of others first."""
    held, waiting = request(), request()
    release, join, own = held_then_let_go(held)
    wait_for(lambda: decided(waiting) == ("confirmed", None), timeout=5)
    assert own.is_alive() and decided(held) == ("pending", None)
    release()
    join()
    assert decided(held) == ("confirmed", None)


@pytest.mark.django_db(transaction=True)
def test_racing_batches_decide_each_request_once_with_one_booking_per_slot():
    spaces = [SpaceFactory() for _ in range(5)]
    start, end = next_slot()
    # Four requests for each space's slot: one winner a slot, whichever batch it lands in.
    waiting = [request(space=space, start=start, end=end) for space in spaces for _ in range(4)]
    errors = all_at_once(services.allocate, [r.id for r in waiting])
    assert errors == []
    wait_for(lambda: not BookingRequest.objects.filter(status=RequestStatus.PENDING).exists())
    outcomes = [decided(r) for r in waiting]
    assert outcomes.count(("confirmed", None)) == 5
    assert outcomes.count(("rejected", "slot_taken")) == 15
    assert Booking.objects.count() == 5
    assert Notification.objects.count() == 20
