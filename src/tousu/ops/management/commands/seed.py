import time

from django.core.management.base import BaseCommand, CommandError

from tousu.complaints.models import Complaint
from tousu.complaints.services.deadlines import sla_rebuild
from tousu.complaints.states import OPEN
from tousu.knowledge.starter import starter_load
from tousu.ops.seed import DEMO_PASSWORD, seed_complaints, seed_reference
from tousu.sla.defaults import sla_bootstrap


class Command(BaseCommand):
    help = (
        "Load demo data: departments, one user per role, categories, regions, time limits and N complaints "
        "with their histories; open cases get the SLA clocks their histories imply."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--complaints", type=int, default=10_000, help="how many complaints (default 10,000)"
        )
        parser.add_argument("--seed", type=int, default=20261123, help="random seed (same seed, same data)")
        parser.add_argument(
            "--no-clocks",
            action="store_true",
            help="skip rebuilding SLA clocks of open cases (faster for big runs)",
        )

    def handle(self, *args, **options):
        count = options["complaints"]
        if count < 0:
            raise CommandError("--complaints must be 0 or more")
        started = time.monotonic()
        users = seed_reference()
        sla_bootstrap()
        starter_load()
        self.stdout.write(f"reference data ready: {len(users)} users (password {DEMO_PASSWORD!r})")
        if count:
            made = seed_complaints(count, seed=options["seed"], progress=self.stdout.write)
            clocks = 0
            if not options["no_clocks"]:
                open_ids = list(
                    Complaint.objects.filter(status__in=list(OPEN), clocks__isnull=True).values_list(
                        "pk", flat=True
                    )
                )
                clocks = sla_rebuild(complaint_ids=open_ids)
            self.stdout.write(
                f"seeded complaints={made['complaints']} events={made['events']} customers={made['customers']} "
                f"clocks={clocks} in {time.monotonic() - started:.1f}s"
            )
