"""Every time the API reads, in a body or a query string, answers a bad value with a 400 that
names the field, and nothing is stored. The fields are read from the OpenAPI schema, so a new
one is covered as soon as it is there."""

from urllib.parse import urlencode

import pytest

from api.bookings.models import BookingRequest
from tests.conftest import client_for
from tests.security.schema import time_fields
from tests.security.world import build_world, fill

pytestmark = pytest.mark.django_db

BAD_TIMES = [
    "2026-13-45T10:00:00Z",  # no 13th month, no 45th day
    "2026-02-30T10:00:00Z",
    "2026-12-01T24:30:00Z",
    "2026-12-01T10:00:00+99:00",  # no such offset
    "2026-12-01T10:00:00+01:75",
    "2026-12-01T10:00:00",  # no offset
    "0001-01-01T00:30:00+01:00",  # before year 1 in UTC
    "9999-12-31T23:30:00-01:00",  # after 9999 in UTC
    "1969-12-31T23:59:59Z",  # before 1970
    "10000-01-01T00:00:00Z",
    "next thursday",
]


def test_the_schema_has_the_time_fields_of_the_contract():
    found = {(path, name) for _, path, _, name in time_fields()}
    assert {
        ("/api/v1/booking-requests/", "start"),
        ("/api/v1/booking-requests/", "end"),
        ("/api/v1/spaces/{id}/availability/", "from"),
        ("/api/v1/spaces/{id}/availability/", "to"),
        ("/api/v1/spaces/", "free_from"),
        ("/api/v1/spaces/", "free_to"),
    } <= found


@pytest.mark.parametrize("value", BAD_TIMES)
@pytest.mark.parametrize(("method", "path", "place", "name"), time_fields())
def test_a_bad_time_is_a_400_naming_its_field(method, path, place, name, value):
    world = build_world()
    client = client_for(world.operator)
    url = fill(path, world)
    requests_before = BookingRequest.objects.count()
    if place == "query":
        response = client.generic(method, url, QUERY_STRING=urlencode({name: value}))
    else:
        response = client.generic(method, url, f'{{"{name}": "{value}"}}', "application/json")
    assert response.status_code == 400, response.content
    assert name in response.json()
    assert BookingRequest.objects.count() == requests_before
