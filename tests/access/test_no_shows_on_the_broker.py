"""A no-show on the real Mosquitto: released by the sweep, its code refused by the lock, its
slot given to the waitlist by the real worker, whose booking's code the lock then holds."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from api.access import services
from api.access.choices import GrantState
from api.access.models import Grant, Lock
from api.bookings import no_shows, waitlist
from api.bookings.choices import BookingStatus, WaitlistStatus
from api.bookings.models import WaitlistEntry
from tests.access.conftest import enrol, join
from tests.access.test_on_the_broker import grant_state, in_sync, skew_to
from tests.conftest import wait_for
from tests.factories import BookingFactory, SpaceFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_no_show_is_released_refused_on_the_lock_and_given_to_the_waitlist(fleet, gateway):
    space = SpaceFactory(lead_time_minutes=0)
    lock = enrol(space)
    join(fleet, lock)
    wait_for(lambda: Lock.objects.get(pk=lock.pk).online, message="the lock online")
    # A booking that began 30 to 60 minutes ago, on the grid, and nobody has come.
    now = timezone.now()
    start = now.replace(minute=0 if now.minute < 30 else 30, second=0, microsecond=0)
    start -= timedelta(minutes=30)
    with transaction.atomic():
        booking = BookingFactory(space=space, start=start, end=start + timedelta(hours=3))
        grant = services.create_grant(booking)
    wait_for(grant_state(grant, GrantState.PROVISIONED), message="the grant provisioned")
    later = start + timedelta(minutes=90)
    entry = waitlist.join(
        UserFactory(), space=space, start=later, end=later + timedelta(hours=1), party_size=4
    )

    assert no_shows.release_no_shows() == 1
    booking.refresh_from_db()
    assert (booking.status, booking.no_show_at is not None) == (BookingStatus.CANCELLED, True)
    wait_for(grant_state(grant, GrantState.REVOKED), message="the grant revoked")
    wait_for(in_sync(lock), message="the lock in sync")
    skew_to(fleet, lock.id, timezone.now())
    assert fleet.try_code(lock.id, grant.code)["result"] == "denied"

    # The worker offered the freed slot to the waitlist, and the new code reached the lock.
    wait_for(
        lambda: WaitlistEntry.objects.filter(pk=entry.pk, status=WaitlistStatus.CONFIRMED).exists(),
        message="the waitlist entry confirmed",
    )
    entry.refresh_from_db()
    given = Grant.objects.get(booking=entry.booking)
    wait_for(grant_state(given, GrantState.PROVISIONED), message="the new grant provisioned")
    skew_to(fleet, lock.id, later + timedelta(minutes=1))
    assert fleet.try_code(lock.id, given.code)["result"] == "granted"
