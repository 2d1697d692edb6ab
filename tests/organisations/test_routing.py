"""Alerts, access-problem mail and webhooks go to the organisation that owns the venue."""

import pytest
from django.utils import timezone

from api.access import alerts
from api.notifications import services as notifications
from api.notifications.models import Notification, Webhook, WebhookDelivery
from api.organisations import scoping
from tests.factories import (
    BookingFactory,
    MembershipFactory,
    OrganisationFactory,
    SpaceFactory,
    UserFactory,
    VenueFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def school():
    return OrganisationFactory(name="Kalasatama school", kind="school")


@pytest.fixture
def housing():
    return OrganisationFactory(name="As Oy Kalasatama", kind="housing")


def booking_at(organisation):
    return BookingFactory(space=SpaceFactory(venue=VenueFactory(organisation=organisation)))


def webhook(organisation=None):
    return Webhook.objects.create(
        organisation=organisation,
        url="https://hooks.example.org/x",
        secret="a webhook secret of sixteen+",
        events=["access.problem", "booking.cancelled"],
    )


def test_access_problem_mail_goes_to_the_owner_and_the_owning_organisations_people(
    school, housing, operator
):
    booking = booking_at(school)
    teacher = MembershipFactory(organisation=school, role="viewer").user
    caretaker = MembershipFactory(organisation=housing, role="admin").user
    notifications.notify_access_problem(booking)
    recipients = set(
        Notification.objects.filter(booking=booking).values_list("recipient", flat=True)
    )
    assert recipients == {booking.user_id, teacher.pk}
    assert caretaker.pk not in recipients and operator.pk not in recipients


def test_access_problem_mail_goes_to_the_city_wide_operators_when_nobody_else_would(
    school, operator
):
    booking = booking_at(school)
    notifications.notify_access_problem(booking)
    recipients = set(
        Notification.objects.filter(booking=booking).values_list("recipient", flat=True)
    )
    assert recipients == {booking.user_id, operator.pk}


def test_people_leaves_out_members_whose_account_is_closed(school):
    active = MembershipFactory(organisation=school).user
    MembershipFactory(organisation=school, user=UserFactory(is_active=False))
    assert list(scoping.people(school.pk)) == [active]


def test_webhooks_hear_of_their_own_organisations_venues_and_city_wide_ones_of_all(school, housing):
    schools, housings, city = webhook(school), webhook(housing), webhook(None)
    notifications.notify_access_problem(booking_at(school))
    told = set(WebhookDelivery.objects.values_list("webhook", flat=True))
    assert told == {schools.pk, city.pk}
    assert housings.pk not in told


def test_a_failed_delivery_is_an_alert_for_its_organisation_only(school, housing):
    hook = webhook(school)
    WebhookDelivery.objects.create(webhook=hook, event="access.problem", body="{}", state="failed")
    found = alerts.collect(timezone.now())
    schools = MembershipFactory(organisation=school, role="viewer").user
    housings = MembershipFactory(organisation=housing, role="admin").user
    assert [a["kind"] for a in alerts.visible(found, schools)] == ["webhook_failed"]
    assert alerts.visible(found, housings) == []
