"""Who may do what: every URL pattern of the API, for each of anonymous, another user, the owner
and an operator, and for every method, checked against MATRIX below.

The endpoints come from the URL configuration, so a new one cannot be forgotten: a URL pattern
without a row, a method a view serves without an expectation, or a row for a pattern that is
gone fails `test_every_url_pattern_has_a_row_for_each_method_it_serves`, and the pattern's
own cell test fails too. To add an endpoint, add one row, keyed by its URL pattern name: how
to fill in its URL parameters from the world (tests/security/world.py), the statuses the four
people get for each method it serves, and a valid body for its writes (valid, so that a
refusal is the permission's doing, not the body's). Methods a view does not serve must be
refused to everyone; the cell test checks that as well.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.test import APIClient

from tests.factories import SpaceFactory
from tests.security.world import PASSWORD, World, build_world, later
from tests.settings import RUN

ROLES = ("anonymous", "other", "owner", "operator")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
REFUSED = {401, 403, 404, 405}

# The statuses (anonymous, another user, the owner, an operator), named for who gets through.
ANYONE = lambda ok: (ok, ok, ok, ok)  # noqa: E731
USERS = lambda ok: (401, ok, ok, ok)  # noqa: E731
OPERATORS = lambda ok: (401, 403, 403, ok)  # noqa: E731
OWNER = lambda ok: (401, 404, ok, 404)  # noqa: E731
OWNER_AND_OPERATORS = lambda ok: (401, 404, ok, ok)  # noqa: E731


@dataclass(frozen=True)
class Row:
    kwargs: Callable[[World], dict] = lambda world: {}
    expect: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)
    body: Callable[[World], dict] | None = None
    query: Callable[[World], dict] | None = None
    # The body as a form (the admin's pages), not as JSON.
    form: bool = False


CLOSURE = {
    "first_date": "2027-12-27",
    "last_date": "2027-12-31",
    "opens": "16:00",
    "closes": "22:00",
    "reason": {"fi": "Huolto", "sv": "Underhåll", "en": "Maintenance"},
}


def pk(attribute: str) -> Callable[[World], dict]:
    return lambda world: {"pk": getattr(world, attribute).pk}


MATRIX: dict[str, Row] = {
    # --- accounts ---------------------------------------------------------------------------
    "register": Row(
        expect={"POST": ANYONE(201)},
        body=lambda w: {"email": "new@example.org", "password": "a long passphrase", "name": "N"},
    ),
    "token": Row(
        expect={"POST": ANYONE(200)}, body=lambda w: {"email": w.owner.email, "password": PASSWORD}
    ),
    "me": Row(
        expect={"GET": USERS(200), "PATCH": USERS(200), "DELETE": USERS(204)},
        body=lambda w: {"name": "Renamed"},
    ),
    "export": Row(expect={"GET": USERS(200)}),
    "calendar-token": Row(expect={"POST": USERS(200)}),
    "personal-calendar": Row(
        kwargs=lambda w: {"token": w.calendar_secret}, expect={"GET": ANYONE(200)}
    ),
    # --- catalogue --------------------------------------------------------------------------
    "activity-list": Row(
        expect={"GET": ANYONE(200), "POST": OPERATORS(201)},
        body=lambda w: {"slug": "salsa", "name": {"fi": "Salsa", "sv": "Salsa", "en": "Salsa"}},
    ),
    "venue-list": Row(
        expect={"GET": ANYONE(200), "POST": OPERATORS(201)},
        body=lambda w: {
            "organisation": w.organisation.pk,
            "name": "Kallio hall",
            "address": "Helsinginkatu 1",
            "district": "Kallio",
            "latitude": 60.18,
            "longitude": 24.95,
        },
    ),
    "venue-detail": Row(kwargs=pk("venue"), expect={"GET": ANYONE(200)}),
    "space-list": Row(
        expect={"GET": ANYONE(200), "POST": OPERATORS(201)},
        body=lambda w: {
            "venue": w.venue.pk,
            "name": "Room B",
            "capacity": 10,
            "activities": [w.activity.slug],
        },
    ),
    "space-detail": Row(
        kwargs=pk("space"),
        expect={"GET": ANYONE(200), "PATCH": OPERATORS(200)},
        body=lambda w: {"capacity": 20},
    ),
    "space-availability": Row(
        kwargs=pk("space"),
        expect={"GET": ANYONE(200)},
        query=lambda w: {"from": later(1), "to": later(2)},
    ),
    "space-calendar": Row(kwargs=pk("space"), expect={"GET": ANYONE(200)}),
    "space-closure-list": Row(
        kwargs=lambda w: {"space_pk": w.space.pk},
        expect={"GET": ANYONE(200), "POST": OPERATORS(201)},
        body=lambda w: CLOSURE,
    ),
    "space-closure-detail": Row(
        kwargs=lambda w: {"space_pk": w.space.pk, "pk": w.closure.pk},
        expect={"DELETE": OPERATORS(204)},
    ),
    "venue-closure-list": Row(
        kwargs=lambda w: {"venue_pk": w.venue.pk},
        expect={"GET": ANYONE(200), "POST": OPERATORS(201)},
        body=lambda w: CLOSURE,
    ),
    "venue-closure-detail": Row(
        kwargs=lambda w: {"venue_pk": w.venue.pk, "pk": w.venue_closure.pk},
        expect={"DELETE": OPERATORS(204)},
    ),
    "opening-list": Row(
        kwargs=lambda w: {"space_pk": w.space.pk},
        expect={"GET": ANYONE(200), "POST": OPERATORS(201)},
        body=lambda w: {"date": "2027-06-20", "opens": "10:00", "closes": "16:00"},
    ),
    "opening-detail": Row(
        kwargs=lambda w: {"space_pk": w.space.pk, "pk": w.opening.pk},
        expect={"DELETE": OPERATORS(204)},
    ),
    "slots": Row(
        expect={"GET": ANYONE(200)},
        query=lambda w: {
            "activity": w.activity.slug,
            "party_size": 4,
            "from": later(1),
            "to": later(2),
            "duration_minutes": 60,
        },
    ),
    # --- booking ----------------------------------------------------------------------------
    "booking-request-list": Row(
        expect={"GET": USERS(200), "POST": USERS(202)}, body=lambda w: w.booking_request_body()
    ),
    "booking-request-detail": Row(kwargs=pk("booking_request"), expect={"GET": OWNER(200)}),
    "booking-list": Row(expect={"GET": USERS(200)}),
    "booking-detail": Row(kwargs=pk("booking"), expect={"GET": OWNER_AND_OPERATORS(200)}),
    "booking-cancel": Row(kwargs=pk("booking"), expect={"POST": OWNER_AND_OPERATORS(200)}),
    "booking-calendar": Row(kwargs=pk("booking"), expect={"GET": OWNER(200)}),
    # --- series, waitlist, release windows -----------------------------------------------
    "booking-series-list": Row(
        expect={"GET": USERS(200), "POST": USERS(202)}, body=lambda w: w.series_body()
    ),
    "booking-series-detail": Row(kwargs=pk("series"), expect={"GET": OWNER(200)}),
    "booking-series-cancel": Row(kwargs=pk("series"), expect={"POST": OWNER(200)}),
    "booking-series-calendar": Row(kwargs=pk("series"), expect={"GET": OWNER(200)}),
    "waitlist-list": Row(
        expect={"GET": USERS(200), "POST": USERS(201)}, body=lambda w: w.booking_request_body()
    ),
    "waitlist-detail": Row(kwargs=pk("waitlist_entry"), expect={"DELETE": OWNER(204)}),
    "release-window-list": Row(
        expect={"GET": ANYONE(200), "POST": OPERATORS(201)},
        body=lambda w: w.release_window_body(),
    ),
    "release-window-detail": Row(kwargs=pk("release_window"), expect={"GET": ANYONE(200)}),
    "release-window-draw": Row(kwargs=pk("release_window"), expect={"GET": OPERATORS(200)}),
    # --- locks and alerts -------------------------------------------------------------------
    "lock-list": Row(
        expect={"GET": OPERATORS(200), "POST": OPERATORS(201)},
        body=lambda w: {"id": f"{RUN}-lock-new", "space": SpaceFactory().pk},
    ),
    "lock-detail": Row(kwargs=pk("lock"), expect={"GET": OPERATORS(200), "DELETE": OPERATORS(204)}),
    "lock-rotate-password": Row(kwargs=pk("lock"), expect={"POST": OPERATORS(200)}),
    "lock-commands": Row(kwargs=pk("lock"), expect={"GET": OPERATORS(200)}),
    "lock-unlock": Row(kwargs=pk("lock"), expect={"POST": OPERATORS(202)}),
    "alerts": Row(expect={"GET": OPERATORS(200)}),
    # --- webhooks ---------------------------------------------------------------------------
    "webhook-list": Row(
        expect={"GET": OPERATORS(200), "POST": OPERATORS(201)},
        body=lambda w: {
            "url": "https://hooks.example.org/new",
            "secret": "a secret of sixteen or more",
            "events": ["booking.cancelled"],
        },
    ),
    "webhook-detail": Row(
        kwargs=pk("webhook"),
        expect={"GET": OPERATORS(200), "PATCH": OPERATORS(200), "DELETE": OPERATORS(204)},
        body=lambda w: {"active": False},
    ),
    "webhook-deliveries": Row(kwargs=pk("webhook"), expect={"GET": OPERATORS(200)}),
    # --- organisations (their scoping: tests/organisations/test_scoping_matrix.py) ---------
    "organisation-list": Row(
        expect={"GET": OPERATORS(200), "POST": OPERATORS(201)},
        body=lambda w: {"name": "Vallila library", "kind": "library"},
    ),
    "member-list": Row(
        kwargs=lambda w: {"organisation_pk": w.organisation.pk},
        expect={"GET": OPERATORS(200), "POST": OPERATORS(201)},
        body=lambda w: {"email": w.other.email, "role": "viewer"},
    ),
    "member-detail": Row(
        kwargs=lambda w: {"organisation_pk": w.organisation.pk, "pk": w.membership.pk},
        expect={"PATCH": OPERATORS(200), "DELETE": OPERATORS(204)},
        body=lambda w: {"role": "manager"},
    ),
    "audit-list": Row(expect={"GET": OPERATORS(200)}),
    # --- the API's own pages, health, the admin ---------------------------------------------
    "api-root": Row(expect={"GET": USERS(200)}),
    "schema": Row(expect={"GET": ANYONE(200)}),
    "docs": Row(expect={"GET": ANYONE(200)}),
    "healthz": Row(expect={"GET": ANYONE(200)}),
    "readyz": Row(expect={"GET": ANYONE(200)}),
    # Open here, with METRICS_TOKEN unset; with it set, only its bearer (tests/ops/test_metrics.py).
    "metrics": Row(expect={"GET": ANYONE(200)}),
    # The admin's login, behind the log-in limits; the Django admin is staff-only by its own
    # rules, and its pages are one row: its index.
    "admin-login": Row(
        expect={"GET": (200, 200, 200, 302), "POST": ANYONE(302)},
        body=lambda w: {"username": w.operator.email, "password": PASSWORD},
        form=True,
    ),
    "admin:*": Row(expect={"GET": (302, 302, 302, 200)}),
    # --- the reference frontend: pages anyone loads; what they show comes from the API above
    "citizen-page": Row(expect={"GET": ANYONE(200)}),
    "operator-page": Row(expect={"GET": ANYONE(200)}),
    "set_language": Row(expect={"POST": ANYONE(302)}, body=lambda w: {"language": "sv"}, form=True),
}


# --- the URL configuration ------------------------------------------------------------------


def _patterns(patterns=None, namespace=None):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from _patterns(pattern.url_patterns, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern):
            yield (f"{namespace}:*" if namespace else pattern.name), pattern


def _served(pattern: URLPattern) -> set[str] | None:
    """The methods a pattern's view serves; None for a plain function view, which says not."""
    callback = pattern.callback
    view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view is None:
        return None
    allowed = {method.upper() for method in view.http_method_names}
    actions = getattr(callback, "actions", None)
    if actions is not None:
        return {method.upper() for method in actions} & allowed & set(METHODS)
    return {method for method in METHODS if method in allowed and hasattr(view, method.lower())}


def url_patterns() -> dict[str, URLPattern]:
    """The first pattern of each name (the format-suffix variants serve the same view)."""
    found = {}
    for name, pattern in _patterns():
        found.setdefault(name, pattern)
    return found


def test_every_url_pattern_has_a_row_for_each_method_it_serves():
    patterns = url_patterns()
    problems = [f"{name}: no row in MATRIX" for name in patterns if name not in MATRIX]
    problems += [
        f"{name}: a row, but no such URL pattern" for name in MATRIX if name not in patterns
    ]
    for name, pattern in patterns.items():
        served, row = _served(pattern), MATRIX.get(name)
        if row is None or served is None or name.endswith(":*"):
            continue
        problems += [f"{name}: {m} has no expectation" for m in sorted(served - row.expect.keys())]
        problems += [f"{name}: {m} is not served" for m in sorted(row.expect.keys() - served)]
    assert problems == []


# --- the cells ------------------------------------------------------------------------------


def clients(world: World) -> dict[str, APIClient]:
    """Each person's client: a token for the API, a session for the admin."""
    made = {"anonymous": APIClient()}
    for role in ROLES[1:]:
        user = world.user(role)
        made[role] = APIClient()
        made[role].credentials(HTTP_AUTHORIZATION=f"Token {user.auth_token.key}")
        made[role].force_login(user)
    return made


def url_of(name: str, row: Row, world: World) -> str:
    if name == "admin:*":
        return reverse("admin:index")
    return reverse(name, kwargs=row.kwargs(world))


def answer(client: APIClient, method: str, url: str, row: Row, world: World) -> int:
    """The status, with whatever the request changed undone."""
    with transaction.atomic():
        if method == "GET":
            response = client.get(url, row.query(world) if row.query else None)
        else:
            response = client.generic(method, url, *_encoded(row, world))
        transaction.set_rollback(True)
    return response.status_code


def _encoded(row: Row, world: World) -> tuple:
    if row.body is None:
        return ()
    if row.form:
        return urlencode(row.body(world)), "application/x-www-form-urlencoded"
    return json.dumps(row.body(world)), "application/json"


@pytest.mark.django_db
@pytest.mark.parametrize("name", sorted(url_patterns()))
def test_each_person_gets_what_the_matrix_says(name, settings):
    settings.THROTTLING = False  # the rate limits have tests of their own
    assert name in MATRIX, f"{name} has no row in MATRIX: add one"
    row, pattern = MATRIX[name], url_patterns()[name]
    world = build_world()
    url, people = url_of(name, row, world), clients(world)
    wrong = []
    for method, statuses in row.expect.items():
        for role, expected in zip(ROLES, statuses, strict=True):
            got = answer(people[role], method, url, row, world)
            if got != expected:
                wrong.append(f"{role} {method} {url}: {got}, not {expected}")
    served = _served(pattern)
    for method in sorted(set(METHODS) - (served or set())) if served is not None else []:
        for role in ROLES:
            got = answer(people[role], method, url, row, world)
            if got not in REFUSED:
                wrong.append(f"{role} {method} {url} (not served): {got}, not a refusal")
    assert wrong == [], "\n".join(wrong)
