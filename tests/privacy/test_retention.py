"""The retention sweep: bookings that ended RETENTION_MONTHS ago keep no person."""

from datetime import timedelta

import pytest
from django.utils import timezone

from api.bookings.models import Booking, BookingRequest
from api.notifications.models import Notification
from api.privacy import services as privacy
from beat.schedule import SCHEDULE
from tests.factories import BookingFactory, BookingRequestFactory, UserFactory
from workers import app

pytestmark = pytest.mark.django_db


def booking_ended(days_ago: int, user):
    start = timezone.now() - timedelta(days=days_ago, hours=1)
    request = BookingRequestFactory(user=user, purpose="Band practice", start=start)
    BookingRequest.objects.filter(pk=request.pk).update(created_at=start)
    booking = BookingFactory(
        user=user, request=request, start=start, end=start + timedelta(hours=1)
    )
    Notification.objects.create(
        recipient=user, kind="booking_confirmed", language="fi", booking=booking, created_at=start
    )
    return booking


def test_the_sweep_removes_the_person_from_bookings_past_retention(settings):
    settings.RETENTION_MONTHS = 6
    person = UserFactory()
    old = booking_ended(days_ago=200, user=person)
    recent = booking_ended(days_ago=100, user=person)

    assert privacy.retention_sweep() == 1

    old.refresh_from_db()
    recent.refresh_from_db()
    assert old.user is None and recent.user == person
    old.request.refresh_from_db()
    assert old.request.user is None and old.request.purpose == ""
    assert recent.request.purpose == "Band practice"
    assert list(Notification.objects.values_list("booking", flat=True)) == [recent.pk]
    assert privacy.retention_sweep() == 0  # safe to run again
    assert Booking.objects.count() == 2  # kept, for statistics


def test_the_sweep_is_a_beat_task_on_its_queue():
    app.loader.import_default_modules()
    assert SCHEDULE["privacy-retention-sweep"]["task"] == "privacy.retention_sweep"
    assert app.tasks["privacy.retention_sweep"].queue == "allocation"
