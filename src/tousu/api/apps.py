from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "tousu.api"
    label = "api"
    verbose_name = "TMF621 API"
