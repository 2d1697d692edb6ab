from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "api.notifications"
    label = "notifications"
    verbose_name = "Notifications, webhooks and calendars"

    def ready(self):
        from api.notifications import receivers  # noqa: F401  (connects the access signals)
