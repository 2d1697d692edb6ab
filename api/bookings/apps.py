from django.apps import AppConfig


class BookingsConfig(AppConfig):
    name = "api.bookings"
    label = "bookings"

    def ready(self):
        # Imported here, when the models are ready (Django's idiom for app wiring).
        from api.access import alerts
        from api.bookings import receivers  # noqa: F401 (connects them)
        from api.bookings.conflicts import bookings_in_closures

        alerts.source(bookings_in_closures)
