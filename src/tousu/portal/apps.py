from django.apps import AppConfig


class PortalConfig(AppConfig):
    name = "tousu.portal"
    label = "portal"
    verbose_name = "Customer portal"

    def ready(self) -> None:
        from tousu.portal import privacy  # noqa: F401  (registers its erasure handler)
