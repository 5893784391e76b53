from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ComplaintsConfig(AppConfig):
    name = "tousu.complaints"
    label = "complaints"
    verbose_name = _("Complaints")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from tousu.complaints.services._tickets import ticket_cache_clear

        # A migrated or flushed database (tests, benchmarks) has new counters: reserved numbers
        # of the old ones must not be issued.
        post_migrate.connect(ticket_cache_clear, dispatch_uid="tousu.ticket_cache_clear")
