import time

from django.core.management.base import BaseCommand, CommandError

from tousu.ops.seed import DEMO_PASSWORD, seed_complaints, seed_reference


class Command(BaseCommand):
    help = "Load demo data: departments, one user per role, categories, regions and N complaints."

    def add_arguments(self, parser):
        parser.add_argument(
            "--complaints", type=int, default=10_000, help="how many complaints (default 10,000)"
        )
        parser.add_argument("--seed", type=int, default=20261123, help="random seed (same seed, same data)")

    def handle(self, *args, **options):
        count = options["complaints"]
        if count < 0:
            raise CommandError("--complaints must be 0 or more")
        started = time.monotonic()
        users = seed_reference()
        self.stdout.write(f"reference data ready: {len(users)} users (password {DEMO_PASSWORD!r})")
        if count:
            made = seed_complaints(count, seed=options["seed"], progress=self.stdout.write)
            self.stdout.write(
                f"seeded complaints={made['complaints']} events={made['events']} customers={made['customers']} "
                f"in {time.monotonic() - started:.1f}s"
            )
