"""The starter library the seed loads: articles, reply templates and synonyms in Chinese, from the
policies in DOMAIN.md and common telecom rules (``data/starter.json``), through the services."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from django.db import transaction

from tousu.accounts.models import Department
from tousu.complaints.models import Category
from tousu.knowledge.services import article_import, synonyms_load, template_upsert

STARTER = Path(__file__).with_name("data") / "starter.json"
FALLBACK_DEPARTMENT = "customer_service"


def starter_data() -> dict[str, Any]:
    return json.loads(STARTER.read_text(encoding="utf-8"))


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


@transaction.atomic
def starter_load() -> dict[str, int]:
    """Load (or refresh) the starter set; idempotent. Categories the operator's tree lacks are
    dropped from the links, and an unknown department falls back to customer service."""
    data = starter_data()
    known_categories = set(Category.objects.values_list("code", flat=True))
    departments = set(Department.objects.values_list("code", flat=True))
    fallback = FALLBACK_DEPARTMENT if FALLBACK_DEPARTMENT in departments else min(departments)
    changed = 0
    for row in data["articles"]:
        _article, was_changed = article_import(
            reference=row["ref"],
            owner_department_code=row["department"] if row["department"] in departments else fallback,
            title=row["title"],
            body=row["body"],
            tags=row.get("tags", ""),
            category_codes=[c for c in row.get("categories", []) if c in known_categories],
            business_type=row.get("business_type", ""),
            valid_from=_day(row.get("valid_from")),
            valid_until=_day(row.get("valid_until")),
            source="starter set",
        )
        changed += was_changed
    for row in data["templates"]:
        template_upsert(
            code=row["code"],
            title=row["title"],
            channel=row["channel"],
            body=row["body"],
            situation=row.get("situation", ""),
            category_codes=[c for c in row.get("categories", []) if c in known_categories],
        )
    synonyms = synonyms_load(data["synonyms"])
    return {
        "articles": len(data["articles"]),
        "articles_changed": changed,
        "templates": len(data["templates"]),
        "synonyms": synonyms,
    }
