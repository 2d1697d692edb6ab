"""The Procfile: every process of the stack, one `name: command` a line.

`manage.py up` starts them all; the containers in docker-compose.yml run one each with
`python -m api.ops.procfile NAME`, so both always run exactly the Procfile's commands.
"""

import os
import re
import sys
from pathlib import Path

PROCFILE = Path(__file__).resolve().parent.parent.parent / "Procfile"
LINE = re.compile(r"^([A-Za-z0-9_-]+):\s*(\S.*)$")


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
    processes = read()
    if len(sys.argv) != 2 or sys.argv[1] not in processes:
        sys.exit(f"usage: python -m api.ops.procfile {{{','.join(processes)}}}")
    argv = shell(processes[sys.argv[1]])
    os.execve(argv[0], argv, environment())
