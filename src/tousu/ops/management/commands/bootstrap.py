from django.core.management.base import BaseCommand

from tousu.ops.seed import seed_organisation
from tousu.sla.defaults import sla_bootstrap


class Command(BaseCommand):
    help = (
        "Load the reference data a new installation needs: departments, regions, the category tree, "
        "approval limits, business calendars, the default time limits and level rules. No users."
    )

    def handle(self, *args, **options):
        seed_organisation()
        created = sla_bootstrap()
        self.stdout.write(f"reference data ready ({created} time-limit policies created)")
