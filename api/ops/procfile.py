"""The Procfile: every process of the stack, one `name: command` a line.

`manage.py up` starts them all; the containers in docker-compose.yml run one each with
`python -m api.ops.procfile NAME`, so both always run exactly the Procfile's commands. A queue
can also be given its own worker (processes.md): `python -m api.ops.procfile worker -Q locks`
runs the Procfile's worker line with its `-Q` queues replaced, and nothing else changed.
"""

import os
import re
import sys
from pathlib import Path

PROCFILE = Path(__file__).resolve().parent.parent.parent / "Procfile"
LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(\S.*)$")
QUEUES = re.compile(r"(?<=\s-Q\s)(\S+)")


def read(path: Path = PROCFILE) -> dict[str, str]:
    processes = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = LINE.match(line.strip())
        if not match:
            raise ValueError(f"{path}:{number}: expected `name: command`, got {line!r}")
        processes[match[1]] = match[2]
    return processes


def for_queues(command: str, queues: str) -> str:
    """A worker command consuming only `queues` (comma-separated, from those it names)."""
    match = QUEUES.search(command)
    if match is None:
        raise ValueError(f"not a worker command with -Q: {command!r}")
    known = match[1].split(",")
    wanted = queues.split(",")
    unknown = [queue for queue in wanted if queue not in known]
    if unknown or not all(wanted):
        raise ValueError(f"unknown queue {','.join(unknown)!r}; the worker consumes {match[1]}")
    return QUEUES.sub(",".join(wanted), command, count=1)


def command(argv: list[str], processes: dict[str, str] | None = None) -> str:
    """The command for `NAME` or `worker -Q QUEUES`, as the containers name it."""
    processes = read() if processes is None else processes
    if len(argv) == 1 and argv[0] in processes:
        return processes[argv[0]]
    if len(argv) == 3 and argv[0] == "worker" and argv[1] == "-Q" and "worker" in processes:
        return for_queues(processes["worker"], argv[2])
    raise ValueError(
        f"usage: python -m api.ops.procfile {{{','.join(processes)}}} | worker -Q QUEUES"
    )


def environment() -> dict[str, str]:
    """This process's environment, for running Procfile commands."""
    environment = dict(os.environ)
    # The Procfile says `python`, `gunicorn` and `celery`: this interpreter's, even when its
    # virtualenv is not activated (the README runs .venv/bin/python directly).
    bin_dir = str(Path(sys.executable).parent)
    environment["PATH"] = os.pathsep.join([bin_dir, environment.get("PATH", os.defpath)])
    return environment


def shell(command: str) -> list[str]:
    # The shell expands ${PORT:-8000} and the like, as honcho and foreman do; `exec` leaves the
    # command itself to receive the signals.
    return ["/bin/sh", "-c", f"exec {command}"]


if __name__ == "__main__":
    try:
        argv = shell(command(sys.argv[1:]))
    except ValueError as error:
        sys.exit(str(error))
    os.execve(argv[0], argv, environment())
