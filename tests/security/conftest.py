"""Production processes for the security tests: the Procfile's `api` line (gunicorn) started
with DEBUG unset and the variables the README lists for production set, on a free port."""

import http.client
import os
import secrets
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from api.ops import procfile
from devices import protocol
from tests.conftest import start_process, stop_process, wait_for

ROOT = Path(__file__).resolve().parents[2]
# What a TLS-terminating proxy on this machine adds; gunicorn trusts it from 127.0.0.1.
BEHIND_TLS = {"X-Forwarded-Proto": "https"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def production_environment(**changes: str | None) -> dict[str, str | None]:
    """The README's production variables, DEBUG unset; a change to None unsets a variable."""
    environment = {
        "DJANGO_SETTINGS_MODULE": "api.settings",
        "DEBUG": None,
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOCK_SIGNING_KEY": protocol.generate_private_key(),
        "PUBLIC_URL": "https://flexispace.example",
        "PATH": procfile.environment()["PATH"],
    }
    environment.update(changes)
    return environment


def run_manage(*args: str, **changes: str | None) -> subprocess.CompletedProcess:
    """`python manage.py ARGS` in production configuration (with `changes`)."""
    environment = {**os.environ, **production_environment(**changes)}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={name: value for name, value in environment.items() if value is not None},
        capture_output=True,
        text=True,
        timeout=120,
    )


@dataclass
class Server:
    port: int
    process: subprocess.Popen

    def request(self, method: str, path: str, body=None, headers=None, timeout=10.0):
        """One request on a connection of its own: (status, headers, body)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body, {**BEHIND_TLS, **(headers or {})})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def log(self) -> str:
        return self.process.log_path.read_text()


def start_api(name: str = "api", **changes: str | None) -> Server:
    """The Procfile's `api` process on a free port, in production configuration."""
    port = free_port()
    process = start_process(
        name,
        procfile.shell(procfile.read()["api"]),
        ready="Booting worker",
        **production_environment(PORT=str(port), **changes),
    )
    server = Server(port, process)
    wait_for(lambda: _answers(server), timeout=30, message=f"{name} to answer")
    return server


def _answers(server: Server) -> bool:
    try:
        return server.request("GET", "/healthz", timeout=2)[0] == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def api_server(django_db_setup, django_db_blocker):
    """One production API process for a module's tests, against the test database; tests that
    use it need `transactional_db`, as it sees only committed rows."""
    server = start_api()
    yield server
    stop_process(server.process)
