"""Closures of spaces and venues, extra openings of spaces: anyone reads, operators change."""

import pytest

from api.catalogue.models import Closure, ExtraOpening
from tests.factories import SpaceFactory, VenueFactory

pytestmark = pytest.mark.django_db

REASON = {"fi": "Joulutauko", "sv": "Jullov", "en": "Christmas break"}
CLOSURE = {"first_date": "2027-12-24", "last_date": "2027-12-26", "reason": REASON}
OPENING = {"date": "2027-06-19", "opens": "10:00", "closes": "16:00"}


@pytest.fixture(params=["space", "venue"])
def closures_url(request, space):
    owner = space if request.param == "space" else space.venue
    return f"/api/v1/{request.param}s/{owner.pk}/closures/"


def test_an_operator_adds_a_closure_that_anyone_reads_and_removes_it(
    closures_url, as_operator, anonymous
):
    response = as_operator.post(closures_url, CLOSURE, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body == {"id": body["id"], **CLOSURE, "opens": None, "closes": None}
    assert anonymous.get(closures_url).json()["results"] == [body]
    assert as_operator.delete(f"{closures_url}{body['id']}/").status_code == 204
    assert not Closure.objects.exists()


def test_a_closure_may_take_only_some_hours(as_operator, space):
    url = f"/api/v1/spaces/{space.pk}/closures/"
    response = as_operator.post(
        url, {**CLOSURE, "opens": "16:00", "closes": "24:00"}, format="json"
    )
    assert response.status_code == 201, response.json()
    closure = Closure.objects.get()
    assert (closure.space, closure.venue, closure.opens, closure.closes) == (space, None, 960, 1440)
    assert response.json()["closes"] == "24:00"


def test_an_operator_adds_and_removes_an_extra_opening(as_operator, anonymous, space):
    url = f"/api/v1/spaces/{space.pk}/openings/"
    response = as_operator.post(url, OPENING, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body == {"id": body["id"], **OPENING}
    assert anonymous.get(url).json()["results"] == [body]
    assert as_operator.delete(f"{url}{body['id']}/").status_code == 204
    assert not ExtraOpening.objects.exists()


@pytest.mark.parametrize(("who", "status"), [("anonymous", 401), ("as_owner", 403)])
def test_only_operators_change_closures_and_openings(request, space, who, status):
    client = request.getfixturevalue(who)
    closure = Closure.objects.create(
        space=space,
        first_date="2027-12-24",
        last_date="2027-12-26",
        reason_fi="a",
        reason_sv="b",
        reason_en="c",
    )
    opening = ExtraOpening.objects.create(space=space, date="2027-06-19", opens=600, closes=960)
    for url, body in (
        (f"/api/v1/spaces/{space.pk}/closures/", CLOSURE),
        (f"/api/v1/venues/{space.venue_id}/closures/", CLOSURE),
        (f"/api/v1/spaces/{space.pk}/openings/", OPENING),
    ):
        assert client.post(url, body, format="json").status_code == status
    assert client.delete(f"/api/v1/spaces/{space.pk}/closures/{closure.pk}/").status_code == status
    assert client.delete(f"/api/v1/spaces/{space.pk}/openings/{opening.pk}/").status_code == status
    assert Closure.objects.count() == ExtraOpening.objects.count() == 1


def test_another_spaces_closure_or_an_unknown_space_is_a_404(as_operator, anonymous, space):
    other = SpaceFactory()
    closure = Closure.objects.create(
        space=other,
        first_date="2027-12-24",
        last_date="2027-12-26",
        reason_fi="a",
        reason_sv="b",
        reason_en="c",
    )
    assert (
        as_operator.delete(f"/api/v1/spaces/{space.pk}/closures/{closure.pk}/").status_code == 404
    )
    assert as_operator.delete(f"/api/v1/spaces/{space.pk}/closures/x/").status_code == 404
    assert anonymous.get("/api/v1/spaces/999999/closures/").status_code == 404
    assert anonymous.get(f"/api/v1/venues/{VenueFactory().pk + 1000}/closures/").status_code == 404
    assert (
        as_operator.post("/api/v1/spaces/999999/openings/", OPENING, format="json").status_code
        == 404
    )
    assert Closure.objects.count() == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"first_date": None}, "first_date"),
        ({"first_date": "2027-02-30"}, "first_date"),
        ({"first_date": "christmas"}, "first_date"),
        ({"last_date": "2027-12-23"}, "last_date"),
        ({"last_date": 20271226}, "last_date"),
        ({"opens": "16:00"}, "closes"),
        ({"closes": "18:00"}, "opens"),
        ({"opens": "18:00", "closes": "16:00"}, "closes"),
        ({"opens": "24:00", "closes": "24:00"}, "opens"),
        ({"opens": "7", "closes": "16:00"}, "opens"),
        ({"opens": "16:00", "closes": "25:00"}, "closes"),
        ({"opens": ["16:00"], "closes": "18:00"}, "opens"),
        ({"reason": None}, "reason"),
        ({"reason": "closed"}, "reason"),
        ({"reason": {"fi": "a", "sv": "b"}}, "reason"),
        ({"reason": {**REASON, "en": "x" * 201}}, "reason"),
    ],
)
def test_a_bad_closure_is_a_400_naming_the_field_and_stores_nothing(
    closures_url, as_operator, changes, field
):
    body = {**CLOSURE, **changes}
    body = {key: value for key, value in body.items() if value is not None}
    response = as_operator.post(closures_url, body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()
    assert not Closure.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"date": None}, "date"),
        ({"date": "2027-13-01"}, "date"),
        ({"opens": None}, "opens"),
        ({"closes": None}, "closes"),
        ({"opens": "16:00", "closes": "10:00"}, "closes"),
        ({"opens": "10:00", "closes": "10:00"}, "closes"),
        ({"opens": "noon"}, "opens"),
        ({"closes": "24:01"}, "closes"),
        ({"opens": 600}, "opens"),
    ],
)
def test_a_bad_extra_opening_is_a_400_naming_the_field_and_stores_nothing(
    as_operator, space, changes, field
):
    body = {**OPENING, **changes}
    body = {key: value for key, value in body.items() if value is not None}
    response = as_operator.post(f"/api/v1/spaces/{space.pk}/openings/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()
    assert not ExtraOpening.objects.exists()


def test_the_database_keeps_a_closure_to_one_owner_and_sane_dates(space):
    from django.db import IntegrityError, transaction

    for fields in (
        {"space": space, "venue": space.venue},
        {},
        {"space": space, "last_date": "2027-12-23"},
        {"space": space, "opens": 600},
    ):
        with pytest.raises(IntegrityError), transaction.atomic():
            Closure.objects.create(
                **{"first_date": "2027-12-24", "last_date": "2027-12-26", **fields},
                reason_fi="a",
                reason_sv="b",
                reason_en="c",
            )


def test_the_admin_shows_closures_and_openings(operator, space):
    from django.test import Client

    operator.is_superuser = True
    operator.save()
    Closure.objects.create(
        venue=space.venue,
        first_date="2027-12-24",
        last_date="2027-12-26",
        reason_fi="a",
        reason_sv="b",
        reason_en="c",
    )
    ExtraOpening.objects.create(space=space, date="2027-06-19", opens=600, closes=960)
    admin = Client()
    admin.force_login(operator)
    for url in (
        f"/admin/catalogue/space/{space.pk}/change/",
        f"/admin/catalogue/venue/{space.venue_id}/change/",
        "/admin/catalogue/closure/",
    ):
        response = admin.get(url)
        assert response.status_code == 200, url
