"""Reports as real spreadsheets (.xlsx, openpyxl): a header row, frozen panes, number formats.

Large case lists are written in openpyxl's write-only mode from a server-side cursor into a
spooled temporary file, which the response then streams in chunks: memory stays flat whatever
the number of cases.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Sequence
from typing import IO, Any

from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from tousu.analytics.reports import Report
from tousu.complaints.models import Complaint

HEADER_FONT = Font(bold=True, color="FFFFFF")
HEADER_FILL = PatternFill("solid", fgColor="1F5FA8")
FORMATS = {"int": "#,##0", "dec": "#,##0.00", "pct": "0.00", "text": "@"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _sheet(
    wb: Workbook, title: str, header: Sequence[str], rows: Iterable[Sequence[Any]], kinds: Sequence[str]
) -> Worksheet:
    ws = wb.create_sheet(title)
    ws.append(list(header))
    for cell in ws[1]:
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
    for row in rows:
        ws.append(list(row))
    for col, kind in enumerate(kinds, start=1):
        letter = get_column_letter(col)
        ws.column_dimensions[letter].width = 14 if kind != "text" else 28
        for (cell,) in ws.iter_rows(min_row=2, min_col=col, max_col=col):
            cell.number_format = FORMATS[kind]
    ws.freeze_panes = "B2"
    return ws


def report_xlsx(report: Report, out: IO[bytes]) -> None:
    wb = Workbook()
    info = wb.active
    assert info is not None
    info.title = "说明"
    info.append(["投诉分析报表", report.period.label])
    info.append(["上期", report.previous.label])
    info.append(["去年同期", report.last_year.label])
    info.append(["筛选", "; ".join(f"{k}={v}" for k, v in report.filters.as_params().items()) or "全部"])
    info.append(["生成时间", timezone.localtime().strftime("%Y-%m-%d %H:%M")])
    info.column_dimensions["A"].width = 14
    info.column_dimensions["B"].width = 40
    _sheet(
        wb,
        "指标",
        ["指标", "单位", "本期", "上期", "去年同期", "环比变化"],
        ([k.label, k.unit, k.value, k.previous, k.last_year, k.change] for k in report.kpis),
        ["text", "text", "dec", "dec", "dec", "dec"],
    )
    _sheet(wb, "趋势", ["日期", "投诉量", "办结量"], report.trend, ["text", "int", "int"])
    breakdown_header = ["名称", "投诉量", "办结量", "答复及时率 %", "满意度 %", "超时次数", "扣罚 元"]
    kinds = ["text", "int", "int", "pct", "pct", "int", "dec"]
    for title, rows in (
        ("业务类别", report.categories),
        ("渠道", report.channels),
        ("部门", report.departments),
    ):
        _sheet(
            wb,
            title,
            breakdown_header,
            (
                [
                    r.label,
                    r.values["accepted"],
                    r.values["closed"],
                    r.values["timely_reply"],
                    r.values["satisfaction"],
                    r.values["breaches"],
                    r.values["penalty"],
                ]
                for r in rows
            ),
            kinds,
        )
    _sheet(
        wb,
        "地区排名",
        ["地区", "投诉量", "用户数", "万投比 ‱"],
        (
            [r.label, r.values["accepted"], r.values["subscribers"], r.values["per_10k"]]
            for r in report.regions
        ),
        ["text", "int", "int", "dec"],
    )
    _sheet(
        wb,
        "上升最快的子类",
        ["子类", "本期", "上期", "增加"],
        ([r.label, r.values["now"], r.values["before"], r.values["rise"]] for r in report.rising),
        ["text", "int", "int", "int"],
    )
    _sheet(
        wb,
        "上升最快的关键词",
        ["关键词", "本期", "上期", "增加"],
        ([r.label, r.values["now"], r.values["before"], r.values["rise"]] for r in report.phrases),
        ["text", "int", "int", "int"],
    )
    _sheet(
        wb,
        "管局三类",
        ["类别", "投诉量", "申诉量", "办结量", "答复及时率 %", "满意度 %", "万投比 ‱", "申诉率 ppm"],
        (
            [
                r.label,
                r.values["accepted"],
                r.values["regulator_referrals"],
                r.values["closed"],
                r.values["timely_reply"],
                r.values["satisfaction"],
                r.values["per_10k"],
                r.values["appeal_rate"],
            ]
            for r in report.groups
        ),
        ["text", "int", "int", "int", "pct", "pct", "dec", "dec"],
    )
    wb.save(out)


CASE_HEADER = ["工单号", "受理时间", "状态", "渠道", "类别", "级别", "地区", "主办部门"]


def cases_xlsx(cases: Iterable[Complaint]) -> IO[bytes]:
    """The cases as a write-only workbook in a spooled temporary file (rewound), for streaming."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("工单")
    ws.freeze_panes = "B2"
    for width, letter in zip((18, 18, 10, 10, 24, 10, 14, 14), "ABCDEFGH", strict=True):
        ws.column_dimensions[letter].width = width
    header = []
    for title in CASE_HEADER:
        cell = WriteOnlyCell(ws, value=title)
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        header.append(cell)
    ws.append(header)
    for c in cases:
        registered = WriteOnlyCell(ws, value=timezone.localtime(c.registered_at).replace(tzinfo=None))
        registered.number_format = "yyyy-mm-dd hh:mm"
        ws.append(
            [
                c.ticket_no or f"#{c.pk}",
                registered,
                c.get_status_display(),
                c.get_channel_display(),
                str(c.category),
                c.get_level_display(),
                c.region.name if c.region else "",
                c.lead_department.name if c.lead_department else "",
            ]
        )
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115 - the response closes it
    wb.save(out)
    out.seek(0)
    return out
