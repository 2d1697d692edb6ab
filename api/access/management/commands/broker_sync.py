from django.core.management.base import BaseCommand, CommandError

from api.access import broker


def enrolled_passwords(stderr) -> dict[str, str]:
    """The enrolled locks' passwords; each lock that has none to give is named on `stderr`."""
    passwords, underivable = broker.enrolled_passwords()
    for lock_id in underivable:
        stderr.write(
            f"lock {lock_id} was enrolled before passwords were derived: rotate its "
            "password (POST /api/v1/locks/{id}/rotate-password/) to give it an account"
        )
    return passwords


class Command(BaseCommand):
    help = (
        "Make the broker's lock accounts (dynamic security, through MQTT_ADMIN_URL) match the "
        "enrolled locks exactly: create the missing, delete the others, restore each lock's "
        "role and password. A broker from broker_config has them all already: this is for "
        "drift (a broker volume older than the database, accounts changed by hand)."
    )

    def handle(self, **options):
        if not broker.enabled():
            raise CommandError("MQTT_ADMIN_URL is unset: it names the broker's admin account")
        passwords = enrolled_passwords(self.stderr)
        try:
            counts = broker.sync(passwords)
        except broker.BrokerError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"broker accounts: {counts['created']} created, {counts['kept']} restored, "
            f"{counts['deleted']} deleted"
        )
