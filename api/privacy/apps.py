from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    name = "api.privacy"
    label = "privacy"
