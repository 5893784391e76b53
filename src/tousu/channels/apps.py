from django.apps import AppConfig


class ChannelsConfig(AppConfig):
    name = "tousu.channels"
    label = "channels"
    verbose_name = "Intake channels"
