"""Import and export of articles for an operator's existing library: an xlsx sheet (one row per
article) or a folder of Markdown files (one ``<reference>.md`` per article, with a small header
of ``key: value`` lines between ``---`` marks). An import is all or nothing: any bad row refuses
the whole file, naming each row and its problem."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from openpyxl import Workbook, load_workbook

from tousu.common.errors import TousuError, ValidationError
from tousu.knowledge.models import Article
from tousu.knowledge.services import article_import

COLUMNS = [
    "reference",
    "title",
    "department",
    "categories",
    "business_type",
    "region",
    "tags",
    "valid_from",
    "valid_until",
    "body",
]
HEADER_KEYS = [c for c in COLUMNS if c != "body"]


def _rows() -> list[dict[str, str]]:
    result = []
    articles = (
        Article.objects.filter(published__isnull=False)
        .select_related("published", "owner_department", "region")
        .prefetch_related("categories")
        .order_by("id")
    )
    for a in articles:
        v = a.published
        assert v is not None
        result.append(
            {
                "reference": a.external_ref or f"article-{a.pk}",
                "title": v.title,
                "department": a.owner_department.code,
                "categories": ",".join(sorted(c.code for c in a.categories.all())),
                "business_type": a.business_type,
                "region": a.region.code if a.region else "",
                "tags": v.tags,
                "valid_from": v.valid_from.isoformat() if v.valid_from else "",
                "valid_until": v.valid_until.isoformat() if v.valid_until else "",
                "body": v.body,
            }
        )
    return result


def export_xlsx(path: Path) -> int:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "articles"
    sheet.append(COLUMNS)
    rows = _rows()
    for row in rows:
        # A text cell starting with "=" would be a formula in Excel: keep it text.
        sheet.append([("'" + row[c]) if row[c].startswith(("=", "+", "-", "@")) else row[c] for c in COLUMNS])
    book.save(path)
    return len(rows)


def export_markdown(folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    rows = _rows()
    for row in rows:
        header = "\n".join(f"{k}: {row[k]}" for k in HEADER_KEYS)
        (folder / f"{row['reference']}.md").write_text(
            f"---\n{header}\n---\n{row['body']}\n", encoding="utf-8"
        )
    return len(rows)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value).strip()
    return text[1:] if text.startswith("'") else text


def read_xlsx(path: Path) -> list[tuple[str, dict[str, str]]]:
    sheet = load_workbook(path, read_only=True, data_only=True).worksheets[0]
    lines = sheet.iter_rows(values_only=True)
    header = [_cell(h).lower() for h in next(lines, ())]
    missing = [c for c in ("reference", "title", "department", "body") if c not in header]
    if missing:
        raise ValidationError(
            _("The sheet lacks the columns: %(columns)s.") % {"columns": ", ".join(missing)},
            fields={"file": "columns"},
        )
    rows = []
    for number, line in enumerate(lines, start=2):
        row = {name: _cell(value) for name, value in zip(header, line, strict=False) if name}
        if any(row.values()):
            rows.append((f"row {number}", row))
    return rows


def read_markdown(folder: Path) -> list[tuple[str, dict[str, str]]]:
    rows = []
    for path in sorted(folder.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        row: dict[str, str] = {"reference": path.stem}
        if text.startswith("---\n"):
            head, _sep, body = text[4:].partition("\n---\n")
            for line in head.splitlines():
                key, _colon, value = line.partition(":")
                if key.strip() in HEADER_KEYS:
                    row[key.strip()] = value.strip()
            row["body"] = body.strip()
        else:
            row["body"] = text.strip()
        rows.append((path.name, row))
    return rows


def _date(value: str, where: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ValidationError(
            _("%(where)s: '%(value)s' is not a date (YYYY-MM-DD).") % {"where": where, "value": value}
        ) from exc


@transaction.atomic
def import_rows(rows: list[tuple[str, dict[str, str]]], *, source: str) -> dict[str, int]:
    """Load the rows through ``article_import``; any refused row refuses them all."""
    problems = []
    changed = 0
    for where, row in rows:
        try:
            _article, was_changed = article_import(
                reference=row.get("reference", ""),
                owner_department_code=row.get("department", ""),
                title=row.get("title", ""),
                body=row.get("body", ""),
                tags=row.get("tags", ""),
                category_codes=[c.strip() for c in row.get("categories", "").split(",") if c.strip()],
                business_type=row.get("business_type", ""),
                region_code=row.get("region", ""),
                valid_from=_date(row.get("valid_from", ""), where),
                valid_until=_date(row.get("valid_until", ""), where),
                source=source,
            )
            changed += was_changed
        except TousuError as exc:
            problems.append(f"{where}: {exc.message}")
    if problems:
        raise ValidationError(
            _("Nothing was imported: %(problems)s") % {"problems": " | ".join(problems[:20])},
            fields={"file": "rows"},
        )
    return {"rows": len(rows), "changed": changed}
