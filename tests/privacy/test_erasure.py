"""DELETE /api/v1/auth/me/: future bookings cancelled and their grants withdrawn, past ones
kept without the person, the account gone."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from api.access import services as access
from api.access.models import Grant
from api.accounts.models import User
from api.bookings import services
from api.bookings.models import Booking, BookingRequest
from api.notifications.models import Notification
from api.organisations.models import Membership
from api.privacy import services as privacy
from tests.conftest import client_for
from tests.factories import BookingFactory, BookingRequestFactory, MembershipFactory, UserFactory
from tests.settings import RUN

pytestmark = pytest.mark.django_db


def test_erasure_leaves_no_personal_data_and_no_future_grant(space):
    person = UserFactory(email="erin@example.org", name="Erin Erased")
    MembershipFactory(user=person, role="viewer")
    access.enrol_lock(f"{RUN}-erase", space)
    now = timezone.now()
    past_request = BookingRequestFactory(
        user=person,
        space=space,
        purpose="Erin's birthday",
        idempotency_key="k1",
        status="confirmed",
    )
    with transaction.atomic():
        past = BookingFactory(
            user=person,
            space=space,
            request=past_request,
            start=now - timedelta(days=3),
            end=now - timedelta(days=3) + timedelta(hours=1),
        )
        future = BookingFactory(user=person, space=space)
        grant = access.create_grant(future)
    undecided = BookingRequestFactory(user=person, space=space, status="pending")

    answer = client_for(person).delete("/api/v1/auth/me/")

    assert answer.status_code == 204
    assert not User.objects.filter(email="erin@example.org").exists()
    future.refresh_from_db()
    assert future.status == "cancelled" and future.user is None
    grant.refresh_from_db()
    assert grant.withdrawn_at is not None and grant.code == ""
    assert not Grant.objects.filter(booking__user__isnull=True, withdrawn_at__isnull=True).exists()
    past.refresh_from_db()
    assert past.user is None and past.status == "confirmed"  # kept, for statistics
    past_request.refresh_from_db()
    assert past_request.user is None and past_request.purpose == ""
    assert past_request.idempotency_key is None
    assert not BookingRequest.objects.filter(pk=undecided.pk).exists()
    services.allocate(undecided.pk)  # its task, still queued, finds nothing to decide
    assert not Booking.objects.filter(request=undecided.pk).exists()
    assert not Notification.objects.filter(recipient__email="erin@example.org").exists()
    assert not Membership.objects.filter(user__email="erin@example.org").exists()
    # Nothing left that says who: no row names them anywhere.
    assert not Booking.objects.filter(user__email="erin@example.org").exists()
    assert not BookingRequest.objects.filter(purpose__contains="Erin").exists()


def test_erasing_twice_is_harmless_and_others_keep_theirs(space):
    person, other = UserFactory(), UserFactory()
    theirs = BookingFactory(user=other, space=space)
    privacy.erase(person)
    assert Booking.objects.get(pk=theirs.pk).user == other


def test_anonymous_cannot_erase(anonymous):
    assert anonymous.delete("/api/v1/auth/me/").status_code == 401
