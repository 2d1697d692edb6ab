"""HTTP load: wrk with a Lua script that gives every request its own slot and token.

wrk is the lightest generator on a 2-core machine (C, epoll, two threads). Without it a full
run stops and says how to get it; a --quick run falls back to a small Python generator, so CI
never depends on apt.
"""

import http.client
import json
import re
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from benchmarks.harness import percentile

WRK_HINT = "wrk is not installed: `apt-get install wrk` (Debian/Ubuntu) or `brew install wrk`."

# Each wrk thread numbers its requests k = n * threads + thread_index, so the k are distinct
# across threads; request k asks for space spaces[k % #spaces] at slot k // #spaces.
LUA = """
local spaces = {%(spaces)s}
local tokens = {%(tokens)s}
local first = %(first)d
local step = %(step)d
local length = %(length)d
local threads = %(threads)d
local made = 0
local counter = 0

function setup(thread)
  thread:set("index", made)
  made = made + 1
end

function request()
  local k = counter * threads + (index or 0)
  counter = counter + 1
  local start = first + math.floor(k / #spaces) * step
  local body = string.format(
    '{"space":%%d,"start":"%%s","end":"%%s","party_size":2}',
    spaces[(k %% #spaces) + 1],
    os.date("!%%Y-%%m-%%dT%%H:%%M:%%SZ", start),
    os.date("!%%Y-%%m-%%dT%%H:%%M:%%SZ", start + length))
  local headers = {}
  headers["Content-Type"] = "application/json"
  headers["Authorization"] = "Token " .. tokens[(k %% #tokens) + 1]
  return wrk.format("POST", "%(path)s", headers, body)
end
"""


@dataclass
class LoadResult:
    tool: str
    requests: int
    seconds: float
    rate: float
    p50: float
    p99: float
    errors: int  # non-2xx answers, socket errors and timeouts

    def summary(self) -> str:
        return (
            f"{self.rate:.0f} req/s, p50 {self.p50 * 1000:.1f} ms, "
            f"p99 {self.p99 * 1000:.1f} ms, {self.requests} requests, {self.errors} errors"
        )


@dataclass
class SlotPlan:
    """What each request asks for: distinct (space, start) pairs, one token per request."""

    spaces: list[int]
    tokens: list[str]
    first: int  # Unix seconds of the first slot
    step: int = 3600
    length: int = 3600

    def body(self, k: int) -> tuple[str, str]:
        start = self.first + (k // len(self.spaces)) * self.step
        body = json.dumps(
            {
                "space": self.spaces[k % len(self.spaces)],
                "start": _utc(start),
                "end": _utc(start + self.length),
                "party_size": 2,
            }
        )
        return body, self.tokens[k % len(self.tokens)]


@dataclass
class IntakeLoad:
    """Intake's load: the same spaces, people, slots and wrk settings wherever it is sent."""

    seconds: int
    connections: int
    use_wrk: bool
    plan: SlotPlan
    warm: SlotPlan  # the warm-up asks for slots a month later, so none repeats a measured one

    WARM_OFFSET = 30 * 86400

    @classmethod
    def prepare(cls, quick: bool) -> "IntakeLoad":
        from benchmarks import seed

        use_wrk = have_wrk()
        if not use_wrk and not quick:
            raise RuntimeError(WRK_HINT + " A --quick run falls back to a Python generator.")
        spaces = seed.spaces(50 if quick else 500)
        people = seed.users(64)
        plan = SlotPlan(
            spaces=[s.pk for s in spaces],
            tokens=[p.token_key for p in people],
            first=int(seed.next_hour(timedelta(hours=2)).timestamp()),
        )
        warm = SlotPlan(plan.spaces, plan.tokens, plan.first + cls.WARM_OFFSET)
        return cls(*((3, 8) if quick else (20, 32)), use_wrk, plan, warm)

    def describe(self) -> str:
        tool = "wrk (2 threads)" if self.use_wrk else "a Python generator"
        return f"{self.seconds} s at {self.connections} connections with {tool}"

    @property
    def warm_from(self) -> datetime:
        """Requests starting from here on are the warm-up's."""
        return datetime.fromtimestamp(self.warm.first, UTC) - timedelta(days=1)

    def run(self, url: str, warm_up: bool = False) -> LoadResult:
        if warm_up:
            return run(
                url, self.warm, 1 if self.seconds < 10 else 2, self.connections, self.use_wrk
            )
        return run(url, self.plan, self.seconds, self.connections, self.use_wrk)


def _utc(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def run(url: str, plan: SlotPlan, seconds: float, connections: int, use_wrk: bool) -> LoadResult:
    if use_wrk:
        return _wrk(url, plan, seconds, connections)
    return _python(url, plan, seconds, connections)


def _wrk(url: str, plan: SlotPlan, seconds: float, connections: int) -> LoadResult:
    threads = 2
    parts = urlsplit(url)
    script = LUA % {
        "spaces": ",".join(str(s) for s in plan.spaces),
        "tokens": ",".join(f'"{t}"' for t in plan.tokens),
        "first": plan.first,
        "step": plan.step,
        "length": plan.length,
        "threads": threads,
        "path": parts.path,
    }
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "requests.lua"
        path.write_text(script)
        completed = subprocess.run(
            [
                "wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
                "--timeout", "10s", "--latency", "-s", str(path),
                f"{parts.scheme}://{parts.netloc}",
            ],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    return parse_wrk(completed.stdout)


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _seconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> LoadResult:
    # wrk pads a figure that ends in one letter ("1.20s", "2.00m") with a trailing space so the
    # columns line up; a percentile of a second or more used to miss the match entirely.
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, re.M))
    total, seconds = re.search(r"(\d+) requests in ([\d.]+\w+),", output).groups()
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errors = (int(non_2xx[1]) if non_2xx else 0) + (
        sum(int(n) for n in sockets.groups()) if sockets else 0
    )
    return LoadResult(
        tool="wrk",
        requests=int(total),
        seconds=_seconds(seconds),
        rate=float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1]),
        p50=_seconds(latency["50"]),
        p99=_seconds(latency["99"]),
        errors=errors,
    )


def _python(url: str, plan: SlotPlan, seconds: float, connections: int) -> LoadResult:
    """A closed-loop generator: one thread and one keep-alive connection per connection."""
    parts = urlsplit(url)
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    counter = iter(range(10**9))
    deadline = time.monotonic() + seconds

    def client():
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        mine = []
        while time.monotonic() < deadline:
            with lock:
                k = next(counter)
            body, token = plan.body(k)
            began = time.perf_counter()
            try:
                conn.request(
                    "POST",
                    parts.path,
                    body=body,
                    headers={"Content-Type": "application/json", "Authorization": f"Token {token}"},
                )
                response = conn.getresponse()
                response.read()
                ok = 200 <= response.status < 300
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
                ok = False
            mine.append(time.perf_counter() - began)
            if not ok:
                with lock:
                    errors[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    began = time.monotonic()
    workers = [threading.Thread(target=client) for _ in range(connections)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - began
    return LoadResult(
        tool="python",
        requests=len(latencies),
        seconds=elapsed,
        rate=len(latencies) / elapsed,
        p50=percentile(latencies, 0.5),
        p99=percentile(latencies, 0.99),
        errors=errors[0],
    )
