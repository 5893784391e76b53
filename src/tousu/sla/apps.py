from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SlaConfig(AppConfig):
    name = "tousu.sla"
    label = "sla"
    verbose_name = _("Time limits (SLA)")

    def ready(self) -> None:
        from tousu.sla import checks  # noqa: F401 - registers the holiday-data check
