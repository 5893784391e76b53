from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class QualityConfig(AppConfig):
    name = "tousu.quality"
    verbose_name = _("Quality inspection")
    default_auto_field = "django.db.models.BigAutoField"
