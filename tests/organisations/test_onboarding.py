"""A partner onboarded end to end: an organisation, its first admin, its venue, a space with
its opening hours and its lock, through the API and through the admin."""

import pytest
from django.contrib.auth.hashers import check_password
from django.test import Client

from api.access.models import Lock
from api.catalogue.models import Space, Venue
from api.organisations.models import Organisation
from tests.conftest import client_for
from tests.factories import MembershipFactory, OrganisationFactory, UserFactory
from tests.settings import RUN

pytestmark = pytest.mark.django_db

VENUE = {
    "name": "Kalasatama club room",
    "address": "Työpajankatu 8",
    "district": "Kalasatama",
    "latitude": 60.1875,
    "longitude": 24.9776,
}


def test_a_partner_is_onboarded_through_the_api(as_operator):
    caretaker = client_for(UserFactory(email="caretaker@asoy.example"))
    made = as_operator.post(
        "/api/v1/organisations/", {"name": "As Oy Kalasatama", "kind": "housing"}, format="json"
    )
    assert made.status_code == 201, made.json()
    organisation = made.json()["id"]
    member = as_operator.post(
        f"/api/v1/organisations/{organisation}/members/",
        {"email": "caretaker@asoy.example", "role": "admin"},
        format="json",
    )
    assert member.status_code == 201, member.json()
    assert member.json()["role"] == "admin"
    me = caretaker.get("/api/v1/auth/me/").json()
    assert me["organisations"] == [{"id": organisation, "role": "admin"}]

    venue = caretaker.post("/api/v1/venues/", {**VENUE, "organisation": organisation}, "json")
    assert venue.status_code == 201, venue.json()
    space = caretaker.post(
        "/api/v1/spaces/",
        {
            "venue": venue.json()["id"],
            "name": "Club room",
            "capacity": 15,
            "activities": [],
            "opening_hours": [{"weekday": 4, "opens": "17:00", "closes": "22:00"}],
        },
        format="json",
    )
    assert space.status_code == 201, space.json()
    lock = caretaker.post(
        "/api/v1/locks/", {"id": f"{RUN}-club-room", "space": space.json()["id"]}, format="json"
    )
    assert lock.status_code == 201, lock.json()
    assert lock.json()["mqtt_password"]

    # Theirs alone: another organisation's admin sees none of it.
    stranger = client_for(MembershipFactory(organisation=OrganisationFactory(name="X")).user)
    assert stranger.get("/api/v1/locks/").json()["results"] == []
    assert stranger.get(f"/api/v1/locks/{RUN}-club-room/").status_code == 404
    assert stranger.get(f"/api/v1/organisations/{organisation}/members/").status_code == 404
    assert caretaker.get("/api/v1/locks/").json()["count"] == 1


def test_an_organisations_admin_adds_members_and_only_existing_accounts(as_operator):
    organisation = OrganisationFactory(name="Vallila library", kind="library")
    admin = client_for(MembershipFactory(organisation=organisation, role="admin").user)
    url = f"/api/v1/organisations/{organisation.pk}/members/"
    nobody = admin.post(url, {"email": "nobody@example.org", "role": "viewer"}, format="json")
    assert nobody.status_code == 400 and "email" in nobody.json()
    librarian = UserFactory()
    added = admin.post(url, {"email": librarian.email, "role": "viewer"}, format="json")
    assert added.status_code == 201
    again = admin.post(url, {"email": librarian.email, "role": "viewer"}, format="json")
    assert again.status_code == 400 and "email" in again.json()
    member = added.json()["id"]
    promoted = admin.patch(f"{url}{member}/", {"role": "manager"}, format="json")
    assert promoted.json()["role"] == "manager"
    assert admin.patch(f"{url}{member}/", {"role": "owner"}, format="json").status_code == 400
    assert admin.delete(f"{url}{member}/").status_code == 204
    assert client_for(librarian).get("/api/v1/auth/me/").json()["organisations"] == []


def test_a_partner_is_onboarded_through_the_admin(operator):
    city = Client()
    city.force_login(operator)
    caretaker = UserFactory(email="caretaker@asoy.example")
    added = city.post(
        "/admin/organisations/organisation/add/",
        {
            "name": "As Oy Kalasatama",
            "kind": "housing",
            "memberships-TOTAL_FORMS": 1,
            "memberships-INITIAL_FORMS": 0,
            "memberships-0-user": caretaker.pk,
            "memberships-0-role": "admin",
        },
    )
    assert added.status_code == 302, added.context["errors"] if added.context else added
    organisation = Organisation.objects.get(name="As Oy Kalasatama")
    assert organisation.memberships.get().user == caretaker

    theirs = Client()
    assert (
        theirs.post(
            "/admin/login/", {"username": caretaker.email, "password": "correct horse battery"}
        ).status_code
        == 302
    )
    venue = theirs.post(
        "/admin/catalogue/venue/add/",
        {
            **VENUE,
            "organisation": organisation.pk,
            "timezone": "Europe/Helsinki",
            "spaces-TOTAL_FORMS": 0,
            "spaces-INITIAL_FORMS": 0,
            "closures-TOTAL_FORMS": 0,
            "closures-INITIAL_FORMS": 0,
        },
    )
    assert venue.status_code == 302, venue.context["errors"] if venue.context else venue
    venue = Venue.objects.get(name=VENUE["name"])
    assert venue.organisation == organisation
    space = theirs.post(
        "/admin/catalogue/space/add/",
        {
            "venue": venue.pk,
            "name": "Club room",
            "capacity": 15,
            "slot_minutes": 30,
            "min_duration_minutes": 60,
            "max_duration_minutes": 240,
            "lead_time_minutes": 60,
            "max_advance_days": 60,
            "buffer_minutes": 0,
            "access_grace_before_minutes": 5,
            "access_grace_after_minutes": 5,
            "opening_hours-TOTAL_FORMS": 1,
            "opening_hours-INITIAL_FORMS": 0,
            "opening_hours-0-weekday": 4,
            "opening_hours-0-opens": 17 * 60,
            "opening_hours-0-closes": 22 * 60,
            "extra_openings-TOTAL_FORMS": 0,
            "extra_openings-INITIAL_FORMS": 0,
            "closures-TOTAL_FORMS": 0,
            "closures-INITIAL_FORMS": 0,
        },
    )
    assert space.status_code == 302, space.context["errors"] if space.context else space
    space = Space.objects.get(venue=venue)
    assert [(h.weekday, h.opens, h.closes) for h in space.opening_hours.all()] == [(4, 1020, 1320)]
    # The venue's choices in the admin are the organisation's own.
    form = theirs.get("/admin/catalogue/space/add/").context["adminform"].form
    assert list(form.fields["venue"].queryset) == [venue]

    enrolled = theirs.post(
        "/admin/access/lock/add/", {"id": f"{RUN}-admin-lock", "space": space.pk}
    )
    assert enrolled.status_code == 200, enrolled.context["errors"] if enrolled.context else enrolled
    lock = Lock.objects.get(space=space)
    password = enrolled.context["password"]
    assert password in enrolled.content.decode()
    assert check_password(password, lock.password_hash)
