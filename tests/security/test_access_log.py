"""The personal calendar feed's secret is in its URL; it stays out of the logs: the Procfile's
access log and Django's request log show the path with the secret masked."""

import json

import pytest

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_calendar_feeds_secret_is_never_logged(api_server):
    user = UserFactory()
    stale = user.rotate_calendar_token()
    secret = user.rotate_calendar_token()  # the stale one is a 404 from now on

    assert api_server.request("GET", f"/api/v1/calendar/{secret}.ics")[0] == 200
    assert api_server.request("GET", f"/api/v1/calendar/{stale}.ics")[0] == 404
    assert api_server.request("GET", f"/api/v1/calendar/{secret}.ics?x=1")[0] == 200

    log = api_server.log()
    assert secret not in log and stale not in log
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    feed = "/api/v1/calendar/{token}.ics"
    accesses = [(line["path"], line["status"]) for line in lines if "path" in line]
    assert [(feed, 200), (feed, 404), (feed, 200)] == [
        access for access in accesses if access[0].startswith("/api/v1/calendar/")
    ]
    assert f"Not Found: {feed}" in [line["message"] for line in lines]
