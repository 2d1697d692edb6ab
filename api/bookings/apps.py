from django.apps import AppConfig


class BookingsConfig(AppConfig):
    name = "api.bookings"
    label = "bookings"

    def ready(self):
        # Imported here, when the models are ready (Django's idiom for app wiring).
        from api.access import alerts
        from api.bookings import receivers, rules_cache  # noqa: F401 (receivers connect them)
        from api.bookings.conflicts import bookings_in_closures

        alerts.source(bookings_in_closures)
        rules_cache.connect()
