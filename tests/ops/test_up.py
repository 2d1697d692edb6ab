"""`manage.py up`: where the page is once the API answers, and plainly when the lock broker it
uses checks nobody."""

import threading

import pytest

from api import embedded
from api.ops.management.commands.up import Command


def test_up_announces_the_citizens_page_first(capsys):
    command = Command()
    command.output = threading.Lock()  # what handle() sets up before the processes start
    command.announce(8000)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].endswith(
        "| FlexiSpace is up: open http://127.0.0.1:8000/ to find a space and book it."
    )
    assert any(line.endswith("operators http://127.0.0.1:8000/operator/") for line in lines)
    assert any(line.endswith("API docs  http://127.0.0.1:8000/api/v1/docs/") for line in lines)


def checked(capsys) -> str:
    command = Command()
    command.output = threading.Lock()
    command.check_services()
    return capsys.readouterr().out


@pytest.mark.django_db
def test_up_says_the_embedded_broker_is_for_development_only(capsys, monkeypatch):
    monkeypatch.setattr(embedded, "in_use", lambda: [embedded.MQTT_LABEL])
    assert "the embedded MQTT broker is for development only" in checked(capsys)


@pytest.mark.django_db
def test_up_says_nothing_of_the_kind_on_a_broker_of_its_own(capsys, monkeypatch):
    monkeypatch.setattr(embedded, "in_use", lambda: [])
    output = checked(capsys)
    assert "MQTT_URL answers" in output
    assert "development only" not in output
