"""Schemathesis against the served OpenAPI schema (/api/v1/schema/): generated requests, valid
and invalid, to every operation, as an operator; no answer is a 5xx, and none breaks the
schema. Bounded: a fixed number of examples per operation, deterministic, so that a run takes
a minute or two and a failure repeats."""

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from api.wsgi import application
from tests.security.world import build_world

EXAMPLES = 25


@pytest.fixture
def world(db, settings):
    settings.THROTTLING = False  # the rate limits have tests of their own
    # Requests go to the WSGI app in this process, inside the test's transaction: as with
    # Django's test client, the end of a request must not close the database connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield build_world()
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


# Loaded from the app itself when the tests are collected (the schema needs no database).
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/", application)
schema.config.generation.update(
    modes=["positive", "negative"], max_examples=EXAMPLES, deterministic=True, database="none"
)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_answer_is_a_server_error_or_breaks_the_schema(case, world):
    case.headers = {
        **(case.headers or {}),
        "Authorization": f"Token {world.operator.auth_token.key}",
    }
    case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])
