"""`python -m benchmarks NAME [--quick]`: run one benchmark, or all, and record the figures.

The figures are printed and appended to benchmarks/RESULTS.md with the date, the commit and the
machine. Figures are never asserted; the exit status is 1 only when a correctness fact failed
(one winner, nothing lost) or a benchmark could not run.
"""

import argparse
import importlib
import os
import platform
import subprocess
import sys
import time
import traceback
from datetime import UTC, datetime

from benchmarks import harness

NAMES = [
    "intake",
    "allocation",
    "endtoend",
    "contention",
    "flexible",
    "boundary",
    "growth",
    "release",
]
RESULTS = harness.ROOT / "benchmarks" / "RESULTS.md"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("name", choices=[*NAMES, "all"])
    parser.add_argument("--quick", action="store_true", help="a tiny run, seconds long")
    parser.add_argument(
        "--no-record", action="store_true", help="print only; leave RESULTS.md alone"
    )
    args = parser.parse_args(argv)
    names = NAMES if args.name == "all" else [args.name]

    run = harness.Run()
    results: list[harness.Result] = []
    began = time.monotonic()
    # The code measured is the code at the start: commits made during a long run are not in it.
    commit = measured_commit()
    facts = ""
    try:
        run.prepare()
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        facts = machine_facts()
        print(f"benchmarks: {', '.join(names)}{' (quick)' if args.quick else ''}; {facts}")
        for name in names:
            harness.reset_database()
            harness.purge_queues()
            print(f"\n== {name} ==", flush=True)
            started = time.monotonic()
            try:
                result = importlib.import_module(f"benchmarks.{name}").run(args.quick)
            except harness.CorrectnessError as error:
                result = harness.Result(name, failures=[str(error)])
            except Exception as error:  # a benchmark that cannot run is reported, not hidden
                traceback.print_exc()
                result = harness.Result(name, failures=[f"could not run: {error!r}"])
            result.conditions.append(f"took {time.monotonic() - started:.0f} s")
            results.append(result)
            print(render(result), flush=True)
    finally:
        run.cleanup()
    facts += f"; load average after {os.getloadavg()[0]:.2f}"
    text = header(args, commit, facts, time.monotonic() - began) + "".join(
        render(r) for r in results
    )
    if not args.no_record:
        append(text)
        print(f"\nappended to {RESULTS.relative_to(harness.ROOT)}")
    failed = [f"{r.name}: {f}" for r in results for f in r.failures]
    for failure in failed:
        print(f"FAILED {failure}", file=sys.stderr)
    return 1 if failed else 0


def machine_facts() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0].split()[0]
    import redis

    client = redis.Redis.from_url(os.environ["REDIS_URL"])
    redis_version = client.info("server")["redis_version"]
    client.close()
    return (
        f"{os.cpu_count()} cores, Python {platform.python_version()}, PostgreSQL {postgres}, "
        f"Redis {redis_version}, MQTT broker {mqtt_version()}; "
        f"load average before {os.getloadavg()[0]:.2f}"
    )


def mqtt_version() -> str:
    """What the broker says in $SYS/broker/version (Mosquitto does), else 'unknown'."""
    import threading
    from urllib.parse import unquote, urlsplit

    import paho.mqtt.client as mqtt

    url = urlsplit(os.environ["MQTT_URL"])
    got = threading.Event()
    version = ["unknown"]

    def on_message(client, userdata, message):
        version[0] = message.payload.decode(errors="replace")
        got.set()

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    if url.username:
        client.username_pw_set(unquote(url.username), unquote(url.password or "") or None)
    client.on_message = on_message
    client.on_connect = lambda c, *a: c.subscribe("$SYS/broker/version")
    try:
        client.connect(url.hostname, url.port or 1883)
        client.loop_start()
        got.wait(2)
        client.loop_stop()
        client.disconnect()
    except OSError:
        pass
    return version[0]


def measured_commit() -> str:
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    if _git("status", "--porcelain"):
        commit += " with uncommitted changes"
    return commit


def header(args, commit: str, facts: str, seconds: float) -> str:
    mode = "quick" if args.quick else "full"
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"\n## {when} · `{args.name}` {mode} · commit {commit}\n\n"
        f"Machine: {facts}. Took {seconds:.0f} s.\n"
    )


def _git(*args) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=harness.ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def render(result: harness.Result) -> str:
    lines = [f"\n### {result.name}\n"]
    if result.conditions:
        lines.append("Conditions: " + "; ".join(result.conditions) + ".\n")
    if result.figures:
        lines += ["| figure | value |", "|---|---|"]
        lines += [f"| {label} | {value} |" for label, value in result.figures]
        lines.append("")
    for text, met in result.goals:
        mark = {True: "met", False: "MISSED", None: "not measured"}[met]
        lines.append(f"- goal {mark}: {text}")
    for failure in result.failures:
        lines.append(f"- **FAILED**: {failure}")
    for note in result.notes:
        lines.append(f"- note: {note}")
    return "\n".join(lines) + "\n"


def append(text: str) -> None:
    if not RESULTS.exists():
        RESULTS.write_text(
            "# Benchmark results\n\nAppended by `python -m benchmarks NAME [--quick]`; "
            "see the README.\n"
        )
    with RESULTS.open("a") as out:
        out.write(text)


if __name__ == "__main__":
    sys.exit(main())
