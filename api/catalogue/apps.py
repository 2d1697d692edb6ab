from django.apps import AppConfig


class CatalogueConfig(AppConfig):
    name = "api.catalogue"
    label = "catalogue"
