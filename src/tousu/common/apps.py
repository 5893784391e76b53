from django.apps import AppConfig


class CommonConfig(AppConfig):
    name = "tousu.common"
    label = "common"
