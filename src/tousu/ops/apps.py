from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Commands that run Tousu: demo, serve, worker, seed."""

    name = "tousu.ops"
    label = "ops"

    def ready(self) -> None:
        from tousu.ops import checks  # noqa: F401 - registers `tousu check --deploy`'s checks
