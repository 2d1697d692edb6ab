"""Hostile values in every field of every write endpoint: huge and negative numbers, NUL, lone
surrogates, control and bidirectional characters, strings over their length, impossible times
and years before 1970 or after 9999, time ranges of years. Each is a 400 that names the field,
and nothing is stored or changed. The endpoints and their fields come from the OpenAPI schema;
the valid bodies they are planted in are the authorisation matrix's.

(Oversized, chunked and deeply nested bodies: test_bodies.py. Every time field, query strings
included: test_times.py.)"""

import json

import pytest
from django.db import transaction
from django.urls import resolve

from tests.conftest import client_for
from tests.security.schema import body_properties, json_operations, operations
from tests.security.schema import resolve as component
from tests.security.test_authorisation_matrix import MATRIX
from tests.security.world import build_world, fill, later, row_counts

NUMBERS = {"integer": [10**20, -(10**20), -1, 2**31], "number": [1e300, -1e300]}
STRINGS = ["\x00", "\ud800", "x\x07y", "x\u202ey"]
TIMES = [
    "1969-12-31T23:00:00Z",
    "9999-12-31T23:30:00-01:00",
    "10000-01-01T00:00:00Z",
    "2026-13-45T10:00:00Z",
]


def hostile_values(prop: dict) -> list:
    kind = prop.get("type")
    if kind in NUMBERS:
        return NUMBERS[kind]
    if kind == "boolean":
        return ["maybe", 10**20]
    if kind == "array":
        items = component(prop.get("items"))
        return [[value] for value in hostile_values(items)] + [["\x00"] * 1000]
    if kind == "object":
        names = prop.get("properties", {"x": None})
        return [{name: value for name in names} for value in STRINGS]
    if prop.get("format") == "date-time":
        return TIMES
    values = list(STRINGS)
    if prop.get("maxLength"):
        values.append("x" * (prop["maxLength"] + 1))
    return values


# Whole bodies with a valid shape that ask for what no space allows.
EXTRA = {
    ("POST", "/api/v1/booking-requests/"): [
        ("end", {"start": later(1), "end": later(3 * 365)}),  # three years long
        ("start", {"start": later(5 * 365), "end": later(5 * 365 + 1)}),  # five years ahead
        ("end", {"start": later(1), "end": later(-1)}),  # ends before it starts
    ]
}

OPERATIONS = {(method, path): operation for method, path, operation in operations()}


def observed(client, path: str, world) -> tuple:
    """What can be seen of the world: every table's size, and the object a PATCH would change."""
    shown = client.get(fill(path, world)).content if ("GET", path) in OPERATIONS else b""
    return row_counts(), shown


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), json_operations())
def test_a_hostile_value_in_any_field_is_a_400_naming_it(method, path, settings):
    settings.THROTTLING = False
    world = build_world()
    client = client_for(world.operator)
    url = fill(path, world)
    row = MATRIX[resolve(url).url_name]
    properties = body_properties(OPERATIONS[(method, path)])
    cases = [
        (name, {name: value}) for name, prop in properties.items() for value in hostile_values(prop)
    ] + EXTRA.get((method, path), [])
    wrong = []
    with transaction.atomic():
        base = row.body(world)
        accepted = client.generic(method, url, json.dumps(base), "application/json")
        assert accepted.status_code < 300, accepted.content  # the body the cases start from
        transaction.set_rollback(True)
    for field, change in cases:
        with transaction.atomic():
            base = row.body(world)
            before = observed(client, path, world)
            response = client.generic(
                method, url, json.dumps({**base, **change}), "application/json"
            )
            named = response.status_code == 400 and field in response.json()
            if not named or observed(client, path, world) != before:
                wrong.append(
                    f"{field}={change[field]!r:.60}: {response.status_code} {response.content[:120]}"
                )
            transaction.set_rollback(True)
    assert wrong == [], "\n".join(wrong)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "query", "field"),
    [
        ("/api/v1/spaces/{id}/availability/", {"from": later(1), "to": later(3 * 365)}, "to"),
        ("/api/v1/spaces/", {"free_from": later(1), "free_to": later(3 * 365)}, "free_to"),
    ],
)
def test_a_time_range_of_years_in_a_query_is_a_400_naming_it(url, query, field):
    world = build_world()
    response = client_for(world.other).get(fill(url, world), query)
    assert response.status_code == 400
    assert field in response.json()


def query_parameters() -> list[tuple[str, str]]:
    return sorted(
        {
            (path, parameter["name"])
            for method, path, operation in operations()
            if method == "GET"
            for parameter in operation.get("parameters", [])
            if parameter["in"] == "query"
        }
    )


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "name"), query_parameters())
def test_a_nul_in_a_query_parameter_is_a_400_naming_it(path, name):
    world = build_world()
    url = fill(path, world)
    # Among the others a valid query asks for (slot search's, say), when it asks for any.
    row = MATRIX.get(resolve(url).url_name)
    query = row.query(world) if row and row.query else {}
    response = client_for(world.operator).get(url, {**query, name: "a\x00b"})
    if name == "page":  # DRF's answer to a page that is not one
        assert response.status_code == 404
    else:
        assert response.status_code == 400
        assert name in response.json()
