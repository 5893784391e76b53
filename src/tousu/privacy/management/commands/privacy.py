"""``tousu privacy erase --phone P --reason TEXT --confirm``: erase a customer's personal data."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tousu.common.errors import TousuError
from tousu.common.origin import Origin
from tousu.privacy.erasure import privacy_erase, storage_wipe

COMMAND = Origin(via="command")


class Command(BaseCommand):
    help = "Erase the personal data of the customer known by a phone number (PIPL)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        erase = sub.add_parser("erase", help="erase one customer's personal data everywhere")
        erase.add_argument("--phone", required=True)
        erase.add_argument("--reason", required=True, help="why (kept, masked, in the erasure record)")
        erase.add_argument("--confirm", action="store_true", help="really erase (it cannot be undone)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "erase":
                self._erase(options)
        except TousuError as exc:
            raise CommandError(exc.message) from None

    def _erase(self, options: dict[str, Any]) -> None:
        if not options["confirm"]:
            raise CommandError("erasure cannot be undone: add --confirm to erase")
        record = privacy_erase(phone=options["phone"], reason=options["reason"], actor=None, origin=COMMAND)
        storage_wipe()
        counts = ", ".join(f"{k} {v}" for k, v in record.counts.items() if v)
        self.stdout.write(f"erased (record {record.pk}): {counts or 'nothing else held'}")
