"""/api/v1/docs/ works without internet (Swagger UI's files come from the project), and a
frontend on a configured origin may call the API from a browser (CORS)."""

import re

import pytest
from django.contrib.staticfiles import finders
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db


def test_the_docs_page_loads_its_assets_from_the_project():
    client = Client()
    page = client.get("/api/v1/docs/").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets), assets
    assert all(asset.startswith("/") for asset in assets), assets  # no other host
    # Each a static file of an installed package: collectstatic (the Procfile's release)
    # gathers it for whitenoise to serve.
    for asset in assets:
        assert asset.startswith("/static/"), asset
        assert finders.find(asset.removeprefix("/static/")), asset


ORIGIN = "https://frontend.example.org"


@override_settings(CORS_ALLOWED_ORIGINS=[ORIGIN])
def test_a_configured_origin_may_call_the_api_with_a_token_and_a_language():
    preflight = Client().options(
        "/api/v1/bookings/",
        HTTP_ORIGIN=ORIGIN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type, accept-language",
    )
    assert preflight.status_code == 200
    assert preflight["Access-Control-Allow-Origin"] == ORIGIN
    allowed = preflight["Access-Control-Allow-Headers"]
    assert {"authorization", "content-type", "accept-language"} <= set(allowed.split(", "))
    answer = Client().get("/api/v1/activities/", HTTP_ORIGIN=ORIGIN)
    assert answer["Access-Control-Allow-Origin"] == ORIGIN
    assert "Location" in answer["Access-Control-Expose-Headers"]


@override_settings(CORS_ALLOWED_ORIGINS=[ORIGIN])
def test_another_origin_gets_no_cors_headers():
    answer = Client().get("/api/v1/activities/", HTTP_ORIGIN="https://evil.example.net")
    assert "Access-Control-Allow-Origin" not in answer


def test_with_no_origins_configured_no_page_elsewhere_may_read_the_api():
    answer = Client().get("/api/v1/activities/", HTTP_ORIGIN=ORIGIN)
    assert "Access-Control-Allow-Origin" not in answer
