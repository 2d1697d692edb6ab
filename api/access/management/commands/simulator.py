import signal
import threading
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import InterfaceError, OperationalError, connection

from api.access import services
from api.access.models import Lock
from devices.simulator import Fleet, VirtualLock

RESCAN_SECONDS = 10


class Command(BaseCommand):
    help = (
        "Run a simulated lock for every enrolled lock (development and demos only). "
        "Newly enrolled locks join within seconds."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--state-dir",
            default=None,
            help="Where each lock keeps its applied version and codes (default var/simulator/).",
        )
        parser.add_argument(
            "--no-visitors",
            dest="visitors",
            action="store_false",
            help="No simulated visitors. By default each booking's visitor types its code as "
            "the window opens and again after it has ended, and the log shows the outcome.",
        )
        parser.add_argument(
            "--rescan", type=float, default=RESCAN_SECONDS,
            help="Seconds between looks for newly enrolled locks.",
        )  # fmt: skip
        parser.add_argument("--skew", type=float, default=0.0, help="Clock skew of every lock, s.")
        for name in ("drop", "duplicate", "reorder"):
            parser.add_argument(
                f"--{name}", action="append", default=[], metavar="LOCK",
                help=f"Turn on the {name} switch for this lock (repeatable; 'all' for every lock).",
            )  # fmt: skip
        parser.add_argument(
            "--offline", action="append", default=[], metavar="LOCK",
            help="Keep this lock offline (repeatable).",
        )  # fmt: skip

    def handle(self, **options):
        state_dir = Path(
            options["state_dir"] or settings.VAR_DIR / "simulator" / settings.NAMESPACE
        )
        fleet = Fleet(
            settings.MQTT_TOPIC_ROOT,
            keepalive=settings.LOCK_KEEPALIVE_SECONDS,
            visitors=options["visitors"],
        ).start()
        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *args: stop.set())
        public_key = services.public_key()
        self.stdout.write(f"simulator: locks keep their state in {state_dir}")
        started = False
        while not stop.is_set():
            try:
                joining = list(
                    Lock.objects.exclude(id__in=list(fleet.connections)).values_list(
                        "id", flat=True
                    )
                )
            except (OperationalError, InterfaceError) as error:
                # The database went away (restarted, the connection terminated): the locks
                # run on without it; the next scan connects again.
                self.stderr.write(f"simulator: the database did not answer ({error}); later")
                connection.close()
                joining = []
            for lock_id in joining:
                fleet.add(
                    VirtualLock(lock_id, public_key, settings.LOCK_SIGNING_KID, state_dir=state_dir)
                )
                switches = {
                    name: True
                    for name in ("drop", "duplicate", "reorder", "offline")
                    if lock_id in options[name] or "all" in options[name]
                }
                if options["skew"]:
                    switches["skew"] = options["skew"]
                if switches:
                    fleet.set(lock_id, **switches)
                self.stdout.write(f"simulator: lock {lock_id} joined the fleet")
            if not started:
                self.stdout.write(f"simulator: running {len(fleet.connections)} locks", ending="\n")
                self.stdout.flush()
                started = True
            stop.wait(options["rescan"])
        fleet.stop()
