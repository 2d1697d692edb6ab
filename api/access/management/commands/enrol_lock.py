from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from api.access import services
from api.access.models import Lock
from api.catalogue.models import Space


class Command(BaseCommand):
    help = "Enrol a smart lock on a space and print its credentials (shown only once)."

    def add_arguments(self, parser):
        parser.add_argument("lock_id")
        parser.add_argument("--space", type=int, required=True)

    def handle(self, lock_id, space, **options):
        try:
            space = Space.objects.get(pk=space)
        except Space.DoesNotExist:
            raise CommandError(f"no space {space}") from None
        if Lock.objects.filter(id=lock_id).exists():
            raise CommandError(f"lock {lock_id} is enrolled already")
        lock, password = services.enrol_lock(lock_id, space)
        self.stdout.write(
            f"lock {lock.id} on space {space.pk} ({space})\n"
            f"  mqtt_username {lock.id}\n  mqtt_password {password}\n"
            f"  topic_root    {settings.MQTT_TOPIC_ROOT}\n  kid           {settings.LOCK_SIGNING_KID}\n"
            f"  public_key    {services.public_key()}\n"
            f"  public_key_pem\n{services.public_key_pem()}"
        )
