"""The personal calendar feed's secret is in its URL; it stays out of the logs: the Procfile's
access log and Django's request log show the path with the secret masked."""

import json

import pytest

from tests.conftest import wait_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_calendar_feeds_secret_is_never_logged(api_server):
    user = UserFactory()
    stale = user.rotate_calendar_token()
    secret = user.rotate_calendar_token()  # the stale one is a 404 from now on

    assert api_server.request("GET", f"/api/v1/calendar/{secret}.ics")[0] == 200
    assert api_server.request("GET", f"/api/v1/calendar/{stale}.ics")[0] == 404
    assert api_server.request("GET", f"/api/v1/calendar/{secret}.ics?x=1")[0] == 200

    feed = "/api/v1/calendar/{token}.ics"

    def feed_accesses():
        # gunicorn writes an access line after the answer is sent: wait for the third.
        lines = [json.loads(line) for line in api_server.log().splitlines() if line[:1] == "{"]
        accesses = [(line["path"], line["status"]) for line in lines if "path" in line]
        found = [access for access in accesses if access[0].startswith("/api/v1/calendar/")]
        return (found, lines) if len(found) >= 3 else None

    accesses, lines = wait_for(feed_accesses, timeout=10, message="three access lines")
    log = api_server.log()
    assert secret not in log and stale not in log
    assert [(feed, 200), (feed, 404), (feed, 200)] == accesses
    assert f"Not Found: {feed}" in [line["message"] for line in lines]
