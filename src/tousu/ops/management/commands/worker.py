from django.core.management.base import BaseCommand, CommandError

from tousu.ops.worker import Worker


class Command(BaseCommand):
    help = "Run the background worker (notifications; SLA sweeps). Stops cleanly on SIGTERM or Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run every job once and exit")
        parser.add_argument("--interval", type=float, default=None, help="seconds between idle polls")

    def handle(self, *args, **options):
        if options["interval"] is not None and options["interval"] <= 0:
            raise CommandError("--interval must be a positive number of seconds")
        worker = Worker(interval=options["interval"])
        if options["once"]:
            handled = worker.run_once()
            self.stdout.write(f"handled={handled}")
            return
        worker.run()
