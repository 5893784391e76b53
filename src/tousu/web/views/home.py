"""Where each role starts: ``/`` sends everybody to their work. The handler's cases, the
return-visit queue (待回访) with its call screen, and the approvals waiting for the user."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tousu.accounts.models import User
from tousu.accounts.roles import Cap, Role
from tousu.common.errors import ConflictError, InvalidTransition, TousuError, ValidationError
from tousu.common.origin import Origin
from tousu.complaints.queues import QUEUES
from tousu.complaints.selectors import complaint_for_display
from tousu.complaints.services import remedy_decide, return_visit_record
from tousu.complaints.worklists import (
    HOME_COUNT_CAP,
    RETURN_VISIT_COUNT_CAP,
    approvals_for,
    handler_worklist,
    return_visit_queue,
    return_visit_sheet,
)
from tousu.web.forms.home import RemedyDecisionForm, ReturnVisitOutcomeForm

RETURN_VISITS_PER_PAGE = 25


def _actor(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required ran first
    return user


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Each role lands on its work: supervisors and managers on their dashboard, handlers on their
    and their department's cases, return-visit specialists on the return visits due, auditors and
    administrators on the administration, everybody else (agents, inspectors) on their own queue."""
    user = _actor(request)
    if user.can(Cap.CASE_SUPERVISE):
        return redirect("dashboard")
    if not user.can(Cap.CASE_VIEW):
        return redirect("admin:index")
    if user.role == Role.INSPECTOR:
        return redirect("quality-queue")
    if user.role == Role.HANDLER:
        return redirect("home-handler")
    if user.role == Role.RETURN_VISIT:
        return redirect("home-return-visits")
    return redirect("queue", name="mine")


@login_required
@require_GET
def handler_home(request: HttpRequest) -> HttpResponse:
    user = _actor(request)
    lists = handler_worklist(actor=user)
    context = {
        "lists": [(QUEUES[work.name], work) for work in lists],
        "cap": HOME_COUNT_CAP,
    }
    return render(request, "web/home/handler.html", context)


@login_required
@require_GET
def return_visits(request: HttpRequest) -> HttpResponse:
    user = _actor(request)
    try:
        number = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        number = 1
    offset = (number - 1) * RETURN_VISITS_PER_PAGE
    rows, count = return_visit_queue(actor=user, offset=offset, limit=RETURN_VISITS_PER_PAGE)
    pages = Paginator(range(min(count, RETURN_VISIT_COUNT_CAP)), RETURN_VISITS_PER_PAGE)
    context = {
        "rows": rows,
        "count": min(count, RETURN_VISIT_COUNT_CAP),
        "more": count > RETURN_VISIT_COUNT_CAP,
        "page": pages.get_page(number),
    }
    return render(request, "web/home/return_visits.html", context)


def _render_call(
    request: HttpRequest, user: User, pk: int, form: ReturnVisitOutcomeForm | None, *, status: int = 200
) -> HttpResponse:
    origin = Origin.from_request(request)
    complaint_for_display(actor=user, complaint_id=pk, origin=origin)  # scope, and the read is logged
    sheet = return_visit_sheet(actor=user, complaint_id=pk)
    if form is None:
        form = ReturnVisitOutcomeForm(initial={"version": sheet.case.version})
    context = {"sheet": sheet, "case": sheet.case, "form": form, "may_reveal": user.can(Cap.CUSTOMER_REVEAL)}
    return render(request, "web/home/return_visit_call.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def return_visit_call(request: HttpRequest, pk: int) -> HttpResponse:
    """One screen for one call: the script drawn from the case, and the outcome form, which goes
    through ``return_visit_record`` (the case page's return-visit action uses the same service)."""
    user = _actor(request)
    if request.method == "GET":
        return _render_call(request, user, pk, None)
    form = ReturnVisitOutcomeForm(request.POST)
    if not form.is_valid():
        return _render_call(request, user, pk, form, status=400)
    data = form.cleaned_data
    try:
        visit = return_visit_record(
            actor=user,
            complaint_id=pk,
            reached=data["reached"],
            resolved=data["resolved"],
            satisfaction=data["satisfaction"],
            comment=data["comment"],
            expected_version=data["version"],
            origin=Origin.from_request(request),
        )
    except ValidationError as exc:
        for name, problem in exc.fields.items():
            form.add_error(name if name in form.fields else None, exc.message or problem)
        if not exc.fields:
            form.add_error(None, exc.message)
        return _render_call(request, user, pk, form, status=400)
    except (InvalidTransition, ConflictError) as exc:
        messages.error(request, exc.message)
        return redirect("home-return-visits")
    if not visit.reached:
        text = _("Return visit recorded: the customer was not reached.")
    elif visit.satisfied:
        text = _("Return visit recorded: the customer is satisfied.")
    else:
        text = _("Return visit recorded: the customer is not satisfied; the case is reopened and escalated.")
    messages.success(request, f"{visit.complaint} · {text}")
    return redirect("home-return-visits")


@login_required
@require_GET
def approvals(request: HttpRequest) -> HttpResponse:
    user = _actor(request)
    rows = approvals_for(actor=user)
    return render(request, "web/home/approvals.html", {"rows": rows})


@login_required
@require_POST
def approval_decide(request: HttpRequest, remedy_id: int) -> HttpResponse:
    """Approve or refuse one remedy from the approvals list, through ``remedy_decide`` (which checks
    the scope, the limit with the case's cumulative total, and that it is not one's own request)."""
    user = _actor(request)
    form = RemedyDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose to approve or refuse."))
        return redirect("home-approvals")
    approve = form.cleaned_data["decision"] == "approve"
    try:
        remedy = remedy_decide(
            actor=user,
            remedy_id=remedy_id,
            approve=approve,
            note=form.cleaned_data["note"],
            origin=Origin.from_request(request),
        )
    except TousuError as exc:
        messages.error(request, exc.message)
    else:
        text = _("Remedy approved.") if approve else _("Remedy refused.")
        messages.success(request, f"{remedy.complaint} · {text}")
    return redirect("home-approvals")


urlpatterns: list[URLPattern] = [
    path("", home, name="home"),
    path("work/", handler_home, name="home-handler"),
    path("return-visits/", return_visits, name="home-return-visits"),
    path("return-visits/<int:pk>/", return_visit_call, name="home-return-visit-call"),
    path("approvals/", approvals, name="home-approvals"),
    path("approvals/<int:remedy_id>/decide/", approval_decide, name="home-approval-decide"),
]
