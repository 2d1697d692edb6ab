"""Reading the settings only reads: no server started, no file written, nothing connected.

Each case runs in a fresh interpreter with an audit hook (PEP 578) that records every process
started, every file opened for writing, every directory made and every socket connected, so
the test sees what the import does, not what the code says it does.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
SERVICES = ("DATABASE_URL", "REDIS_URL", "MQTT_URL")

PROBE = """
import json, os, sys

WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
ACTIONS = {"subprocess.Popen", "os.fork", "os.forkpty", "os.posix_spawn", "os.spawn",
           "os.system", "os.exec", "os.mkdir", "os.rename", "os.remove", "socket.connect"}
done = []


def audit(event, args):
    if event == "open" and isinstance(args[2], int) and args[2] & WRITE:
        done.append(f"open for writing {args[0]}")
    elif event in ACTIONS:
        done.append(f"{event} {args[0]!r}")


sys.addaudithook(audit)
{action}
print("AUDIT " + json.dumps(done))
"""


def audited(action: str, **env) -> list[str]:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in (*SERVICES, "LOCK_SIGNING_KEY", "DJANGO_SETTINGS_MODULE")
    }
    environment.update(PYTHONDONTWRITEBYTECODE="1", **env)
    result = subprocess.run(
        [sys.executable, "-c", PROBE.replace("{action}", action)],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("AUDIT "))
    return json.loads(line.removeprefix("AUDIT "))


def test_importing_the_settings_without_service_urls_starts_and_writes_nothing():
    assert audited("import api.settings") == []


def test_importing_the_settings_with_service_urls_starts_and_writes_nothing():
    urls = {
        "DATABASE_URL": "postgres://root@127.0.0.1:5432/flexispace_ci",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "MQTT_URL": "mqtt://127.0.0.1:1883",
    }
    assert audited("import api.settings", **urls) == []


@pytest.mark.parametrize("command", ["check", "help"])
def test_a_command_that_connects_to_nothing_starts_no_server(command):
    action = (
        "import runpy; sys.argv = ['manage.py', '{command}']; "
        "runpy.run_path('manage.py', run_name='__main__')"
    ).replace("{command}", command)
    done = audited(action)
    assert not [event for event in done if not event.startswith("open for writing /dev/")], done
