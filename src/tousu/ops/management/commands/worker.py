from django.core.management.base import BaseCommand, CommandError

from tousu.ops.worker import KINDS, Worker, parse_kinds


class Command(BaseCommand):
    help = (
        "Run the background worker (SLA sweeps, notifications, e-mail intake, triage, analytics). "
        "Any number may run on any machines; stops cleanly on SIGTERM or Ctrl-C."
    )

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run every job once and exit")
        parser.add_argument("--interval", type=float, default=None, help="seconds between idle polls")
        parser.add_argument(
            "--only",
            default="",
            metavar="KINDS",
            help=f"comma-separated kinds of work this process runs (default: all of {','.join(KINDS)})",
        )

    def handle(self, *args, **options):
        if options["interval"] is not None and options["interval"] <= 0:
            raise CommandError("--interval must be a positive number of seconds")
        try:
            kinds = parse_kinds(options["only"])
        except ValueError as exc:
            raise CommandError(f"--only: {exc}") from None
        worker = Worker(interval=options["interval"], kinds=kinds)
        if options["once"]:
            handled = worker.run_once()
            self.stdout.write(f"handled={handled}")
            return
        worker.run()
