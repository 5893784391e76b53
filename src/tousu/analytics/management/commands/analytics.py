"""``tousu analytics rebuild | consume | import-subscribers FILE | import-hotline FILE``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tousu.analytics.services import analytics_consume, analytics_rebuild, hotline_import, subscribers_import
from tousu.common.errors import TousuError


class Command(BaseCommand):
    help = "Rebuild or advance the report rollups; import subscriber counts or hotline figures (CSV)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["rebuild", "consume", "import-subscribers", "import-hotline"])
        parser.add_argument("file", nargs="?", help="the CSV file to import (UTF-8)")
        parser.add_argument(
            "--restart",
            action="store_true",
            help="rebuild: start again rather than resume an interrupted rebuild",
        )
        parser.add_argument("--chunk", type=int, default=2000, help="rebuild: cases per transaction")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            if action == "rebuild":
                if options["chunk"] < 1:
                    raise CommandError("--chunk must be at least 1")
                cases = analytics_rebuild(
                    progress=self._bar, restart=options["restart"], chunk=options["chunk"]
                )
                self.stderr.write("")
                self.stdout.write(f"rebuilt the rollups of {cases:,} cases")
            elif action == "consume":
                total = 0
                while handled := analytics_consume():
                    total += handled
                self.stdout.write(f"applied {total:,} events")
            else:
                if not options["file"]:
                    raise CommandError("name the CSV file to import")
                text = Path(options["file"]).read_text(encoding="utf-8")
                importer = subscribers_import if action == "import-subscribers" else hotline_import
                self.stdout.write(f"imported {importer(text=text):,} rows")
        except (TousuError, OSError, UnicodeDecodeError) as exc:
            raise CommandError(str(getattr(exc, "message", exc))) from None

    def _bar(self, done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        self.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} cases", ending="")
        self.stderr.flush()
