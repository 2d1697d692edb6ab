"""The audit trail: what operators change, by whom and when, for the organisation's admins."""

from datetime import timedelta

import pytest

from api.audit.models import AuditEntry
from tests.conftest import client_for
from tests.factories import (
    BookingFactory,
    MembershipFactory,
    OrganisationFactory,
    SpaceFactory,
    VenueFactory,
)
from tests.settings import RUN

pytestmark = pytest.mark.django_db

CLOSURE = {
    "first_date": "2027-12-27",
    "last_date": "2027-12-31",
    "reason": {"fi": "Huolto", "sv": "Underhåll", "en": "Maintenance"},
}


@pytest.fixture
def school():
    return OrganisationFactory(name="Kalasatama school", kind="school")


@pytest.fixture
def space(school):
    return SpaceFactory(venue=VenueFactory(organisation=school))


@pytest.fixture
def admin(school):
    return MembershipFactory(organisation=school, role="admin").user


def last_entry(**filters) -> AuditEntry:
    return AuditEntry.objects.filter(**filters).order_by("-id").first()


def test_a_change_to_a_space_is_recorded_with_who_and_when(space, admin, school):
    answer = client_for(admin).patch(f"/api/v1/spaces/{space.pk}/", {"capacity": 20}, "json")
    assert answer.status_code == 200
    entry = last_entry(content_type__model="space", object_pk=str(space.pk))
    assert entry.actor == admin and entry.actor_email == admin.email
    assert entry.changes["capacity"] == ["12", "20"]
    assert entry.organisation == school
    assert entry.timestamp is not None


def test_openings_and_closures_are_recorded(space, admin):
    as_admin = client_for(admin)
    opening = as_admin.post(
        f"/api/v1/spaces/{space.pk}/openings/",
        {"date": "2027-06-20", "opens": "10:00", "closes": "16:00"},
        format="json",
    )
    closure = as_admin.post(f"/api/v1/spaces/{space.pk}/closures/", CLOSURE, format="json")
    assert opening.status_code == closure.status_code == 201
    assert last_entry(content_type__model="extraopening").actor == admin
    assert last_entry(content_type__model="closure").action == AuditEntry.Action.CREATE
    as_admin.delete(f"/api/v1/spaces/{space.pk}/closures/{closure.json()['id']}/")
    deleted = last_entry(content_type__model="closure")
    assert deleted.action == AuditEntry.Action.DELETE and deleted.actor == admin


def test_weekly_opening_hours_are_recorded(space, admin):
    hours = [{"weekday": 0, "opens": "16:00", "closes": "22:00"}]
    answer = client_for(admin).patch(
        f"/api/v1/spaces/{space.pk}/", {"opening_hours": hours}, "json"
    )
    assert answer.status_code == 200
    created = last_entry(content_type__model="openinghours", action=AuditEntry.Action.CREATE)
    assert created.actor == admin and created.changes["opens"][1] == str(16 * 60)
    assert created.organisation_id == space.venue.organisation_id


def test_enrolling_a_lock_and_unlocking_it_are_recorded(space, admin):
    as_admin = client_for(admin)
    lock_id = f"{RUN}-audited"
    enrolment = as_admin.post("/api/v1/locks/", {"id": lock_id, "space": space.pk}, "json")
    assert enrolment.status_code == 201
    enrolled = last_entry(content_type__model="lock", object_pk=lock_id)
    assert enrolled.action == AuditEntry.Action.CREATE and enrolled.actor == admin
    assert as_admin.post(f"/api/v1/locks/{lock_id}/unlock/").status_code == 202
    unlocked = last_entry(content_type__model="lockcommand")
    assert unlocked.actor == admin and unlocked.changes["op"][1] == "unlock_once"


def test_a_cancellation_on_someones_behalf_is_recorded_and_ones_own_is_not(space, school):
    manager = MembershipFactory(organisation=school, role="manager").user
    theirs = BookingFactory(space=space)
    mine = BookingFactory(space=space, user=manager, start=theirs.start + timedelta(days=1))
    assert client_for(manager).post(f"/api/v1/bookings/{theirs.pk}/cancel/").status_code == 200
    entry = last_entry(content_type__model="booking", object_pk=str(theirs.pk))
    assert entry.actor == manager and entry.changes == {"status": ["confirmed", "cancelled"]}
    assert entry.organisation == school
    assert client_for(mine.user).post(f"/api/v1/bookings/{mine.pk}/cancel/").status_code == 200
    assert last_entry(content_type__model="booking", object_pk=str(mine.pk)) is None


def test_the_audit_list_is_the_organisations_for_its_admins_only(space, admin, school, operator):
    client_for(admin).patch(f"/api/v1/spaces/{space.pk}/", {"capacity": 20}, "json")
    elsewhere = OrganisationFactory(name="As Oy Kalasatama", kind="housing")
    stranger = MembershipFactory(organisation=elsewhere, role="admin").user
    manager = MembershipFactory(organisation=school, role="manager").user

    listed = client_for(admin).get("/api/v1/audit/").json()
    entry = next(entry for entry in listed["results"] if entry["actor"] == admin.email)
    assert set(entry) >= {"at", "actor", "action", "object", "changes"}
    assert entry["actor"] == admin.email and entry["action"] == "update"
    assert entry["object"] == {"type": "space", "id": str(space.pk), "name": str(space)}
    theirs = client_for(stranger).get("/api/v1/audit/").json()["results"]
    assert theirs and {entry["organisation"] for entry in theirs} == {elsewhere.pk}
    assert client_for(manager).get("/api/v1/audit/").status_code == 403
    assert client_for(operator).get("/api/v1/audit/").json()["count"] >= 1


def test_the_audit_list_filters_by_organisation_and_time(space, admin, school):
    client_for(admin).patch(f"/api/v1/spaces/{space.pk}/", {"capacity": 20}, "json")
    as_admin = client_for(admin)
    assert as_admin.get("/api/v1/audit/", {"organisation": school.pk}).json()["count"] >= 1
    assert as_admin.get("/api/v1/audit/", {"organisation": school.pk + 999}).json()["count"] == 0
    assert as_admin.get("/api/v1/audit/", {"from": "2099-01-01T00:00:00Z"}).json()["count"] == 0
    assert as_admin.get("/api/v1/audit/", {"to": "2000-01-01T00:00:00Z"}).json()["count"] == 0
    bad = as_admin.get("/api/v1/audit/", {"from": "yesterday"})
    assert bad.status_code == 400 and "from" in bad.json()
