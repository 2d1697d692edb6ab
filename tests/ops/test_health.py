"""/healthz and /readyz against the real services, and a broken one named."""

import pytest

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_touching_anything(anonymous):
    response = anonymous.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_200_when_every_service_answers(anonymous):
    response = anonymous.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok", "mqtt": "ok"}


@pytest.mark.parametrize(
    ("setting", "value", "part"),
    [
        ("REDIS_URL", "redis://127.0.0.1:1/0", "redis"),
        ("MQTT_URL", "mqtt://127.0.0.1:1", "mqtt"),
    ],
)
def test_readyz_is_503_naming_the_part_that_fails(anonymous, settings, setting, value, part):
    setattr(settings, setting, value)
    response = anonymous.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body[part] != "ok"
    assert body["database"] == "ok"


def test_readyz_names_an_unreachable_database(anonymous, settings, monkeypatch):
    # The probe opens a connection of its own; the tests' open connection is left alone.
    monkeypatch.setitem(settings.DATABASES["default"], "PORT", "1")
    response = anonymous.get("/readyz")
    assert response.status_code == 503
    assert response.json()["database"] != "ok"
