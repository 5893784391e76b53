"""Pages: importing regulator referrals (工信部/通信管理局 转办) from a CSV file, for supervisors and
managers, with a report per row; and the template file to fill in."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tousu.accounts.models import User
from tousu.channels.regulator import (
    COLUMNS,
    ImportReport,
    RowResult,
    regulator_import,
    regulator_import_allowed,
    regulator_template_csv,
)
from tousu.common.errors import PermissionDenied, ValidationError
from tousu.common.origin import Origin
from tousu.complaints.choices import BusinessType, Level
from tousu.complaints.models import Category

REPORT_KEY = "regulator_import_report"


class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("CSV file"))


def _importer(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required ran first
    if not regulator_import_allowed(user):
        raise PermissionDenied(_("Only supervisors and managers import regulator referrals."))
    return user


def _page(
    request: HttpRequest, form: ImportForm, *, report: object = None, status: int = 200
) -> HttpResponse:
    leaves = (
        Category.objects.filter(is_active=True)
        .exclude(children__is_active=True)
        .select_related("parent")
        .order_by("parent__sort_order", "parent__code", "sort_order", "code")
    )
    return render(
        request,
        "web/regulator/import.html",
        {
            "form": form,
            "report": report,
            "columns": COLUMNS,
            "categories": leaves,
            "business_types": BusinessType.choices,
            "levels": Level.choices,
            "max_rows": settings.TOUSU_REGULATOR_CSV_MAX_ROWS,
            "max_kb": settings.TOUSU_REGULATOR_CSV_MAX_BYTES // 1024,
        },
        status=status,
    )


@login_required
def regulator_import_page(request: HttpRequest) -> HttpResponse:
    actor = _importer(request)
    if request.method != "POST":
        report = None
        if request.GET.get("report") == "1" and isinstance(request.session.get(REPORT_KEY), list):
            report = ImportReport(rows=[RowResult(**row) for row in request.session[REPORT_KEY]])
        return _page(request, ImportForm(), report=report)
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, form, status=400)
    upload = form.cleaned_data["file"]
    data = upload.read(settings.TOUSU_REGULATOR_CSV_MAX_BYTES + 1)
    try:
        report = regulator_import(actor=actor, data=data, origin=Origin.from_request(request))
    except ValidationError as exc:
        form.add_error("file", exc.message)
        return _page(request, form, status=400)
    # Post/redirect/get: the report is kept in the session, so a reload, the language switcher or a
    # replayed form (its one-time token) shows this report again instead of importing again.
    request.session[REPORT_KEY] = [{**row.__dict__, "reason": str(row.reason)} for row in report.rows]
    return redirect(f"{reverse('regulator-import')}?report=1")


@login_required
def regulator_template(request: HttpRequest) -> HttpResponse:
    _importer(request)
    response = HttpResponse(regulator_template_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="regulator-referrals-template.csv"'
    return response


urlpatterns: list[URLPattern] = [
    path("regulator/import/", regulator_import_page, name="regulator-import"),
    path("regulator/template.csv", regulator_template, name="regulator-template"),
]
