"""A query parameter that a catalogue view does not read is a 400 naming it, not ignored."""

import pytest

from tests.conftest import client_for
from tests.factories import SpaceFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/activities/",
        "/api/v1/venues/",
        "/api/v1/spaces/",
        "/api/v1/slots/",
        "/api/v1/bookings/",
        "/api/v1/booking-requests/",
    ],
)
def test_a_misspelt_filter_is_a_400_naming_it(anonymous, path, owner):
    # In English: the person's own language; the catalogue's paths are asked anonymously.
    owner.language = "en"
    owner.save()
    as_owner = client_for(owner) if path.startswith("/api/v1/book") else anonymous
    response = as_owner.get(path, {"activty": "choir"}, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert response.json() == {
        "activty": ["Unknown query parameter."],
        "codes": {"activty": ["unknown_parameter"]},
    }


def test_a_space_list_takes_its_filters_and_page(anonymous):
    SpaceFactory()
    query = {"activity": "band-rehearsal", "min_capacity": 2, "district": "Kalasatama", "page": 1}
    assert anonymous.get("/api/v1/spaces/", query).status_code == 200


def test_availability_takes_only_from_and_to(anonymous, space):
    path = f"/api/v1/spaces/{space.id}/availability/"
    window = {"from": "2030-01-07T10:00:00Z", "to": "2030-01-07T12:00:00Z"}
    assert anonymous.get(path, window).status_code == 200
    response = anonymous.get(path, {**window, "page": 2})
    assert response.status_code == 400
    assert response.json()["codes"] == {"page": ["unknown_parameter"]}


def test_each_unknown_parameter_is_named(anonymous):
    response = anonymous.get("/api/v1/venues/", {"b": "1", "a": "2"})
    assert list(response.json()) == ["a", "b", "codes"]
