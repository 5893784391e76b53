"""Reports as plain data: the pages, the .xlsx exports and the scheduled e-mails all render these.

Every figure comes from the rollups through ``tousu.analytics.selectors`` and every rate through
``tousu.analytics.kpis``; a figure that counts cases carries the fact its drill-down lists.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import QuerySet

from tousu.accounts.models import Department, Region
from tousu.analytics.kpis import BY_CODE, HEADLINE, KPIS, hotline_answer_rate
from tousu.analytics.selectors import (
    Filters,
    Period,
    drill_cases,
    handling_percentiles,
    hotline_totals,
    rollup_breakdown,
    rollup_sums,
    rollup_trend,
    subscribers_average,
    subscribers_by_region,
)
from tousu.complaints.choices import BusinessType, Channel, Level, RegulatorGroup
from tousu.complaints.models import Category

PHRASE_CASES_LIMIT = 20_000  # descriptions read per period for key phrases
TOP_N = 10


@dataclass
class KpiRow:
    code: str
    label: str
    unit: str
    value: float | None
    previous: float | None
    last_year: float | None
    drill: str

    @property
    def digits(self) -> int:
        return 0 if self.unit == "" else 2

    @property
    def change(self) -> float | None:
        if self.value is None or self.previous is None:
            return None
        return self.value - self.previous


@dataclass
class Row:
    """One line of a breakdown: a label, its key (for the drill-down filter) and figures."""

    key: Any
    label: str
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    period: Period
    previous: Period
    last_year: Period
    filters: Filters
    kpis: list[KpiRow]
    trend: list[tuple[str, int, int]]  # (label, accepted, closed)
    categories: list[Row]
    channels: list[Row]
    regions: list[Row]
    departments: list[Row]
    rising: list[Row]
    phrases: list[Row]
    groups: list[Row]
    percentiles: dict[str, float | None]
    hotline: tuple[int, int, float | None]


def _kpi_rows(codes: tuple[str, ...] | list[str], period: Period, filters: Filters) -> list[KpiRow]:
    sums = {p: rollup_sums(p, filters) for p in (period, period.previous(), period.last_year())}
    subs = {p: subscribers_average(p, filters) for p in sums}
    rows = []
    for code in codes:
        kpi = BY_CODE[code]
        rows.append(
            KpiRow(
                code=code,
                label=kpi.label,
                unit=kpi.unit,
                value=kpi.value(sums[period], subs[period]),
                previous=kpi.value(sums[period.previous()], subs[period.previous()]),
                last_year=kpi.value(sums[period.last_year()], subs[period.last_year()]),
                drill=kpi.drill,
            )
        )
    return rows


def _names(model: Any) -> dict[int, str]:
    return dict(model.objects.values_list("pk", "name"))


def category_labels() -> dict[int, str]:
    names = {}
    for pk, name, parent in Category.objects.values_list("pk", "name", "parent__name"):
        names[pk] = f"{parent} › {name}" if parent else name
    return names


def _rate(kpi: str, values: dict[str, int], subscribers: int = 0) -> float | None:
    return BY_CODE[kpi].value(values, subscribers)


def _breakdown(period: Period, filters: Filters, dimension: str, labels: dict[Any, str]) -> list[Row]:
    rows = []
    for key, values in rollup_breakdown(period, filters, dimension).items():
        if not values["accepted"] and not values["closed"] and not values["breaches"]:
            continue
        rows.append(
            Row(
                key=key,
                label=labels.get(key, "—" if not key else str(key)),
                values={
                    "accepted": values["accepted"],
                    "closed": values["closed"],
                    "timely_reply": _rate("timely_reply", values),
                    "satisfaction": _rate("satisfaction", values),
                    "breaches": values["breaches"],
                    "penalty": values["penalty_fen"] / 100,
                },
            )
        )
    rows.sort(key=lambda r: (-r.values["accepted"], r.label))
    return rows


def _regions(period: Period, filters: Filters) -> list[Row]:
    rows = _breakdown(period, filters, "region_id", {**_names(Region), 0: "未填地区"})
    by_region = subscribers_by_region(period)
    for row in rows:
        subscribers = by_region.get(row.key, 0)
        row.values["subscribers"] = subscribers
        row.values["per_10k"] = _rate("per_10k", {"accepted": row.values["accepted"]}, subscribers)
    rows.sort(key=lambda r: (-(r.values["per_10k"] or 0), -r.values["accepted"]))
    return rows


def _rising(period: Period, filters: Filters, labels: dict[int, str]) -> list[Row]:
    now = rollup_breakdown(period, filters, "category_id")
    before = rollup_breakdown(period.previous(), filters, "category_id")
    rows = []
    for key in set(now) | set(before):
        a = now.get(key, {}).get("accepted", 0)
        b = before.get(key, {}).get("accepted", 0)
        if a > b:
            rows.append(
                Row(key=key, label=labels.get(key, str(key)), values={"now": a, "before": b, "rise": a - b})
            )
    rows.sort(key=lambda r: (-r.values["rise"], r.label))
    return rows[:TOP_N]


def _descriptions(period: Period, filters: Filters) -> list[str]:
    qs: QuerySet[Any] = drill_cases("accepted", period, filters).order_by()
    return list(qs.values_list("description", flat=True)[:PHRASE_CASES_LIMIT])


def key_phrases(texts: list[str], top: int = 30) -> list[str]:
    """The key phrases of these descriptions (jieba's TF-IDF keyword extraction)."""
    if not texts:
        return []
    import jieba
    import jieba.analyse

    jieba.setLogLevel(60)
    words = jieba.analyse.extract_tags("\n".join(texts), topK=top * 2)
    return [w for w in words if len(w) >= 2 and any("\u4e00" <= ch <= "\u9fff" for ch in w)][:top]


def _phrases(period: Period, filters: Filters) -> list[Row]:
    """Key phrases whose number of cases rose most against the previous period. A phrase's count is
    the number of the period's accepted cases whose description contains it, which is what its
    drill-down lists."""
    now, before = _descriptions(period, filters), _descriptions(period.previous(), filters)
    candidates = key_phrases(now)
    counts_now = Counter({p: sum(p in t for t in now) for p in candidates})
    counts_before = Counter({p: sum(p in t for t in before) for p in candidates})
    rows = [
        Row(
            key=p,
            label=p,
            values={
                "now": counts_now[p],
                "before": counts_before[p],
                "rise": counts_now[p] - counts_before[p],
            },
        )
        for p in candidates
        if counts_now[p] > counts_before[p]
    ]
    rows.sort(key=lambda r: (-r.values["rise"], r.label))
    return rows[:TOP_N]


def regulator_groups(period: Period, filters: Filters) -> list[Row]:
    """The regulator's three groups: complaints, referrals, closed, 及时率, 满意度, 万投比."""
    data = rollup_breakdown(period, filters, "regulator_group")
    subscribers = subscribers_average(period, filters)
    rows = []
    for group in RegulatorGroup:
        values = data.get(group.value, {})
        rows.append(
            Row(
                key=group.value,
                label=str(group.label),
                values={
                    "accepted": values.get("accepted", 0),
                    "regulator_referrals": values.get("regulator_referrals", 0),
                    "closed": values.get("closed", 0),
                    "timely_reply": _rate("timely_reply", values) if values else None,
                    "satisfaction": _rate("satisfaction", values) if values else None,
                    "per_10k": _rate("per_10k", values, subscribers) if values else None,
                    "appeal_rate": _rate("appeal_rate", values, subscribers) if values else None,
                },
            )
        )
    return rows


def build_report(period: Period, filters: Filters, *, phrases: bool = True) -> Report:
    categories = category_labels()
    trend_rows = rollup_trend(period, filters)
    monthly = period.kind in ("quarter", "year")
    trend = [
        (f"{d.month}月" if monthly else f"{d.month}/{d.day}", v["accepted"], v["closed"])
        for d, v in trend_rows
    ]
    top_labels = {
        pk: name for pk, name in Category.objects.filter(parent__isnull=True).values_list("pk", "name")
    }
    offered, answered = hotline_totals(period)
    return Report(
        period=period,
        previous=period.previous(),
        last_year=period.last_year(),
        filters=filters,
        kpis=_kpi_rows(HEADLINE, period, filters),
        trend=trend,
        categories=_breakdown(period, filters, "top_category_id", top_labels),
        channels=_breakdown(period, filters, "channel", {c.value: str(c.label) for c in Channel}),
        regions=_regions(period, filters),
        departments=_breakdown(period, filters, "department_id", {**_names(Department), 0: "未派单"}),
        # The root causes and the regulator's groups are read only where they are shown (their
        # own pages, the export): each is another pass over the period's rollups.
        rising=_rising(period, filters, categories) if phrases else [],
        phrases=_phrases(period, filters) if phrases else [],
        groups=regulator_groups(period, filters) if phrases else [],
        percentiles=handling_percentiles(period, filters),
        hotline=(offered, answered, hotline_answer_rate(offered, answered)),
    )


def all_kpis(period: Period, filters: Filters) -> list[KpiRow]:
    return _kpi_rows([k.code for k in KPIS], period, filters)


def filter_choices() -> dict[str, list[tuple[Any, str]]]:
    """The options of every filter of the report form."""
    return {
        "region_id": list(Region.objects.order_by("code").values_list("pk", "name")),
        "top_category_id": list(
            Category.objects.filter(parent__isnull=True)
            .order_by("sort_order", "code")
            .values_list("pk", "name")
        ),
        "category_id": sorted(category_labels().items(), key=lambda kv: kv[1]),
        "regulator_group": [(g.value, str(g.label)) for g in RegulatorGroup],
        "channel": [(c.value, str(c.label)) for c in Channel],
        "department_id": list(Department.objects.order_by("code").values_list("pk", "name")),
        "level": [(c.value, str(c.label)) for c in Level],
        "business_type": [(c.value, str(c.label)) for c in BusinessType],
    }


def today_local() -> date:
    from django.utils import timezone

    return timezone.localdate()
