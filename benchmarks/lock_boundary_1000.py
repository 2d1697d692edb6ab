"""How long from a slot boundary until every lock has confirmed: 1,000 grants end at once.

    DATABASE_URL=postgres://root@127.0.0.1:5432/postgres REDIS_URL=redis://127.0.0.1:6379/0 \
    MQTT_URL=mqtt://127.0.0.1:1883 .venv/bin/python -m benchmarks.lock_boundary_1000 [N]

A fresh database (`flexi_lockbench_<pid>` on the server of DATABASE_URL), its own namespace and
topic root; the Procfile's worker (concurrency 2) on the `locks` queue and the gateway as
processes; N simulated locks (default 1,000) in this process, one MQTT connection each. Each
lock holds one provisioned grant; all of them end at the boundary B. At B the script runs what
beat's `locks.sweep` entry runs, then waits until the gateway has recorded every revocation as
confirmed by its lock (a `reported` without the grant). Beat's 10 s interval adds its phase
(0 to 10 s) on top of the figure.
"""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent


def main(count: int) -> None:
    tag = f"lockbench{os.getpid()}"
    server = urlsplit(os.environ["DATABASE_URL"])
    database_url = urlunsplit(server._replace(path=f"/flexi_{tag}"))
    admin_url = urlunsplit(server._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "flexi_{tag}"')
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "FLEXISPACE_NAMESPACE": tag,
        "MQTT_TOPIC_ROOT": f"{tag}/flexispace/v1",
        "DJANGO_SETTINGS_MODULE": "api.settings",
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update(env)
    children = []
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        run(count, env, children)
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.wait(20)
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "flexi_{tag}" WITH (FORCE)')


def start_process(name: str, argv: list[str], env: dict, ready: str, children: list):
    log = ROOT / "var" / f"{env['FLEXISPACE_NAMESPACE']}-{name}.log"
    log.parent.mkdir(exist_ok=True)
    child = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    children.append(child)
    deadline = time.monotonic() + 60
    while ready not in log.read_text():
        if child.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def run(count: int, env: dict, children: list) -> None:
    import logging

    from django.conf import settings
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.db.backends.postgresql.psycopg_any import DateTimeTZRange
    from django.utils import timezone

    from api.access import services
    from api.access.choices import GrantState
    from api.access.models import Grant, Lock
    from api.accounts.models import User
    from api.bookings.models import Booking
    from api.catalogue.models import Space, Venue
    from devices import protocol
    from devices.simulator import Fleet, VirtualLock

    logging.getLogger("simulator").setLevel(logging.WARNING)
    logging.getLogger("api.access.services").setLevel(logging.WARNING)
    tag = env["FLEXISPACE_NAMESPACE"]
    now = timezone.now().replace(microsecond=0)
    user = User.objects.create(email=f"{tag}@example.org", name="Bench")
    venue = Venue.objects.create(name="Bench", address="-", district="-", latitude=60, longitude=25)
    spaces = Space.objects.bulk_create(
        Space(venue=venue, name=f"room {n}", capacity=10) for n in range(count)
    )
    password = make_password("bench")
    locks = Lock.objects.bulk_create(
        Lock(id=f"{tag}-{n}", space=space, password_hash=password) for n, space in enumerate(spaces)
    )
    start, end = now - timedelta(minutes=30), now + timedelta(hours=1)
    bookings = Booking.objects.bulk_create(
        Booking(space=space, user=user, start=start, end=end, party_size=1,
                blocked=DateTimeTZRange(start, end, "[)"))
        for space in spaces
    )  # fmt: skip
    Grant.objects.bulk_create(
        Grant(lock=lock, booking=booking, code=f"{n % 10**6:06d}", valid_from=start,
              valid_until=end, slot_start=start, slot_end=end, queued_at=now, started_at=now,
              state=GrantState.PENDING)
        for n, (lock, booking) in enumerate(zip(locks, bookings, strict=True))
    )  # fmt: skip

    python = sys.executable
    start_process(
        "worker",
        [python, "-m", "celery", "-A", "workers", "worker", "-Q", "locks", "--concurrency", "2",
         "--hostname", f"{tag}@%h", "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
        env, "ready.", children,
    )  # fmt: skip
    start_process("gateway", [python, "manage.py", "gateway"], env, "gateway subscribed", children)

    fleet = Fleet(settings.MQTT_TOPIC_ROOT, keepalive=60).start()
    public_key = services.public_key()
    began = time.monotonic()
    for lock in locks:
        fleet.add(VirtualLock(lock.id, public_key, settings.LOCK_SIGNING_KID))
    wait(lambda: Lock.objects.filter(online=True).count() == count, "every lock online", 120)
    print(f"{count} locks connected in {time.monotonic() - began:.1f} s")
    try:
        with transaction.atomic():
            services.request_publish([lock.id for lock in locks])
        wait(lambda: Grant.objects.filter(state=GrantState.ACTIVE).count() == count, "provisioned")
        print("every grant is on its lock (active)")

        boundary = timezone.now().replace(microsecond=0) + timedelta(seconds=2)
        Grant.objects.update(valid_until=boundary, slot_end=boundary)
        time.sleep(max(0.0, (boundary - timezone.now()).total_seconds()))
        t0 = time.monotonic()
        result = services.sweep()  # what beat's `locks.sweep` entry runs
        swept = time.monotonic() - t0
        revoked = Grant.objects.filter(state=GrantState.REVOKED)
        wait(lambda: revoked.count() == count, "every revocation confirmed", 120, 0.02)
        confirmed = time.monotonic() - t0
        assert Lock.objects.filter(applied_version__lt=F_desired()).count() == 0
        print(f"sweep: {result} in {swept:.2f} s")
        print(
            f"RESULT: {count} grants ending at one boundary: every lock confirmed "
            f"{confirmed:.2f} s after the sweep began (the sweep itself {swept:.2f} s)"
        )
    finally:
        fleet.stop(forget=True)
        from devices.mqtt import publisher

        mqtt = publisher()
        mqtt.wait(
            [mqtt.publish(protocol.topic(settings.MQTT_TOPIC_ROOT, lock.id, "desired"), b"", True)
             for lock in locks]
        )  # fmt: skip


def F_desired():
    from django.db.models import F

    return F("desired_version")


def wait(predicate, what: str, timeout: float = 60, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(interval)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1000)
