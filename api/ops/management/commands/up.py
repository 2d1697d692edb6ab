"""`manage.py up`: the whole stack in one terminal, with demo data and the simulated fleet."""

import contextlib
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings
from django.core.management import get_commands
from django.core.management.base import BaseCommand, CommandError

from api import embedded
from api.ops import probes, procfile

# Between SIGTERM and SIGKILL: long enough for a Celery task or a request to finish.
GRACE = 10.0
SERVICES = [
    ("DATABASE_URL", probes.check_database),
    ("REDIS_URL", probes.check_redis),
    ("MQTT_URL", probes.check_mqtt),
]


class Command(BaseCommand):
    help = (
        "Check the services, migrate, load the demo data, then run every other Procfile "
        "process until Ctrl-C."
    )

    def handle(self, **options):
        self.output = threading.Lock()
        self.signals = 0
        self.children: dict[str, subprocess.Popen] = {}
        self.pumps: list[threading.Thread] = []
        signal.signal(signal.SIGINT, self.on_signal)
        signal.signal(signal.SIGTERM, self.on_signal)
        try:
            self.check_services()
            processes = procfile.read()
            if "release" in processes:
                self.run_once("release", procfile.shell(processes.pop("release")))
            self.run_once("demo_data", ["python", "manage.py", "demo_data"])
            for name, command in processes.items():
                self.start(name, procfile.shell(command))
            failed = self.supervise()
        finally:
            self.stop_children()
            stopped = embedded.stop()
            if stopped:
                self.say("up", f"stopped the embedded {', '.join(stopped)}")
        if failed:
            raise CommandError(f"{failed} exited unexpectedly; stopped the rest.")

    def on_signal(self, signum, frame):
        # The first Ctrl-C stops the processes gently, a second one without waiting.
        self.signals += 1

    def check_services(self):
        for variable, check in SERVICES:
            error = check()
            if error:
                raise CommandError(f"{variable}={_redacted(getattr(settings, variable))}: {error}")
            self.say("up", f"{variable} answers")
        if embedded.MQTT_LABEL in embedded.in_use():
            self.say(
                "up",
                "the embedded MQTT broker is for development only: it accepts anonymous clients "
                "and checks no lock's password or topics. Production runs Mosquitto with "
                "`manage.py broker_config` (README: a production lock broker).",
            )

    def run_once(self, name: str, argv: list[str]):
        child = self.start(name, argv)
        if child is None:
            return
        while child.poll() is None:
            if self.signals:
                raise CommandError(f"interrupted during {name}")
            time.sleep(0.1)
        del self.children[name]
        if child.returncode != 0:
            raise CommandError(f"{name} failed with exit code {child.returncode}")

    def start(self, name: str, argv: list[str]) -> subprocess.Popen | None:
        missing = _missing_management_command(argv)
        if missing:
            self.say("up", f"skipping {name}: there is no `{missing}` management command yet")
            return None
        # A session of its own for each, so that stopping one reaches all its descendants and a
        # Ctrl-C at the terminal reaches only this command, which then stops them in order.
        child = subprocess.Popen(
            argv,
            cwd=settings.BASE_DIR,
            env=_child_environment(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.children[name] = child
        pump = threading.Thread(target=self.pump, args=(name, child.stdout), daemon=True)
        pump.start()
        self.pumps.append(pump)
        return child

    def supervise(self) -> str | None:
        """Wait for a signal, or for a process to die; return the name of one that died."""
        port = int(os.environ.get("PORT", "8000"))
        announced = "api" not in self.children
        while not self.signals:
            for name, child in self.children.items():
                if child.poll() is not None:
                    self.say("up", f"{name} exited with code {child.returncode}")
                    return name
            if not announced and _answers(port):
                self.announce(port)
                announced = True
            time.sleep(0.2)
        return None

    def announce(self, port: int):
        base = f"http://127.0.0.1:{port}"
        self.say("up", f"FlexiSpace is up: open {base}/ to find a space and book it.")
        self.say("up", f"  operators {base}/operator/")
        self.say("up", f"  API       {base}/api/v1/")
        self.say("up", f"  API docs  {base}/api/v1/docs/")
        self.say("up", f"  admin     {base}/admin/")
        self.say("up", "  Ctrl-C stops everything.")

    def stop_children(self):
        if not self.children:
            return
        self.say("up", f"stopping {', '.join(self.children)}")
        self.signal_groups(signal.SIGTERM)
        deadline = time.monotonic() + GRACE
        while self.groups_alive() and time.monotonic() < deadline and self.signals < 2:
            time.sleep(0.1)
        left = self.groups_alive()
        if left:
            self.say("up", f"killing {', '.join(left)}")
            self.signal_groups(signal.SIGKILL)
            while self.groups_alive():
                time.sleep(0.05)
        for pump in self.pumps:
            pump.join(timeout=1)
        self.children.clear()

    def signal_groups(self, signum: int):
        for child in self.children.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signum)

    def groups_alive(self) -> list[str]:
        alive = []
        for name, child in self.children.items():
            child.poll()  # reaps the leader, which would otherwise keep its group alive
            try:
                os.killpg(child.pid, 0)
                alive.append(name)
            except ProcessLookupError:
                pass
        return alive

    def pump(self, name: str, stream):
        for line in iter(stream.readline, b""):
            self.say(name, line.decode(errors="replace").rstrip())
        stream.close()

    def say(self, name: str, text: str):
        with self.output:
            sys.stdout.write(f"{time.strftime('%H:%M:%S')} {name:<10}| {text}\n")
            sys.stdout.flush()


def _child_environment() -> dict[str, str]:
    # Lines reach the terminal as they are written, not when a buffer fills.
    return {**procfile.environment(), "PYTHONUNBUFFERED": "1"}


def _missing_management_command(argv: list[str]) -> str | None:
    """The name of a `python manage.py NAME` that does not exist (yet), or None."""
    words = shlex.split(argv[-1]) if argv[0] == "/bin/sh" else argv
    if words[:1] == ["exec"]:
        words = words[1:]
    is_manage = len(words) > 2 and words[0] in ("python", "python3") and words[1] == "manage.py"
    if is_manage and words[2] not in get_commands():
        return words[2]
    return None


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
