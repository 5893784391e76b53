"""``tousu audit seal | verify``: chain the new audit rows; check that none was changed or deleted."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tousu.audit.services import audit_seal, audit_verify


class Command(BaseCommand):
    help = "Seal new audit rows into the hash chain, or verify the chain (exit 1 when tampered with)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["seal", "verify"])

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "seal":
            total = 0
            while sealed := audit_seal():
                total += sealed
            self.stdout.write(f"sealed {total} audit rows")
            return
        audit_seal()
        problems = audit_verify()
        if problems:
            raise CommandError("the audit log was tampered with: " + "; ".join(problems))
        self.stdout.write("the audit log's hash chain is intact")
