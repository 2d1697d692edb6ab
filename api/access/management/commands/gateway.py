import signal

from django.conf import settings
from django.core.management.base import BaseCommand

from api import metrics
from devices.gateway import Gateway


class Command(BaseCommand):
    help = "Ingest the lock fleet's reported, status, ack and events messages from MQTT."

    def handle(self, **options):
        gateway = Gateway()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *args: gateway.stop())
        metrics.serve(settings.METRICS_PORT)
        gateway.run()
