"""Bodies an attacker sends to every endpoint that reads JSON: nested deeper than any request
needs, larger than the limit, or chunked to hide their length. Each is a 4xx, and nothing is
stored."""

import json

import pytest

from tests.conftest import client_for
from tests.security.schema import json_operations
from tests.security.world import build_world, fill, row_counts

LIMIT = 64 * 1024
DEEP_LISTS = "[" * 30_000 + "]" * 30_000  # 60 KB: under the limit
DEEP_OBJECTS = '{"a":' * 10_000 + "1" + "}" * 10_000


def test_every_json_endpoint_of_the_contract_is_covered():
    found = set(json_operations())
    assert {
        ("POST", "/api/v1/auth/register/"),
        ("POST", "/api/v1/booking-requests/"),
        ("PATCH", "/api/v1/spaces/{id}/"),
        ("POST", "/api/v1/webhooks/"),
    } <= found


@pytest.mark.django_db
@pytest.mark.parametrize("body", [DEEP_LISTS, DEEP_OBJECTS], ids=["lists", "objects"])
@pytest.mark.parametrize(("method", "path"), json_operations())
def test_deeply_nested_json_is_a_400(method, path, body):
    world = build_world()
    before = row_counts()
    response = client_for(world.operator).generic(
        method, fill(path, world), body, "application/json"
    )
    assert response.status_code == 400, response.content[:300]
    assert "detail" in response.json()
    assert row_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), json_operations())
def test_json_nested_deep_inside_a_field_is_a_400(method, path):
    world = build_world()
    before = row_counts()
    nested = "[" * 900 + "1" + "]" * 900
    body = '{"name": %s, "events": %s, "space": %s}' % (nested, nested, nested)
    response = client_for(world.operator).generic(
        method, fill(path, world), body, "application/json"
    )
    assert response.status_code == 400, response.content[:300]
    assert row_counts() == before


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), json_operations())
def test_a_body_over_the_limit_is_a_413(method, path):
    world = build_world()
    before = row_counts()
    body = json.dumps({"name": "x" * LIMIT})
    response = client_for(world.operator).generic(
        method, fill(path, world), body, "application/json"
    )
    assert response.status_code == 413
    assert row_counts() == before
