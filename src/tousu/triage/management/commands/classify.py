"""``tousu classify --input FILE.csv --output FILE.csv [--text-column text]`` (``-`` = stdin/stdout).

Writes every input row unchanged plus category, subcategory, level, escalation_risk, confidence
and explanation. Needs no migrated database: without one it uses the shipped model.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterator
from itertools import islice
from typing import IO

from django.core.management.base import BaseCommand, CommandError

from tousu.triage import selectors

OUTPUT_COLUMNS = ["category", "subcategory", "level", "escalation_risk", "confidence", "explanation"]
BATCH = 2000


def _chunks(rows: Iterator[dict[str, str]], size: int) -> Iterator[list[dict[str, str]]]:
    while batch := list(islice(rows, size)):
        yield batch


class Command(BaseCommand):
    help = "Classify the complaints of a CSV file (category, level, escalation risk, explanation)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument("--input", required=True, help="CSV file to read, or - for standard input")
        parser.add_argument("--output", required=True, help="CSV file to write, or - for standard output")
        parser.add_argument("--text-column", default="text", help="column holding the complaint text")

    def handle(self, *args, input: str, output: str, text_column: str, **options):
        src: IO[str]
        if input == "-":
            src = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="")
        else:
            try:
                src = open(input, encoding="utf-8-sig", newline="")  # noqa: SIM115
            except OSError as exc:
                raise CommandError(f"cannot read {input}: {exc.strerror or exc}") from None
        try:
            reader = csv.DictReader(src)
            fields = reader.fieldnames or []
            if text_column not in fields:
                raise CommandError(
                    f"the input has no column '{text_column}' (columns: {', '.join(fields) or 'none'}); "
                    "name the text column with --text-column"
                )
            extra = [c for c in OUTPUT_COLUMNS if c not in fields]
            model = selectors.current_classifier()
            dst: IO[str]
            if output == "-":
                dst = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="", write_through=True)
            else:
                try:
                    dst = open(output, "w", encoding="utf-8", newline="")  # noqa: SIM115
                except OSError as exc:
                    raise CommandError(f"cannot write {output}: {exc.strerror or exc}") from None
            count = 0
            try:
                writer = csv.DictWriter(dst, fieldnames=[*fields, *extra], extrasaction="ignore")
                writer.writeheader()
                try:
                    for batch in _chunks(iter(reader), BATCH):
                        preds = model.predict_many([row.get(text_column) or "" for row in batch])
                        for row, pred in zip(batch, preds, strict=True):
                            out = pred.as_dict()
                            row.update({c: out[c] for c in OUTPUT_COLUMNS})
                            writer.writerow(row)
                        count += len(batch)
                except (csv.Error, UnicodeDecodeError) as exc:
                    raise CommandError(f"{input}: unreadable CSV after {count} rows ({exc})") from None
            finally:
                dst.flush()
                if output != "-":
                    dst.close()
                else:
                    dst.detach()
        finally:
            if input != "-":
                src.close()
            else:
                src.detach()
        self.stderr.write(f"classified {count} rows with model {model.meta.get('version', 'shipped')}")
