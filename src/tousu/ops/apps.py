from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Commands that run Tousu: demo, serve, worker, seed."""

    name = "tousu.ops"
    label = "ops"
