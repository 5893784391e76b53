"""``tousu privacy erase --phone P --reason TEXT --confirm`` (erase a customer's personal data) and
``tousu privacy purge [--dry-run]`` (the retention run)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tousu.common.errors import TousuError
from tousu.common.origin import Origin
from tousu.privacy.erasure import privacy_erase, storage_wipe
from tousu.privacy.retention import retention_expired, retention_purge

COMMAND = Origin(via="command")


class Command(BaseCommand):
    help = "Erase the personal data of the customer known by a phone number (PIPL)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        erase = sub.add_parser("erase", help="erase one customer's personal data everywhere")
        erase.add_argument("--phone", required=True)
        erase.add_argument("--reason", required=True, help="why (kept, masked, in the erasure record)")
        erase.add_argument("--confirm", action="store_true", help="really erase (it cannot be undone)")
        purge = sub.add_parser("purge", help="anonymise what has passed its retention time")
        purge.add_argument("--dry-run", action="store_true", help="only count what would be purged")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "erase":
                self._erase(options)
            elif options["dry_run"]:
                for expired in retention_expired():
                    self.stdout.write(f"{expired.kind}: {expired.count} to purge")
            else:
                done = retention_purge()
                self.stdout.write(", ".join(f"{kind}: {n} purged" for kind, n in done.items()))
        except TousuError as exc:
            raise CommandError(exc.message) from None

    def _erase(self, options: dict[str, Any]) -> None:
        if not options["confirm"]:
            raise CommandError("erasure cannot be undone: add --confirm to erase")
        record = privacy_erase(phone=options["phone"], reason=options["reason"], actor=None, origin=COMMAND)
        storage_wipe()
        counts = ", ".join(f"{k} {v}" for k, v in record.counts.items() if v)
        self.stdout.write(f"erased (record {record.pk}): {counts or 'nothing else held'}")
