"""The quality pages (thin): the inspector's queue, the inspection page (the case's timeline,
messages and evidence beside the scorecard), an inspection with its appeal and decision, the
agent's own scorecards and trend, the sampling rules, calibration, and the team league table."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tousu.accounts.models import Department, User
from tousu.analytics.selectors import PERIOD_KINDS, Period
from tousu.common.errors import NotFound, PermissionDenied, ValidationError
from tousu.common.origin import Origin
from tousu.complaints.selectors import complaint_for_display, complaint_timeline
from tousu.quality import performance, selectors, services
from tousu.quality.models import Inspection, Pick, Scorecard, ScorecardVersion
from tousu.quality.services import INSPECTING_ROLES, RULE_FIELDS, SUPERVISING_ROLES


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required ran first
    return user


def _require(user: User, roles: frozenset[str], what: str) -> None:
    if user.role not in roles:
        raise PermissionDenied(_("Your role may not do this: %(action)s.") % {"action": what})


@require_GET
@login_required
def queue(request: HttpRequest) -> HttpResponse:
    """The inspector's queue of picks; supervisors also see the appeals waiting for a decision."""
    user = _user(request)
    _require(user, INSPECTING_ROLES, _("inspect cases"))
    today = timezone.localdate(timezone.now(), selectors.local_zone())
    context = {
        "picks": list(selectors.queue_for(user)[:200]),
        "appeals": list(selectors.pending_appeals()) if user.role in SUPERVISING_ROLES else [],
        "last_week": selectors.week_of(today) - timedelta(days=7),
    }
    return render(request, "quality/queue.html", context)


@require_POST
@login_required
def sample(request: HttpRequest) -> HttpResponse:
    """Sample a week now (the worker does it by itself every Monday for the week before)."""
    user = _user(request)
    try:
        week = date.fromisoformat(request.POST.get("week", ""))
    except ValueError:
        raise ValidationError(
            _("Choose the Monday of the week to sample."), fields={"week": "invalid"}
        ) from None
    result = services.sampling_run(week_start=week, actor=user, origin=Origin.from_request(request))
    n = result.run.picks.count()
    if result.created:
        messages.success(request, _("%(n)s cases picked for the week of %(week)s.") % {"n": n, "week": week})
    else:
        messages.info(
            request, _("The week of %(week)s was sampled already (%(n)s cases).") % {"n": n, "week": week}
        )
    return redirect("quality-queue")


def _card() -> ScorecardVersion | None:
    row = Scorecard.objects.filter(is_active=True).order_by("code").first()
    return row.current() if row is not None else None


@require_http_methods(["GET", "POST"])
@login_required
def inspect(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    _require(user, INSPECTING_ROLES, _("inspect cases"))
    pick = Pick.objects.select_related("run", "agent").filter(pk=pk).first()
    if pick is None:
        raise NotFound(_("No such pick."))
    origin = Origin.from_request(request)
    if request.method == "POST":
        card = _card()
        criteria = card.criteria if card is not None else []
        answers = {
            c["code"]: request.POST.get(f"c_{c['code']}") == "yes"
            for c in criteria
            if request.POST.get(f"c_{c['code']}") in ("yes", "no")
        }
        inspection = services.inspection_submit(
            actor=user,
            pick_id=pick.pk,
            answers=answers,
            comments=request.POST.get("comments", ""),
            origin=origin,
        )
        messages.success(request, _("Scored %(score)s.") % {"score": inspection.score})
        return redirect("quality-inspection", pk=inspection.pk)
    complaint = complaint_for_display(actor=user, complaint_id=pick.complaint_id, origin=origin)
    context = {
        "pick": pick,
        "case": complaint,
        "timeline": list(complaint_timeline(complaint=complaint)),
        "replies": list(complaint.replies.select_related("replied_by")),
        "attachments": list(complaint.attachments.all()),
        "card": _card(),
        # Blind: another inspector's score of a calibration pick is never shown here.
        "already": pick.inspections.filter(inspector_id=user.pk).first(),
    }
    return render(request, "quality/inspect.html", context)


@require_GET
@login_required
def case_pick(request: HttpRequest, pk: int) -> HttpResponse:
    """From the case page: the latest pick of this case, to inspect it."""
    user = _user(request)
    _require(user, INSPECTING_ROLES, _("inspect cases"))
    pick = Pick.objects.filter(complaint_id=pk).order_by("-run__week_start", "-id").first()
    if pick is None:
        raise NotFound(_("This case has not been picked for inspection."))
    return redirect("quality-inspect", pk=pick.pk)


def _visible_inspection(user: User, pk: int) -> Inspection:
    inspection = (
        Inspection.objects.select_related(
            "pick", "complaint", "agent", "inspector", "card", "card__scorecard"
        )
        .filter(pk=pk)
        .first()
    )
    if inspection is None:
        raise NotFound(_("No such inspection."))
    if user.pk in (inspection.agent_id, inspection.inspector_id):
        return inspection
    if user.role in SUPERVISING_ROLES:
        pick = inspection.pick
        may_still_score = (
            pick.calibration
            and not hasattr(inspection, "appeal")  # an appeal to decide is read whatever the calibration
            and pick.agent_id != user.pk
            and pick.inspections.count() < 2
            and not pick.inspections.filter(inspector_id=user.pk).exists()
        )
        if may_still_score:  # calibration is blind until one has scored
            raise PermissionDenied(_("Calibration is blind: score this case before reading other scores."))
        return inspection
    raise PermissionDenied(_("Only the agent, the inspector and supervisors see this inspection."))


@require_GET
@login_required
def inspection_page(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    inspection = _visible_inspection(user, pk)
    rows = [{**c, "met": inspection.answers.get(c["code"])} for c in inspection.card.criteria]
    appeal = getattr(inspection, "appeal", None)
    context = {
        "inspection": inspection,
        "rows": rows,
        "appeal": appeal,
        "may_appeal": user.pk == inspection.agent_id
        and not inspection.is_calibration
        and inspection.status == "submitted"
        and inspection.appeal_due_at is not None
        and timezone.now() < inspection.appeal_due_at,
        "may_decide": appeal is not None
        and appeal.decided_at is None
        and user.role in SUPERVISING_ROLES
        and user.pk not in (inspection.agent_id, inspection.inspector_id),
    }
    return render(request, "quality/inspection.html", context)


@require_POST
@login_required
def appeal(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    services.appeal_file(
        actor=user,
        inspection_id=pk,
        reason=request.POST.get("reason", ""),
        origin=Origin.from_request(request),
    )
    messages.success(request, _("Your appeal has been sent to a supervisor."))
    return redirect("quality-inspection", pk=pk)


@require_POST
@login_required
def decide(request: HttpRequest, pk: int) -> HttpResponse:
    user = _user(request)
    inspection = _visible_inspection(user, pk)
    grant = request.POST.get("decision") == "grant"
    services.appeal_decide(
        actor=user,
        appeal_id=inspection.appeal.pk if hasattr(inspection, "appeal") else 0,
        grant=grant,
        score=request.POST.get("score") if grant else None,
        note=request.POST.get("note", ""),
        origin=Origin.from_request(request),
    )
    messages.success(request, _("The appeal has been decided."))
    return redirect("quality-inspection", pk=pk)


@require_GET
@login_required
def mine(request: HttpRequest) -> HttpResponse:
    """The agent's own scorecards and the trend of their QA score."""
    user = _user(request)
    today = timezone.localdate(timezone.now(), selectors.local_zone())
    context = {
        "inspections": list(selectors.inspections_of_agent(user)[:100]),
        "trend": performance.qa_trend(user.pk, today),
    }
    return render(request, "quality/mine.html", context)


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@require_http_methods(["GET", "POST"])
@login_required
def rules(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    _require(user, SUPERVISING_ROLES, _("edit the sampling rules"))
    if request.method == "POST":
        changes: dict[str, Any] = {}
        for name in RULE_FIELDS:
            raw = request.POST.get(name, "").strip()
            if name.startswith("pick_"):
                changes[name] = name in request.POST
            elif name == "remedy_above":
                changes[name] = raw or None
            elif name == "seed":
                changes[name] = raw
            else:
                number = _int(raw)
                if number is None:
                    raise ValidationError(_("Give a whole number from 0 to 100."), fields={name: "invalid"})
                changes[name] = number
        services.sampling_rules_update(actor=user, origin=Origin.from_request(request), **changes)
        messages.success(request, _("The sampling rules have been saved."))
        return redirect("quality-rules")
    return render(request, "quality/rules.html", {"rules": selectors.current_rules()})


def criteria_from_lines(text: str) -> list[dict[str, Any]]:
    """One criterion per line: ``code | label | weight`` or ``code | label | fatal``."""
    criteria: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("|")]
        if len(parts) != 3:
            raise ValidationError(
                _("Line %(line)s: write code | label | weight (or fatal).") % {"line": number},
                fields={"criteria": "invalid"},
            )
        code, label, weight = parts
        if weight.lower() in ("fatal", "致命"):
            criteria.append({"code": code, "label": label, "weight": 0, "fatal": True})
        elif weight.isdigit():
            criteria.append({"code": code, "label": label, "weight": int(weight), "fatal": False})
        else:
            raise ValidationError(
                _("Line %(line)s: the weight must be a whole number or “fatal”.") % {"line": number},
                fields={"criteria": "weight"},
            )
    return criteria


def criteria_as_lines(criteria: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{c['code']} | {c['label']} | {'fatal' if c.get('fatal') else c['weight']}" for c in criteria
    )


@require_http_methods(["GET", "POST"])
@login_required
def scorecards(request: HttpRequest) -> HttpResponse:
    """Supervisors publish a new version of a scorecard; every earlier version stays as it was, and
    inspections keep the version they were scored with."""
    user = _user(request)
    _require(user, SUPERVISING_ROLES, _("publish a scorecard"))
    if request.method == "POST":
        pass_mark = _int(request.POST.get("pass_mark"))
        version = services.scorecard_publish(
            actor=user,
            code=request.POST.get("code", ""),
            name=request.POST.get("name", ""),
            criteria=criteria_from_lines(request.POST.get("criteria", "")),
            pass_mark=-1 if pass_mark is None else pass_mark,
            origin=Origin.from_request(request),
        )
        messages.success(
            request,
            _("Scorecard %(name)s version %(number)s is published.")
            % {"name": version.scorecard.name, "number": version.number},
        )
        return redirect("quality-scorecards")
    cards: list[dict[str, Any]] = []
    first_card: Scorecard | None = None
    latest: ScorecardVersion | None = None
    for card in Scorecard.objects.order_by("code"):
        versions = list(card.versions.order_by("-number"))
        cards.append({"card": card, "latest": versions[0] if versions else None, "versions": versions})
        if first_card is None:
            first_card, latest = card, (versions[0] if versions else None)
    context = {
        "cards": cards,
        "initial": {
            "code": first_card.code if first_card else "",
            "name": first_card.name if first_card else "",
            "pass_mark": latest.pass_mark if latest else 80,
            "criteria": criteria_as_lines(latest.criteria) if latest else "",
        },
    }
    return render(request, "quality/scorecards.html", context)


@require_GET
@login_required
def calibration(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    _require(user, SUPERVISING_ROLES | {"inspector"}, _("read the calibration report"))
    rows, average = selectors.calibration_report()
    return render(request, "quality/calibration.html", {"rows": rows, "average": average})


def _period(request: HttpRequest) -> Period:
    kind = request.GET.get("period", "month")
    try:
        day = date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        day = timezone.localdate(timezone.now(), selectors.local_zone())
    return Period.containing(kind if kind in PERIOD_KINDS else "month", day)


@require_GET
@login_required
def league(request: HttpRequest) -> HttpResponse:
    """The team league table (supervisors and managers), with the team's department figures."""
    user = _user(request)
    _require(user, SUPERVISING_ROLES, _("read the team's performance"))
    period = _period(request)
    dept = _int(request.GET.get("department"))
    department_id = dept if dept is not None else user.department_id
    rows, team = performance.league_table(period, department_id)
    context = {
        "period": period,
        "periods": PERIOD_KINDS,
        "departments": Department.objects.order_by("name"),
        "department_id": department_id,
        "rows": rows,
        "team": team,
        "kpis": performance.department_kpis(period, department_id),
    }
    return render(request, "quality/league.html", context)


@require_GET
@login_required
def agent(request: HttpRequest, pk: int) -> HttpResponse:
    """Drill-down: one agent's figures and the cases behind them (supervisors, or the agent)."""
    user = _user(request)
    if user.pk != pk:
        _require(user, SUPERVISING_ROLES, _("read another agent's performance"))
    person = User.objects.filter(pk=pk).first()
    if person is None:
        raise NotFound(_("No such agent."))
    period = _period(request)
    context = {
        "person": person,
        "period": period,
        "figures": performance.agent_figures(period, [pk])[pk],
        "cases": list(performance.agent_cases(period, pk)[:200]),
    }
    return render(request, "quality/agent.html", context)


urlpatterns: list[URLPattern] = [
    path("quality/", queue, name="quality-queue"),
    path("quality/sample/", sample, name="quality-sample"),
    path("quality/picks/<int:pk>/", inspect, name="quality-inspect"),
    path("quality/cases/<int:pk>/", case_pick, name="quality-case"),
    path("quality/inspections/<int:pk>/", inspection_page, name="quality-inspection"),
    path("quality/inspections/<int:pk>/appeal/", appeal, name="quality-appeal"),
    path("quality/inspections/<int:pk>/decide/", decide, name="quality-decide"),
    path("quality/mine/", mine, name="quality-mine"),
    path("quality/rules/", rules, name="quality-rules"),
    path("quality/scorecards/", scorecards, name="quality-scorecards"),
    path("quality/calibration/", calibration, name="quality-calibration"),
    path("quality/team/", league, name="quality-league"),
    path("quality/team/<int:pk>/", agent, name="quality-agent"),
]
