"""``tousu quality sample [--week YYYY-MM-DD]``: sample a week's closed cases for inspection now
(the worker does it by itself for last week once it is over). ``tousu quality defaults``: install
the default sampling rules and scorecard when there are none."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from tousu.common.errors import TousuError
from tousu.common.origin import COMMAND
from tousu.quality.selectors import local_zone, week_of
from tousu.quality.services import quality_defaults_install, sampling_run


class Command(BaseCommand):
    help = "Sample a week's closed cases for quality inspection, or install the default rules and card."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["sample", "defaults"])
        parser.add_argument("--week", help="the Monday of the week to sample (default: last week)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            if options["action"] == "defaults":
                quality_defaults_install()
                self.stdout.write("the default sampling rules and scorecard are in place")
                return
            if options["week"]:
                try:
                    week = date.fromisoformat(options["week"])
                except ValueError:
                    raise CommandError("give the week as YYYY-MM-DD (its Monday)") from None
            else:
                week = week_of(timezone.localdate(timezone.now(), local_zone())) - timedelta(days=7)
            result = sampling_run(week_start=week, actor=None, origin=COMMAND)
            n = result.run.picks.count()
            verb = "picked" if result.created else "were picked already"
            self.stdout.write(f"week of {week}: {n} cases {verb}")
        except TousuError as exc:
            raise CommandError(exc.message) from None
