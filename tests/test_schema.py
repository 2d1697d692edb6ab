"""The OpenAPI schema is served, valid, and lists the contract's paths."""

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db

CONTRACT_PATHS = [
    "/api/v1/auth/register/",
    "/api/v1/auth/token/",
    "/api/v1/auth/me/",
    "/api/v1/activities/",
    "/api/v1/venues/",
    "/api/v1/spaces/",
    "/api/v1/spaces/{id}/",
    "/api/v1/spaces/{id}/availability/",
    "/api/v1/booking-requests/",
    "/api/v1/booking-requests/{id}/",
    "/api/v1/bookings/",
    "/api/v1/bookings/{id}/",
    "/api/v1/bookings/{id}/cancel/",
    "/api/v1/bookings/{id}/calendar.ics",
    "/api/v1/spaces/{id}/calendar.ics",
    "/api/v1/auth/me/calendar-token/",
    "/api/v1/calendar/{token}.ics",
    "/api/v1/webhooks/",
    "/api/v1/webhooks/{id}/deliveries/",
    "/api/v1/locks/",
    "/api/v1/locks/{id}/",
    "/api/v1/locks/{id}/unlock/",
    "/api/v1/alerts/",
    "/api/v1/slots/",
    "/api/v1/spaces/{space_pk}/closures/",
    "/api/v1/spaces/{space_pk}/closures/{id}/",
    "/api/v1/venues/{venue_pk}/closures/",
    "/api/v1/venues/{venue_pk}/closures/{id}/",
    "/api/v1/spaces/{space_pk}/openings/",
    "/api/v1/spaces/{space_pk}/openings/{id}/",
    "/api/v1/organisations/",
    "/api/v1/organisations/{organisation_pk}/members/",
    "/api/v1/organisations/{organisation_pk}/members/{id}/",
    "/api/v1/audit/",
    "/api/v1/auth/me/export/",
]


def test_the_schema_lists_every_contract_path(anonymous):
    response = anonymous.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    missing = [path for path in CONTRACT_PATHS if path not in paths]
    assert missing == []
    assert "202" in paths["/api/v1/booking-requests/"]["post"]["responses"]
    assert "delete" in paths["/api/v1/auth/me/"]
    audit = {parameter["name"] for parameter in paths["/api/v1/audit/"]["get"]["parameters"]}
    assert {"organisation", "from", "to"} <= audit


def test_the_schema_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", tmp_path / "s.yml")


def test_the_docs_page_is_served(anonymous):
    assert anonymous.get("/api/v1/docs/").status_code == 200


def test_the_alerts_are_paginated_in_the_schema_as_in_the_answers(anonymous, as_operator):
    schema = anonymous.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    answer = schema["paths"]["/api/v1/alerts/"]["get"]["responses"]["200"]
    reference = answer["content"]["application/json"]["schema"]["$ref"]
    component = schema["components"]["schemas"][reference.rsplit("/", 1)[1]]
    fields = {"count", "next", "previous", "results"}
    assert set(component["properties"]) == fields
    assert set(as_operator.get("/api/v1/alerts/").json()) == fields
