"""GET /api/v1/auth/me/export/: everything stored about the person."""

from datetime import timedelta

import pytest
from django.apps import apps
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from api.access import services as access
from api.notifications import services as notifications
from api.privacy.services import EXPORTED, NOT_EXPORTED, PRIVATE, exported_fields
from tests.conftest import client_for
from tests.factories import BookingFactory, BookingRequestFactory, MembershipFactory, UserFactory
from tests.settings import RUN

pytestmark = pytest.mark.django_db


def models_about_people() -> set:
    """Every model with a field that refers to a person, and the person's model itself."""
    user_model = apps.get_model(settings.AUTH_USER_MODEL)
    found = {user_model}
    for model in apps.get_models():
        for field in model._meta.get_fields():
            if (
                field.concrete
                and field.is_relation
                and field.related_model is user_model
                and not model._meta.proxy
            ):
                found.add(model)
    return found


def test_every_model_that_refers_to_a_person_is_exported_or_declared():
    exported = {model for model, _lookup in EXPORTED.values()}
    undeclared = [
        model._meta.label
        for model in models_about_people()
        if model not in exported and model._meta.label not in NOT_EXPORTED
    ]
    assert undeclared == []


@pytest.mark.parametrize("key", sorted(EXPORTED))
def test_every_field_is_exported_or_declared_private(key):
    model, _lookup = EXPORTED[key]
    concrete = {field.name for field in model._meta.get_fields() if field.concrete}
    assert set(exported_fields(model)) | set(PRIVATE.get(model, {})) == concrete
    assert set(PRIVATE.get(model, {})) <= concrete, "a private field that is no more"


def test_the_export_holds_the_account_requests_bookings_check_ins_and_notifications(space):
    person = UserFactory(email="pia@example.org", name="Pia Person")
    access.enrol_lock(f"{RUN}-export", space)
    request = BookingRequestFactory(user=person, space=space, purpose="Choir practice")
    with transaction.atomic():
        booking = BookingFactory(user=person, space=space, request=request)
        grant = access.create_grant(booking)
    booking.checked_in_at = timezone.now()
    booking.save(update_fields=["checked_in_at"])
    notifications.booking_cancelled(booking)
    MembershipFactory(user=person, role="viewer")
    someone_else = BookingFactory(start=booking.start + timedelta(days=1))

    answer = client_for(person).get("/api/v1/auth/me/export/")
    assert answer.status_code == 200
    data = answer.json()
    assert data["account"]["email"] == "pia@example.org"
    assert data["account"]["name"] == "Pia Person"
    assert "password" not in data["account"]
    assert [r["purpose"] for r in data["requests"]] == ["Choir practice"]
    assert [b["id"] for b in data["bookings"]] == [booking.pk]
    assert data["bookings"][0]["checked_in_at"] is not None
    assert [g["code"] for g in data["access"]] == [grant.code]
    assert [n["kind"] for n in data["notifications"]] == ["booking_cancelled"]
    assert [m["role"] for m in data["organisations"]] == ["viewer"]
    assert someone_else.pk not in [b["id"] for b in data["bookings"]]


def test_anonymous_gets_no_export(anonymous):
    assert anonymous.get("/api/v1/auth/me/export/").status_code == 401
