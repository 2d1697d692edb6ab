"""`python -m api.ops.healthcheck KIND`: the containers' health checks (docker-compose.yml).

Standard library only, so a check every few seconds costs a few milliseconds, not a Django
start. Exit status 0 is healthy; anything else prints why.

- `api`: GET /healthz on $PORT, with a Host that ALLOWED_HOSTS admits;
- `metrics`: the process's metrics endpoint on $METRICS_PORT answers (worker, gateway);
- `beat`: that, and beat sent a periodic task within the last minute;
- `flower`: Flower's /healthcheck.
"""

import os
import sys
import time
import urllib.request

TIMEOUT = 5.0
# The shortest beat interval is 2 s (beat/schedule.py); a minute without a send is a dead beat.
BEAT_SILENCE = 60.0
BEAT_LAST_SENT = "flexispace_beat_last_sent_timestamp_seconds"


def fetch(url: str, host: str | None = None) -> str:
    request = urllib.request.Request(url, headers={"Host": host} if host else {})
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        return response.read().decode()


def allowed_host() -> str:
    """A host name ALLOWED_HOSTS accepts: its first entry, without a subdomain wildcard."""
    first = os.environ.get("ALLOWED_HOSTS", "").split(",")[0].strip()
    if first in ("", "*"):
        return "localhost"
    return first.lstrip(".")


def check(kind: str) -> str | None:
    """None when healthy, else the reason."""
    metrics_url = f"http://127.0.0.1:{os.environ.get('METRICS_PORT', '9100')}/metrics"
    if kind == "api":
        fetch(f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz", allowed_host())
    elif kind == "metrics":
        fetch(metrics_url)
    elif kind == "beat":
        sent = [
            float(line.split()[-1])
            for line in fetch(metrics_url).splitlines()
            if line.startswith(BEAT_LAST_SENT)
        ]
        if not sent or time.time() - max(sent) > BEAT_SILENCE:
            return f"beat sent no periodic task in the last {BEAT_SILENCE:.0f} s"
    elif kind == "flower":
        fetch(f"http://127.0.0.1:{os.environ.get('FLOWER_PORT', '5555')}/healthcheck")
    else:
        return f"unknown check {kind!r}; use api, metrics, beat or flower"
    return None


if __name__ == "__main__":
    try:
        reason = check(sys.argv[1] if len(sys.argv) > 1 else "")
    except OSError as error:
        reason = str(error)
    if reason:
        sys.exit(reason)
