"""The KPIs, each defined once (../shared/KPIS.md): a numerator and a denominator summed from the
rollup facts (``tousu.analytics.models.Facts``), a scale and a unit. Reports, exports, the
regulator's report and the tests all compute through ``kpi_value``.

``drill`` names the fact whose cases a figure counts: the drill-down lists the cases with that
fact in the period and filters, and for every case count their number is the figure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from tousu.sla.models import ClockKind

SUBSCRIBERS: Final = "@subscribers"  # the denominator is the average subscribers of the period


@dataclass(frozen=True)
class Kpi:
    code: str
    label: str  # Chinese, as the operator and the regulator write it
    numerator: tuple[str, ...]
    denominator: tuple[str, ...] = ()
    scale: float = 1.0
    unit: str = ""  # "", "%", "‱", "ppm", "元", "h", "分"
    drill: str = ""
    complement: bool = False  # 1 − numerator/denominator (超时率)
    description: str = ""

    def value(self, sums: Mapping[str, int], subscribers: int = 0) -> float | None:
        num = sum(sums.get(f, 0) for f in self.numerator)
        if not self.denominator:
            return num * self.scale
        den = (
            subscribers
            if self.denominator == (SUBSCRIBERS,)
            else sum(sums.get(f, 0) for f in self.denominator)
        )
        if not den:
            return None
        ratio = num / den
        return (1 - ratio if self.complement else ratio) * self.scale


def _timeliness(kind: ClockKind, label: str) -> list[Kpi]:
    ended, met = f"clock_{kind.value}_ended", f"clock_{kind.value}_met"
    return [
        Kpi(f"timely_{kind.value}", f"{label}及时率", (met,), (ended,), 100, "%", drill=ended),
        Kpi(f"late_{kind.value}", f"{label}超时率", (met,), (ended,), 100, "%", drill=ended, complement=True),
    ]


_REMEDY_KINDS = ("refund", "fee_waiver", "compensation", "apology", "service_adjustment")

KPIS: Final[tuple[Kpi, ...]] = (
    Kpi("complaints", "投诉量", ("accepted",), drill="accepted", description="受理的投诉件数"),
    Kpi("rejected", "不予受理量", ("rejected",), drill="rejected"),
    Kpi(
        "per_10k",
        "万投比",
        ("accepted",),
        (SUBSCRIBERS,),
        10_000,
        "‱",
        drill="accepted",
        description="投诉量 ÷ 期内平均用户数 × 10,000",
    ),
    Kpi(
        "appeal_rate",
        "申诉率",
        ("regulator_referrals",),
        (SUBSCRIBERS,),
        1_000_000,
        "ppm",
        drill="regulator_referrals",
        description="受理的管局转办 ÷ 用户数 × 1,000,000",
    ),
    Kpi("regulator_referrals", "申诉量", ("regulator_referrals",), drill="regulator_referrals"),
    Kpi("went_over_rate", "越级率", ("went_over",), ("accepted",), 100, "%", drill="went_over"),
    Kpi("fcr", "一次解决率", ("closed_first_contact",), ("closed",), 100, "%", drill="closed_first_contact"),
    Kpi("repeat_rate", "重复投诉率", ("repeat",), ("accepted",), 100, "%", drill="repeat"),
    Kpi(
        "satisfaction",
        "满意度",
        ("visits_satisfied",),
        ("visits_reached",),
        100,
        "%",
        drill="visits_satisfied",
    ),
    Kpi(
        "satisfaction_score",
        "平均满意分",
        ("satisfaction_sum",),
        ("visits_scored",),
        1,
        "分",
        drill="visits_scored",
    ),
    Kpi("visit_rate", "回访率", ("visited",), ("replied",), 100, "%", drill="visited"),
    Kpi("visits_unreached", "回访未接通次数", ("visits_unreached",), drill="visits_unreached"),
    Kpi("reopen_rate", "重开率", ("reopened",), ("closed",), 100, "%", drill="reopened"),
    Kpi("escalation_rate", "升级率", ("escalated",), ("accepted",), 100, "%", drill="escalated"),
    Kpi("escalated_sla", "升级：超时", ("escalated_sla",), drill="escalated_sla"),
    Kpi(
        "escalated_dissatisfaction",
        "升级：回访不满意",
        ("escalated_dissatisfaction",),
        drill="escalated_dissatisfaction",
    ),
    Kpi("escalated_threat", "升级：扬言越级", ("escalated_threat",), drill="escalated_threat"),
    Kpi("escalated_manual", "升级：人工", ("escalated_manual",), drill="escalated_manual"),
    Kpi("escalated_level", "升级：按级别", ("escalated_level",), drill="escalated_level"),
    Kpi("closed", "办结量", ("closed",), drill="closed"),
    Kpi("replied", "答复量", ("replied",), drill="replied"),
    Kpi(
        "handling_hours",
        "平均处理时长（日历）",
        ("handling_seconds",),
        ("replied",),
        1 / 3600,
        "h",
        drill="replied",
    ),
    Kpi(
        "handling_work_hours",
        "平均处理时长（工作时间）",
        ("handling_work_seconds",),
        ("replied",),
        1 / 3600,
        "h",
        drill="replied",
    ),
    *_timeliness(ClockKind.FIRST_RESPONSE, "首次响应"),
    *_timeliness(ClockKind.REPLY, "答复"),
    *_timeliness(ClockKind.REPAIR, "修障"),
    *_timeliness(ClockKind.REGULATOR_ANSWER, "申诉答复"),
    Kpi("breaches", "超时次数", ("breaches",), drill="breaches"),
    Kpi("penalty", "考核扣罚", ("penalty_fen",), (), 0.01, "元", drill="breaches"),
    Kpi(
        "remedies",
        "补救次数",
        tuple(f"remedy_{k}" for k in _REMEDY_KINDS),
        drill="remedy_any",
    ),
    Kpi(
        "remedies_yuan",
        "补救金额",
        tuple(f"remedy_{k}_fen" for k in _REMEDY_KINDS),
        (),
        0.01,
        "元",
        drill="remedy_any",
    ),
)

BY_CODE: Final = {k.code: k for k in KPIS}
# The figures a monthly report leads with.
HEADLINE: Final = (
    "complaints",
    "per_10k",
    "appeal_rate",
    "timely_reply",
    "satisfaction",
    "fcr",
    "repeat_rate",
    "reopen_rate",
    "escalation_rate",
    "went_over_rate",
    "visit_rate",
    "handling_hours",
    "penalty",
    "remedies_yuan",
)
# Drill facts that are not columns: a case with any of these columns.
DRILL_ANY: Final = {"remedy_any": tuple(f"remedy_{k}" for k in _REMEDY_KINDS)}


def hotline_answer_rate(offered: int, answered: int) -> float | None:
    """人工服务应答率: calls answered by an agent ÷ calls offered to an agent (imported figures)."""
    return answered / offered * 100 if offered else None


def kpi_value(code: str, sums: Mapping[str, int], subscribers: int = 0) -> float | None:
    return BY_CODE[code].value(sums, subscribers)
