"""`tousu apikey create|list|revoke`: manage the TMF621 API's keys. A key is printed once."""

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tousu.api.keys import apikey_create, apikey_revoke
from tousu.api.models import ApiKey, Scope
from tousu.audit.configadmin import config_audit, config_snapshot
from tousu.common.errors import TousuError
from tousu.common.origin import COMMAND
from tousu.complaints.choices import Channel


class Command(BaseCommand):
    help = "Create, list and revoke API keys for the TMF621 API."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a key and print it (once)")
        create.add_argument("--name", required=True)
        create.add_argument("--channel", required=True, choices=Channel.values)
        create.add_argument("--scope", default=Scope.READ, choices=Scope.values)
        create.add_argument(
            "--all-channels", action="store_true", help="read and change cases of every channel"
        )
        create.add_argument("--rate-limit", type=int, default=None, help="requests per minute")
        sub.add_parser("list", help="list keys (never their secrets)")
        revoke = sub.add_parser("revoke", help="revoke a key by name or prefix")
        revoke.add_argument("key", help="name or prefix")

    def handle(self, *args, **options):
        try:
            if options["action"] == "create":
                key, token = apikey_create(
                    name=options["name"],
                    channel=options["channel"],
                    scope=options["scope"],
                    all_channels=options["all_channels"],
                    rate_limit=options["rate_limit"],
                )
                config_audit(
                    actor=None,
                    obj=key,
                    action="created",
                    before={},
                    after=config_snapshot(key),
                    origin=COMMAND,
                )
                self.stderr.write(
                    f"Created API key '{key.name}' ({key.channel}, {key.scope}). It is shown once:"
                )
                self.stdout.write(token)
            elif options["action"] == "list":
                for key in ApiKey.objects.order_by("name"):
                    state = "active" if key.is_active else "revoked"
                    channels = "all channels" if key.all_channels else key.channel
                    self.stdout.write(
                        f"{key.prefix}  {key.name}  {channels}  {key.scope}  {state}  {key.created_at:%Y-%m-%d}"
                    )
            else:
                found = (
                    ApiKey.objects.filter(name=options["key"]).first()
                    or ApiKey.objects.filter(prefix=options["key"]).first()
                )
                before = config_snapshot(found)
                key = apikey_revoke(name_or_prefix=options["key"])
                if before.get("is_active") == "True":
                    config_audit(
                        actor=None,
                        obj=key,
                        action="revoked",
                        before=before,
                        after=config_snapshot(key),
                        origin=COMMAND,
                    )
                self.stdout.write(f"Revoked '{key.name}' ({key.prefix}).")
        except TousuError as exc:
            raise CommandError(str(exc)) from None
