"""Every operator endpoint, for each of the owning organisation's admin, manager and viewer,
another organisation's admin and a city-wide operator.

The cells come from the URL configuration through the authorisation matrix
(tests/security/test_authorisation_matrix.py): every method that the matrix gives to operators
and refuses to another user is an operator cell, and must have the role it needs in SCOPE
below (`test_every_operator_cell_has_a_role`). A role of its own organisation at least that high
gets what a city-wide operator gets; a lower one a 403. Another organisation's admin gets a 404
for the world's rows, a 400 naming the field for a body that names one, and a list without them.
"""

import json
from dataclasses import dataclass

import pytest
from django.db import transaction
from rest_framework.test import APIClient

from api.audit.models import AuditEntry
from tests.security.test_authorisation_matrix import MATRIX, REFUSED, url_of, url_patterns
from tests.security.world import World, build_world

PEOPLE = ("admin", "manager", "viewer", "stranger", "operator")
RANK = {"viewer": 1, "manager": 2, "admin": 3, "city": 4}


@dataclass(frozen=True)
class Cell:
    role: str  # the least role of the owning organisation that may: viewer, manager, admin, city
    # For a list: the world's row that a person of the organisation sees and a stranger does not.
    shows: object = None
    # A body of its own for the scoping (else the authorisation matrix's).
    body: object = None


def latest_entry(organisation) -> int:
    return AuditEntry.objects.filter(organisation=organisation).latest("id").pk


def organisation_webhook(w: World) -> dict:
    body = MATRIX["webhook-list"].body(w)
    return {**body, "organisation": w.organisation.pk}


SCOPE: dict[tuple[str, str], Cell] = {
    ("activity-list", "POST"): Cell("city"),
    # Release windows and their draws stay city-wide for now (issue 11 built them before
    # organisations existed; docs/fair-use.md).
    ("release-window-list", "POST"): Cell("city"),
    ("release-window-draw", "GET"): Cell("city"),
    ("venue-list", "POST"): Cell("admin"),
    ("space-list", "POST"): Cell("manager"),
    ("space-detail", "PATCH"): Cell("manager"),
    ("space-closure-list", "POST"): Cell("manager"),
    ("space-closure-detail", "DELETE"): Cell("manager"),
    ("venue-closure-list", "POST"): Cell("manager"),
    ("venue-closure-detail", "DELETE"): Cell("manager"),
    ("opening-list", "POST"): Cell("manager"),
    ("opening-detail", "DELETE"): Cell("manager"),
    ("booking-list", "GET"): Cell("viewer", shows=lambda w: w.booking.pk),
    ("booking-detail", "GET"): Cell("viewer"),
    ("booking-cancel", "POST"): Cell("manager"),
    ("lock-list", "GET"): Cell("viewer", shows=lambda w: w.lock.pk),
    ("lock-list", "POST"): Cell("admin"),
    ("lock-detail", "GET"): Cell("viewer"),
    ("lock-commands", "GET"): Cell("viewer"),
    ("lock-unlock", "POST"): Cell("manager"),
    # Removing a lock and re-keying it are the organisation admin's (issue 8's actions, at the
    # role every write defaults to).
    ("lock-detail", "DELETE"): Cell("admin"),
    ("lock-rotate-password", "POST"): Cell("admin"),
    ("alerts", "GET"): Cell("viewer", shows=lambda w: w.space.pk),
    ("webhook-list", "GET"): Cell("admin", shows=lambda w: w.webhook.pk),
    ("webhook-list", "POST"): Cell("admin", body=organisation_webhook),
    ("webhook-detail", "GET"): Cell("admin"),
    ("webhook-detail", "PATCH"): Cell("admin"),
    ("webhook-detail", "DELETE"): Cell("admin"),
    ("webhook-deliveries", "GET"): Cell("admin"),
    ("organisation-list", "GET"): Cell("viewer", shows=lambda w: w.organisation.pk),
    ("organisation-list", "POST"): Cell("city"),
    ("member-list", "GET"): Cell("admin", shows=lambda w: w.membership.pk),
    ("member-list", "POST"): Cell("admin"),
    ("member-detail", "PATCH"): Cell("admin"),
    ("member-detail", "DELETE"): Cell("admin"),
    ("audit-list", "GET"): Cell("admin", shows=lambda w: latest_entry(w.organisation)),
}


def operator_cells() -> set[tuple[str, str]]:
    """From the URL configuration: each pattern's methods that operators may use and another
    user may not."""
    cells = set()
    for name in url_patterns():
        row = MATRIX[name]
        for method, (_anonymous, other, _owner, operator) in row.expect.items():
            if other in REFUSED and operator not in REFUSED and not name.startswith("admin"):
                cells.add((name, method))
    return cells


def test_every_operator_cell_has_a_role():
    assert operator_cells() - SCOPE.keys() == set()
    assert {name for name, _ in SCOPE} <= url_patterns().keys()


def expected(cell: Cell, person: str, name: str, method: str, success: int) -> int:
    if person == "operator":
        return success
    if person != "stranger":
        return success if RANK[person] >= RANK[cell.role] else 403
    if cell.role == "city":
        return 403
    if url_patterns()[name].pattern.regex.groups:
        return 404  # the URL names the world's row
    return 400 if method == "POST" else success  # a body naming it; a list without it


@pytest.mark.django_db
@pytest.mark.parametrize("name,method", sorted(SCOPE))
def test_each_organisation_role_gets_what_its_cell_says(name, method, settings):
    settings.THROTTLING = False
    cell, row = SCOPE[name, method], MATRIX[name]
    world = build_world()
    url = url_of(name, row, world)
    success = row.expect[method][3]
    body = (cell.body or row.body or (lambda w: None))(world)
    wrong = []
    for person in PEOPLE:
        client = APIClient()
        client.force_authenticate(getattr(world, person))
        with transaction.atomic():
            if method == "GET":
                response = client.get(url, row.query(world) if row.query else None)
            else:
                response = client.generic(method, url, *_json(body))
            transaction.set_rollback(True)
        want = expected(cell, person, name, method, success)
        if response.status_code != want:
            wrong.append(f"{person} {method} {url}: {response.status_code}, not {want}")
        elif want == 400 and not set(response.json()) & {"venue", "space", "organisation"}:
            wrong.append(f"{person} {method} {url}: 400 without naming the row: {response.json()}")
        elif cell.shows and response.status_code == 200:
            found = _ids(response.json())
            sees = person != "stranger"
            if (cell.shows(world) in found) != sees:
                wrong.append(f"{person} GET {url}: sees the world's row: {not sees}")
    assert wrong == [], "\n".join(wrong)


def _json(body) -> tuple:
    return () if body is None else (json.dumps(body), "application/json")


def _ids(answer) -> set:
    results = answer["results"] if isinstance(answer, dict) else answer
    return {row.get("id", row.get("space")) for row in results}
