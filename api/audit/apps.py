from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "api.audit"
    label = "audit"

    def ready(self):
        # Django's idiom for app wiring: the models are ready here.
        from api.audit import registry

        registry.register()
