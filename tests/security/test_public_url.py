"""Absolute URLs start with PUBLIC_URL, whatever Host header a client sends."""

import pytest

from tests.factories import VenueFactory

pytestmark = pytest.mark.django_db

PUBLIC = "https://flexispace.example"


@pytest.fixture(autouse=True)
def _public_url(settings):
    settings.PUBLIC_URL = PUBLIC
    settings.ALLOWED_HOSTS = ["*"]  # as in development: only PUBLIC_URL keeps the Host out


def test_pagination_links_start_with_the_public_url(anonymous):
    VenueFactory.create_batch(51)
    body = anonymous.get("/api/v1/venues/", HTTP_HOST="evil.example").json()
    assert body["next"] == f"{PUBLIC}/api/v1/venues/?page=2"


def test_the_calendar_feed_address_starts_with_the_public_url(as_owner):
    response = as_owner.post("/api/v1/auth/me/calendar-token/", HTTP_HOST="evil.example")
    assert response.json()["url"].startswith(f"{PUBLIC}/api/v1/calendar/")


def test_the_api_root_links_start_with_the_public_url(as_owner):
    links = as_owner.get("/api/v1/", HTTP_HOST="evil.example").json()
    assert links and all(url.startswith(f"{PUBLIC}/api/v1/") for url in links.values())
