from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "api.ops"
    label = "ops"
    verbose_name = "Operations"
