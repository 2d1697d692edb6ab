from django.apps import AppConfig


class AccessConfig(AppConfig):
    name = "api.access"
    label = "access"
    verbose_name = "Smart-lock access"
