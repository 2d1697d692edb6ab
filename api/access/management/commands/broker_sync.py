from django.core.management.base import BaseCommand, CommandError

from api.access import broker
from api.access.models import Lock


class Command(BaseCommand):
    help = (
        "Make the broker's lock accounts (dynamic security, through MQTT_ADMIN_URL) match the "
        "enrolled locks exactly: create the missing, delete the others, restore each lock's "
        "role and password."
    )

    def handle(self, **options):
        if not broker.enabled():
            raise CommandError("MQTT_ADMIN_URL is unset: it names the broker's admin account")
        locks = dict(Lock.objects.values_list("id", "password_salt"))
        underivable = sorted(lock_id for lock_id, salt in locks.items() if not salt)
        passwords = {
            lock_id: broker.lock_password(lock_id, salt) for lock_id, salt in locks.items() if salt
        }
        try:
            counts = broker.sync(passwords)
        except broker.BrokerError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            f"broker accounts: {counts['created']} created, {counts['kept']} restored, "
            f"{counts['deleted']} deleted"
        )
        for lock_id in underivable:
            self.stderr.write(
                f"lock {lock_id} was enrolled before passwords were derived: rotate its "
                "password (POST /api/v1/locks/{id}/rotate-password/) to give it an account"
            )
