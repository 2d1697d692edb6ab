"""Door codes are not kept once their grant ends: cancelled, or past its window."""

from datetime import timedelta

import pytest
from django.db import transaction

from api.access import services as access
from api.bookings import services as bookings
from tests.conftest import client_for
from tests.factories import BookingFactory, next_slot
from tests.settings import RUN

pytestmark = pytest.mark.django_db


@pytest.fixture
def booking(space, owner):
    access.enrol_lock(f"{RUN}-codes", space)
    with transaction.atomic():
        booking = BookingFactory(space=space, user=owner, start=next_slot()[0])
        access.create_grant(booking)
    return booking


def test_a_cancelled_bookings_code_is_gone(booking, owner):
    assert booking.grant.code
    bookings.cancel_booking(booking)
    booking.grant.refresh_from_db()
    assert booking.grant.code == ""
    shown = client_for(owner).get(f"/api/v1/bookings/{booking.pk}/").json()
    assert shown["access"]["code"] is None


def test_an_ended_grants_code_is_gone_after_the_sweep(booking):
    grant = booking.grant
    access.sweep(grant.valid_until - timedelta(seconds=1))
    grant.refresh_from_db()
    assert grant.code  # still wanted until its window ends
    access.sweep(grant.valid_until)
    grant.refresh_from_db()
    assert grant.withdrawn_at is not None and grant.code == ""
