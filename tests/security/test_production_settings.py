"""Safe by default: DEBUG is off unless a development command turns it on, production refuses
the development secrets, `check --deploy` is clean with the README's production variables, and
an error in production is a short JSON body that shows nothing of the configuration."""

import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import stop_process
from tests.security.conftest import ROOT, free_port, run_manage, start_api

DEVELOPMENT_SECRET_KEY = "dev-only-secret-key-change-me-in-production-0123456789"
PRINT_DEBUG = ("shell", "-c", "from django.conf import settings; print(settings.DEBUG)")


def test_debug_is_off_when_it_is_not_set():
    finished = run_manage(*PRINT_DEBUG)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip().splitlines()[-1] == "False"


@pytest.mark.parametrize(
    ("changes", "variable"),
    [
        ({"SECRET_KEY": None}, "SECRET_KEY"),
        ({"SECRET_KEY": DEVELOPMENT_SECRET_KEY}, "SECRET_KEY"),
        ({"ALLOWED_HOSTS": None}, "ALLOWED_HOSTS"),
        ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS"),
        ({"ALLOWED_HOSTS": "flexispace.example,*"}, "ALLOWED_HOSTS"),
        ({"LOCK_SIGNING_KEY": None}, "LOCK_SIGNING_KEY"),
    ],
)
def test_production_refuses_to_start_on_a_development_value_naming_it(changes, variable):
    finished = run_manage("check", **changes)
    assert finished.returncode != 0
    last_line = finished.stderr.strip().splitlines()[-1]
    assert "ImproperlyConfigured" in last_line
    assert variable in last_line


def test_development_values_are_accepted_with_debug_on():
    finished = run_manage(
        "check", DEBUG="on", SECRET_KEY=None, ALLOWED_HOSTS=None, LOCK_SIGNING_KEY=None
    )
    assert finished.returncode == 0, finished.stderr


def test_manage_py_up_turns_debug_on_for_itself():
    # `up --help` loads the settings as `up` does, without starting the stack.
    finished = run_manage(
        "up", "--help", SECRET_KEY=None, ALLOWED_HOSTS=None, LOCK_SIGNING_KEY=None
    )
    assert finished.returncode == 0, finished.stderr


def test_a_public_url_with_a_path_or_another_scheme_is_refused():
    for url in ("https://flexispace.example/app", "ftp://flexispace.example"):
        finished = run_manage("check", PUBLIC_URL=url)
        assert finished.returncode != 0
        assert "PUBLIC_URL" in finished.stderr.strip().splitlines()[-1]


def test_check_deploy_is_clean_with_the_production_variables():
    finished = run_manage("check", "--deploy", "--fail-level", "WARNING")
    assert finished.returncode == 0, finished.stderr
    assert "no issues" in finished.stdout


def test_the_readme_lists_the_production_variables_the_tests_set():
    readme = (ROOT / "README.md").read_text()
    for variable in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "LOCK_SIGNING_KEY", "PUBLIC_URL"):
        assert f"`{variable}" in readme.split("## Production", 1)[1].split("\n## ", 1)[0]


def test_compose_runs_with_debug_off():
    compose = yaml.safe_load(Path(ROOT / "docker-compose.yml").read_text())
    assert compose["x-app"]["environment"]["DEBUG"] == "off"


@pytest.mark.django_db
def test_a_server_error_in_production_is_json_and_shows_no_configuration():
    # A database that does not answer, behind a URL with a password in it: every query fails.
    unreachable = f"postgres://flexispace:hunter2@127.0.0.1:{free_port()}/flexispace"
    server = start_api("api-no-database", DATABASE_URL=unreachable)
    try:
        status, headers, body = server.request("GET", "/api/v1/activities/")
        assert status == 500
        assert headers["Content-Type"] == "application/json"
        assert json.loads(body)["code"] == "error"
        assert set(json.loads(body)) == {"detail", "code"}
        for secret in (b"hunter2", b"DATABASE_URL", b"REDIS_URL", b"MQTT_URL", b"Traceback"):
            assert secret not in body

        status, headers, body = server.request("GET", "/no/such/page")
        assert status == 404
        assert headers["Content-Type"] == "application/json"
        assert b"api/v1/" not in body and b"healthz" not in body
    finally:
        stop_process(server.process)
