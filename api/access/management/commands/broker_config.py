import glob
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from api.access import broker
from api.access.management.commands.broker_sync import enrolled_passwords

# Where Debian, Alpine (the eclipse-mosquitto image) and source builds put the plugin.
PLUGIN_PATHS = (
    "/usr/lib/*/mosquitto_dynamic_security.so",
    "/usr/lib/mosquitto_dynamic_security.so",
    "/usr/local/lib/mosquitto_dynamic_security.so",
)


def installed_plugin() -> str | None:
    for pattern in PLUGIN_PATHS:
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    return None


class Command(BaseCommand):
    help = (
        "Write a complete Mosquitto 2 configuration into DIR: mosquitto.conf (no anonymous "
        "access, persistence in DIR, the dynamic-security plugin) and the plugin's file with "
        "the admin account of MQTT_ADMIN_URL, the backend account of MQTT_URL and the account "
        "and role of every enrolled lock (their passwords are derived from LOCK_SIGNING_KEY "
        "and the database), so a new broker for an existing fleet starts complete. Then run "
        "`mosquitto -c DIR/mosquitto.conf`; `manage.py broker_sync` is only for later drift."
    )

    def add_arguments(self, parser):
        parser.add_argument("directory")
        parser.add_argument("--port", type=int, default=1883)
        parser.add_argument(
            "--bind", default="127.0.0.1", help="The listener's address (default 127.0.0.1)."
        )
        parser.add_argument(
            "--plugin",
            default=None,
            help="The plugin's path as the broker sees it (default: found on this machine).",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Overwrite a configuration in DIR (the locks' accounts are written again from "
            "the database; a lock enrolled before passwords were derived loses its account).",
        )

    def handle(self, directory, port, bind, plugin, force, **options):
        directory = Path(directory).resolve()
        if (directory / "mosquitto.conf").exists() and not force:
            raise CommandError(
                f"{directory} holds a broker configuration already; --force replaces it "
                "(its lock accounts written again from the enrolled locks)"
            )
        plugin = plugin or installed_plugin()
        if plugin is None:
            raise CommandError(
                "the dynamic-security plugin is not installed here (Debian: apt-get install "
                "mosquitto); name the broker's copy with --plugin"
            )
        try:
            locks = enrolled_passwords(self.stderr)
        except DatabaseError as error:
            # A broker may be configured before the database is up or migrated: it starts with
            # the two accounts, and broker_sync gives it the locks' later.
            self.stderr.write(
                f"no enrolled locks read ({str(error).strip()[:200]}): the file holds the admin "
                "and backend accounts only; run broker_sync once the database is up"
            )
            locks = {}
        try:
            written = broker.write_config(directory, port, bind, plugin, locks)
        except ValueError as error:
            raise CommandError(str(error)) from None
        for path in written:
            self.stdout.write(f"wrote {path}")
        self.stdout.write(f"with the accounts of {len(locks)} enrolled locks")
        self.stdout.write(f"run it: mosquitto -c {directory / 'mosquitto.conf'}")
