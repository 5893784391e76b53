"""``tousu train [--force]``: learn from closed cases, compare with the model in force, activate
the new version only when it is not worse (or with --force)."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from tousu.common.errors import TousuError
from tousu.triage.services import SCORE_KEYS, model_train

STEPS = ["cases", "features", "subcategory", "level", "escalation", "scores", "done"]


class Command(BaseCommand):
    help = "Train a new classifier version on closed cases; activate it when it is not worse."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="activate the new version even if worse")
        parser.add_argument(
            "--cases-only", action="store_true", help="learn from the cases alone, without the shipped corpus"
        )

    def _progress(self, name: str) -> None:
        done = STEPS.index(name) + 1 if name in STEPS else 0
        width = 24
        filled = width * done // len(STEPS)
        end = "\n" if name == "done" else ""
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{len(STEPS)} {name:<12}{end}")
        sys.stderr.flush()

    def handle(self, *args, force: bool, cases_only: bool, **options):
        try:
            result = model_train(force=force, progress=self._progress, with_corpus=not cases_only)
        except TousuError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"{'score':<16}{'new':>8}{'current':>10}")
        for key in SCORE_KEYS:
            self.stdout.write(f"{key:<16}{result.scores[key]:>8.4f}{result.baseline[key]:>10.4f}")
        self.stdout.write(f"held-out cases: {result.scores['n']}")
        if result.activated:
            self.stdout.write(f"version {result.version.version} is now active")
        else:
            self.stdout.write(
                f"version {result.version.version} kept inactive (worse than the current model; --force to use it)"
            )
