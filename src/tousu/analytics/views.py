"""Pages: the KPI report, the regulator's quarterly report, the drill-down case list, and their
.xlsx exports. Thin: parse the query, check the scope, call ``reports``/``selectors``, render."""

from __future__ import annotations

import io
from datetime import date
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import URLPattern, path
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from tousu.accounts.models import User
from tousu.analytics import charts
from tousu.analytics.exports import XLSX, cases_xlsx, report_xlsx
from tousu.analytics.kpis import KPIS
from tousu.analytics.models import Frequency, ReportSubscription
from tousu.analytics.reports import all_kpis, build_report, filter_choices, regulator_groups, today_local
from tousu.analytics.selectors import (
    PERIOD_KINDS,
    Filters,
    Period,
    drill_cases,
    rebuild_progress,
    report_scope,
)
from tousu.analytics.services_schedule import report_subscribe
from tousu.common.errors import ValidationError
from tousu.common.origin import Origin

PAGE_SIZE = 50
PERIOD_LABELS = {"day": "日", "week": "周", "month": "月", "quarter": "季度", "year": "年"}
_INT_FILTERS = ("region_id", "category_id", "top_category_id", "department_id")
_TEXT_FILTERS = ("regulator_group", "channel", "level", "business_type")


def _user(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) and user.is_authenticated else None


def parse_period(params: Any, default_kind: str = "month") -> Period:
    kind = params.get("period") or default_kind
    raw = params.get("date") or ""
    try:
        day = date.fromisoformat(raw) if raw else today_local()
    except ValueError:
        raise ValidationError(gettext("Write the date as YYYY-MM-DD."), fields={"date": "invalid"}) from None
    if kind not in PERIOD_KINDS:
        raise ValidationError(
            gettext("Choose a period: day, week, month, quarter or year."), fields={"period": "invalid"}
        )
    return Period.containing(kind, day)


def parse_filters(params: Any) -> Filters:
    values: dict[str, Any] = {}
    for name in _INT_FILTERS:
        raw = (params.get(name) or "").strip()
        if raw:
            if not raw.isdigit():
                raise ValidationError(
                    gettext("The filter %(name)s is not valid.") % {"name": name}, fields={name: "invalid"}
                )
            values[name] = int(raw)
    choices = filter_choices()
    for name in _TEXT_FILTERS:
        raw = (params.get(name) or "").strip()
        if raw:
            if raw not in {str(k) for k, _ in choices[name]}:
                raise ValidationError(
                    gettext("The filter %(name)s is not valid.") % {"name": name}, fields={name: "invalid"}
                )
            values[name] = raw
    return Filters(**values)


def _query(period: Period, filters: Filters, **extra: Any) -> str:
    return urlencode(
        {"period": period.kind, "date": period.start.isoformat(), **filters.as_params(), **extra}
    )


@require_GET
@never_cache
def report_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if user is None:
        return redirect_to_login(request.get_full_path())
    period = parse_period(request.GET)
    filters = report_scope(user, parse_filters(request.GET))
    export = request.GET.get("format") == "xlsx"
    # Key phrases read the period's descriptions: on their own page (and in the export), so the
    # KPI page itself reads only the rollups.
    causes = request.resolver_match is not None and request.resolver_match.url_name == "reports-causes"
    report = build_report(period, filters, phrases=export or causes)
    if export:
        out = io.BytesIO()
        report_xlsx(report, out)
        response = HttpResponse(out.getvalue(), content_type=XLSX)
        response["Content-Disposition"] = (
            f'attachment; filename="tousu-report-{period.kind}-{period.start}.xlsx"'
        )
        return response
    context = {
        "report": report,
        "rebuilding": rebuild_progress(),
        "query": _query(period, filters),
        "period_query": urlencode({"period": period.kind, "date": period.start.isoformat()}),
        "filter_params": filters.as_params(),
        "choices": filter_choices(),
        "period_kinds": [(k, PERIOD_LABELS[k]) for k in PERIOD_KINDS],
        "scoped": user.department_id
        if filters.department_id is not None and user.role == "handler"
        else None,
        "trend_svg": charts.line_chart(
            [t[0] for t in report.trend],
            [("投诉量", [t[1] for t in report.trend]), ("办结量", [t[2] for t in report.trend])],
            title=f"{report.period.label} 投诉量与办结量趋势",
            ident="chart-trend",
        ),
        "category_svg": charts.bar_chart(
            [(r.label, r.values["accepted"]) for r in report.categories],
            title="按业务类别的投诉量",
            ident="chart-category",
        ),
        "channel_svg": charts.bar_chart(
            [(r.label, r.values["accepted"]) for r in report.channels],
            title="按渠道的投诉量",
            ident="chart-channel",
        ),
        "region_svg": charts.bar_chart(
            [(r.label, r.values["per_10k"] or 0) for r in report.regions],
            title="各地区万投比",
            ident="chart-region",
            unit="‱",
        ),
    }
    return render(request, "analytics/causes.html" if causes else "analytics/report.html", context)


@require_GET
@never_cache
def regulator_page(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if user is None:
        return redirect_to_login(request.get_full_path())
    period = parse_period(request.GET, default_kind="quarter")
    if period.kind != "quarter":
        period = Period.containing("quarter", period.start)
    filters = report_scope(user, Filters())
    groups = regulator_groups(period, filters)
    kpis = [k for k in all_kpis(period, filters)]
    if request.GET.get("format") == "xlsx":
        from openpyxl import Workbook

        from tousu.analytics.exports import _sheet

        wb = Workbook()
        if wb.active is not None:
            wb.remove(wb.active)
        _sheet(
            wb,
            "管局季报",
            ["类别", "投诉量", "申诉量", "办结量", "答复及时率 %", "满意度 %", "万投比 ‱", "申诉率 ppm"],
            (
                [
                    g.label,
                    *(
                        g.values[k]
                        for k in (
                            "accepted",
                            "regulator_referrals",
                            "closed",
                            "timely_reply",
                            "satisfaction",
                            "per_10k",
                            "appeal_rate",
                        )
                    ),
                ]
                for g in groups
            ),
            ["text", "int", "int", "int", "pct", "pct", "dec", "dec"],
        )
        _sheet(
            wb,
            "全部指标",
            ["指标", "单位", "本季", "上季", "去年同季"],
            ([k.label, k.unit, k.value, k.previous, k.last_year] for k in kpis),
            ["text", "text", "dec", "dec", "dec"],
        )
        out = io.BytesIO()
        wb.save(out)
        response = HttpResponse(out.getvalue(), content_type=XLSX)
        response["Content-Disposition"] = f'attachment; filename="tousu-regulator-{period.start}.xlsx"'
        return response
    return render(
        request,
        "analytics/regulator.html",
        {"period": period, "groups": groups, "kpis": kpis, "query": _query(period, filters)},
    )


@require_GET
@never_cache
def drill_page(request: HttpRequest) -> HttpResponseBase:
    user = _user(request)
    if user is None:
        return redirect_to_login(request.get_full_path())
    period = parse_period(request.GET)
    filters = report_scope(user, parse_filters(request.GET))
    fact = request.GET.get("fact") or "accepted"
    phrase = (request.GET.get("q") or "").strip()[:50]
    cases = drill_cases(fact, period, filters)
    if phrase:
        cases = cases.filter(description__contains=phrase)
    if request.GET.get("format") == "xlsx":
        stream = cases_xlsx(cases.iterator(chunk_size=2000))
        return FileResponse(
            stream, as_attachment=True, filename=f"tousu-cases-{fact}-{period.start}.xlsx", content_type=XLSX
        )
    page = Paginator(cases, PAGE_SIZE).get_page(request.GET.get("page"))
    labels = {k.drill: k.label for k in reversed(KPIS)}
    extra = {"fact": fact, **({"q": phrase} if phrase else {})}
    return render(
        request,
        "analytics/cases.html",
        {
            "page": page,
            "period": period,
            "fact": fact,
            "fact_label": labels.get(fact, fact),
            "phrase": phrase,
            "filters": filters.as_params(),
            "query": _query(period, filters, **extra),
        },
    )


@never_cache
def subscriptions_page(request: HttpRequest) -> HttpResponse:
    """The user's scheduled reports: weekly and/or monthly, e-mailed with the .xlsx attached."""
    user = _user(request)
    if user is None:
        return redirect_to_login(request.get_full_path())
    if request.method not in ("GET", "POST"):
        return HttpResponseNotAllowed(["GET", "POST"])
    error, changed = "", False
    report_scope(user, Filters())  # only those who read reports (PermissionDenied otherwise)
    if request.method == "POST":
        wanted = set(request.POST.getlist("frequency"))
        try:
            unknown = wanted - set(Frequency.values)
            if unknown:
                raise ValidationError(gettext("Choose weekly or monthly."), fields={"frequency": "unknown"})
            origin = Origin.from_request(request)
            for frequency in Frequency.values:
                changed |= report_subscribe(
                    actor=user, frequency=frequency, subscribed=frequency in wanted, origin=origin
                )
        except ValidationError as exc:
            error = exc.message
    current = set(ReportSubscription.objects.filter(user=user).values_list("frequency", flat=True))
    return render(
        request,
        "analytics/subscriptions.html",
        {
            "options": [(value, label, value in current) for value, label in Frequency.choices],
            "error": error,
            "saved": changed and not error,
            "email": user.email,
        },
        status=400 if error else 200,
    )


urlpatterns: list[URLPattern] = [
    path("reports/", report_page, name="reports"),
    path("reports/causes/", report_page, name="reports-causes"),
    path("reports/regulator/", regulator_page, name="reports-regulator"),
    path("reports/cases/", drill_page, name="reports-cases"),
    path("reports/subscriptions/", subscriptions_page, name="reports-subscriptions"),
]
