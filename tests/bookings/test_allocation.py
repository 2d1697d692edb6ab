"""allocate(): the decision, with PostgreSQL's exclusion constraint as the last word."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import IntegrityError, transaction

from api.bookings import services
from api.bookings.choices import BookingStatus, RequestStatus
from api.bookings.models import Booking, BookingRequest
from api.catalogue.models import Space
from tests.conftest import all_at_once
from tests.factories import (
    BookingFactory,
    BookingRequestFactory,
    SpaceFactory,
    UserFactory,
    next_slot,
)


def decide(**fields) -> BookingRequest:
    booking_request = BookingRequestFactory(**fields)
    services.allocate(booking_request.id)
    booking_request.refresh_from_db()
    return booking_request


@pytest.mark.django_db
def test_a_free_slot_is_confirmed_with_a_booking():
    decision = decide()
    assert decision.status == RequestStatus.CONFIRMED
    assert decision.reason is None
    assert decision.decided_at is not None
    booking = decision.booking
    assert (booking.start, booking.end, booking.user, booking.status) == (
        decision.start,
        decision.end,
        decision.user,
        BookingStatus.CONFIRMED,
    )


@pytest.mark.django_db
def test_an_overlapping_request_is_rejected_as_slot_taken():
    space = SpaceFactory()
    start, end = next_slot()
    BookingFactory(space=space, start=start, end=end)
    decision = decide(
        space=space, start=start + timedelta(minutes=30), end=end + timedelta(hours=1)
    )
    assert (decision.status, decision.reason) == (RequestStatus.REJECTED, "slot_taken")
    assert Booking.objects.count() == 1


@pytest.mark.django_db
def test_back_to_back_bookings_fit():
    space = SpaceFactory()
    start, end = next_slot()
    BookingFactory(space=space, start=start, end=end)
    assert decide(space=space, start=end, end=end + timedelta(hours=1)).status == "confirmed"
    assert decide(space=space, start=start - timedelta(hours=1), end=start).status == "confirmed"


@pytest.mark.django_db
def test_buffers_keep_bookings_apart():
    space = SpaceFactory(buffer_minutes=30)
    start, end = next_slot(hours_ahead=5)
    BookingFactory(space=space, start=start, end=end)
    after = decide(space=space, start=end, end=end + timedelta(hours=1))
    before = decide(space=space, start=start - timedelta(hours=1), end=start)
    assert (after.reason, before.reason) == ("slot_taken", "slot_taken")
    later = decide(space=space, start=end + timedelta(minutes=30), end=end + timedelta(hours=2))
    earlier = decide(
        space=space, start=start - timedelta(minutes=90), end=start - timedelta(minutes=30)
    )
    assert (later.status, earlier.status) == ("confirmed", "confirmed")


@pytest.mark.django_db
def test_the_database_refuses_an_overlap_that_skips_the_service():
    space = SpaceFactory(buffer_minutes=15)
    start, end = next_slot()
    BookingFactory(space=space, start=start, end=end)
    with pytest.raises(IntegrityError), transaction.atomic():
        BookingFactory(space=space, start=end + timedelta(minutes=10), end=end + timedelta(hours=1))


@pytest.mark.django_db
def test_a_cancelled_booking_frees_its_slot():
    space = SpaceFactory()
    start, end = next_slot()
    services.cancel_booking(BookingFactory(space=space, start=start, end=end))
    assert decide(space=space, start=start, end=end).status == "confirmed"


@pytest.mark.django_db
def test_the_active_booking_cap_rejects_with_quota_exceeded(settings):
    settings.MAX_ACTIVE_BOOKINGS_PER_USER = 2
    person = UserFactory()
    start, _ = next_slot()
    for day in range(2):
        assert decide(user=person, start=start + timedelta(days=day)).status == "confirmed"
    third = decide(user=person, start=start + timedelta(days=2))
    assert (third.status, third.reason) == ("rejected", "quota_exceeded")
    # Cancelling one makes room again.
    services.cancel_booking(person.bookings.first())
    assert decide(user=person, start=start + timedelta(days=3)).status == "confirmed"


@pytest.mark.django_db
def test_a_request_whose_slot_began_while_it_waited_is_rejected_too_late():
    start, end = next_slot()
    booking_request = BookingRequestFactory(start=start - timedelta(hours=4), end=end)
    services.allocate(booking_request.id)
    booking_request.refresh_from_db()
    assert (booking_request.status, booking_request.reason) == ("rejected", "too_late")


@pytest.mark.django_db
def test_a_request_for_hours_the_space_no_longer_opens_is_rejected_space_closed():
    booking_request = BookingRequestFactory()
    booking_request.space.opening_hours.all().delete()
    services.allocate(booking_request.id)
    booking_request.refresh_from_db()
    assert (booking_request.status, booking_request.reason) == ("rejected", "space_closed")


@pytest.mark.django_db
def test_allocating_twice_decides_once():
    booking_request = BookingRequestFactory()
    services.allocate(booking_request.id)
    booking_request.refresh_from_db()
    first = (booking_request.status, booking_request.decided_at, booking_request.booking.id)
    services.allocate(booking_request.id)
    booking_request.refresh_from_db()
    assert (booking_request.status, booking_request.decided_at, booking_request.booking.id) == first
    assert Booking.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(5))
def test_fifty_concurrent_allocations_for_one_slot_confirm_exactly_one(round_):
    space = SpaceFactory(capacity=50)
    start, end = next_slot()
    requests = [BookingRequestFactory(space=space, start=start, end=end) for _ in range(50)]
    assert all_at_once(services.allocate, [r.id for r in requests]) == []
    decisions = list(BookingRequest.objects.values_list("status", "reason"))
    assert decisions.count(("confirmed", None)) == 1
    assert decisions.count(("rejected", "slot_taken")) == 49
    assert Booking.objects.filter(space=space).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        ({"capacity": 3}, "over_capacity"),
        ({"slot_minutes": 50}, "off_grid"),
        ({"max_duration_minutes": 60}, "duration_not_allowed"),
        ({"min_duration_minutes": 180, "max_duration_minutes": 240}, "duration_not_allowed"),
        ({"lead_time_minutes": 4 * 24 * 60}, "too_late"),
        ({"max_advance_days": 1}, "too_far_ahead"),
        ({"activities": []}, "activity_not_offered"),
    ],
)
def test_the_worker_checks_every_rule_again_when_the_space_changed_after_queueing(edit, reason):
    # Requested on Monday morning for Thursday 18:00-20:00 in Helsinki; then the space changes.
    with time_machine.travel(datetime(2027, 1, 11, 6, tzinfo=UTC), tick=False):
        space = SpaceFactory()
        booking_request = BookingRequestFactory(
            space=space,
            start=datetime(2027, 1, 14, 16, tzinfo=UTC),
            end=datetime(2027, 1, 14, 18, tzinfo=UTC),
            party_size=4,
            activity=space.activities.first(),
        )
        if "activities" in edit:
            space.activities.set(edit.pop("activities"))
        Space.objects.filter(pk=space.pk).update(**edit)
        services.allocate(booking_request.id)
    booking_request.refresh_from_db()
    assert (booking_request.status, booking_request.reason) == ("rejected", reason)
    assert not Booking.objects.exists()
