from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "tousu.api"
    label = "api"
    verbose_name = "TMF621 API"

    def ready(self) -> None:
        from tousu.api import privacy  # noqa: F401  (registers its erasure handler)
