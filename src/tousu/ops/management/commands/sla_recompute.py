from django.core.management.base import BaseCommand, CommandError

from tousu.accounts.models import User
from tousu.common.errors import TousuError
from tousu.common.origin import COMMAND
from tousu.complaints.services.deadlines import sla_recompute


class Command(BaseCommand):
    help = "Apply the current time-limit policies to every running clock (audited)."

    def add_arguments(self, parser):
        parser.add_argument("--as", dest="username", required=True, help="the supervisor or admin doing this")

    def handle(self, *args, **options):
        user = User.objects.filter(username=options["username"], is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {options['username']!r}")
        try:
            moved = sla_recompute(actor=user, origin=COMMAND)
        except TousuError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"recomputed clocks={moved}")
