"""Pages: one case — its facts, clocks, customer, timeline and evidence, and the actions allowed now.

Every action is a small form posting to ``case-action``; the view parses it with its form, calls the
one service that owns the step and maps the service's refusal back: input problems next to the
fields (400, input kept), a stale form or an impossible step at the top of the page (409), anything
outside the user's scope a 403 page. A case is read through the access helpers only, and showing it
logs the read of the customer's personal data (``complaint_for_display``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, BinaryIO, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.forms import Form
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from tousu.accounts.models import Department, User
from tousu.accounts.roles import Cap
from tousu.common.errors import ConflictError, InvalidTransition, ValidationError
from tousu.common.origin import Origin
from tousu.common.prg import get_goes_to
from tousu.complaints import services as svc
from tousu.complaints.access import access_complaint_by_id, complaint_in_scope
from tousu.complaints.choices import (
    Channel,
    Level,
    RejectionReason,
    RemedyKind,
    RemedyStatus,
    ReplyChannel,
    ResolutionKind,
)
from tousu.complaints.events import EventKind
from tousu.complaints.models import Complaint, ComplaintEvent, Remedy
from tousu.complaints.reasons import LEVEL_PREFIX, SLA_BREACH_PREFIX, automatic_reason
from tousu.complaints.selectors import (
    complaint_available_actions,
    complaint_for_display,
    complaint_timeline,
    customer_history,
)
from tousu.complaints.states import OPEN, EscalationLevel, Status
from tousu.sla.models import ClockKind, ClockState
from tousu.sla.selectors import ClockView, sla_explain
from tousu.triage.models import LinkKind
from tousu.triage.selectors import case_flags, related_cases
from tousu.web.forms.case import (
    AcceptForm,
    CaseActionForm,
    CaseOptions,
    ChangeLevelForm,
    CloseForm,
    DecideForm,
    DispatchForm,
    EscalateForm,
    FlagThreatForm,
    InvestigateForm,
    LinkCustomerForm,
    NoteForm,
    PlanForm,
    ReclassifyForm,
    RejectForm,
    RemedyForm,
    ReopenForm,
    ReplyForm,
    RequestInfoForm,
    ReturnVisitForm,
    UploadForm,
    WithdrawForm,
)
from tousu.web.views import case_workspace as workspace

DUE_SOON = timedelta(hours=1)
REVEALABLE = ("name", "phone", "email", "service_number")


def _actor(request: HttpRequest) -> User:
    return cast(User, request.user)


# --- actions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One submitted action: who, on which case, with the form's clean data."""

    actor: User
    complaint: Complaint
    data: dict[str, Any]
    origin: Origin

    def common(self) -> dict[str, Any]:
        return {"actor": self.actor, "complaint_id": self.complaint.pk, "origin": self.origin}

    def versioned(self) -> dict[str, Any]:
        return {**self.common(), "expected_version": self.data["version"]}


def _accept(c: Call) -> str:
    complaint = svc.complaint_accept(**c.versioned())
    return _("Case accepted; ticket number %(ticket)s.") % {"ticket": complaint.ticket_no}


def _reject(c: Call) -> str:
    complaint = svc.complaint_reject(
        **c.versioned(), reason=c.data["reason"], explanation=c.data["explanation"]
    )
    return _("Case %(case)s not accepted; the customer is told why.") % {"case": complaint}


def _dispatch(c: Call) -> str:
    complaint = svc.complaint_dispatch(
        **c.versioned(),
        lead_department_id=c.data["lead_department"],
        cooperating_department_ids=c.data["cooperating_departments"],
        assignee_id=c.data["assignee"],
        note=c.data["note"],
    )
    return _("Case %(case)s dispatched.") % {"case": complaint}


def _investigate(c: Call) -> str:
    complaint = svc.complaint_investigate(**c.versioned(), note=c.data["note"])
    return _("Case %(case)s is being investigated.") % {"case": complaint}


def _note(c: Call) -> str:
    svc.complaint_note(**c.common(), text=c.data["text"])
    return _("Note added.")


def _link_customer(c: Call) -> str:
    complaint = svc.complaint_link_customer(
        **c.versioned(),
        phone=c.data["phone"],
        customer_name=c.data["customer_name"],
        email=c.data["email"],
        wechat_id=c.data["wechat_id"],
    )
    return _("Customer of case %(case)s identified.") % {"case": complaint}


def _request_info(c: Call) -> str:
    complaint = svc.complaint_request_info(**c.versioned(), question=c.data["question"])
    return _("Case %(case)s waits for the customer; its clocks are paused.") % {"case": complaint}


def _plan(c: Call) -> str:
    complaint = svc.complaint_propose_plan(
        **c.versioned(),
        kind=c.data["kind"],
        measures=c.data["measures"],
        responsible_id=c.data["responsible"],
        deadline=c.data["deadline"],
    )
    return _("Resolution plan recorded for case %(case)s.") % {"case": complaint}


def _remedy(c: Call) -> str:
    remedy = svc.remedy_request(
        **c.versioned(), kind=c.data["kind"], amount=c.data["amount"], description=c.data["description"]
    )
    if remedy.status == RemedyStatus.REQUESTED:
        return _("Remedy requested; it waits for approval.")
    return _("Remedy recorded (within your own limit).")


def _decide(c: Call) -> str:
    approve = c.data["decision"] == "approve"
    remedy = _remedy_of(c.complaint, c.data["remedy"])
    svc.remedy_decide(
        actor=c.actor, remedy_id=remedy.pk, approve=approve, note=c.data["note"], origin=c.origin
    )
    return _("Remedy approved.") if approve else _("Remedy refused.")


def _reply(c: Call) -> str:
    svc.complaint_reply(
        **c.versioned(),
        channel=c.data["channel"],
        content=c.data["content"],
        first_contact_resolution=bool(c.data.get("first_contact_resolution")),
    )
    return _("Reply recorded; the customer is told.")


def _return_visit(c: Call) -> str:
    visit = svc.return_visit_record(
        **c.versioned(),
        reached=c.data["reached"],
        resolved=c.data["resolved"],
        satisfaction=c.data["satisfaction"],
        comment=c.data["comment"],
    )
    if not visit.reached:
        return _("Return visit recorded: the customer was not reached.")
    if visit.satisfied:
        return _("Return visit recorded: the customer is satisfied.")
    return _("Return visit recorded: the customer is not satisfied; the case is reopened and escalated.")


def _reopen(c: Call) -> str:
    complaint = svc.complaint_reopen(**c.versioned(), reason=c.data["reason"])
    return _("Case %(case)s reopened.") % {"case": complaint}


def _escalate(c: Call) -> str:
    complaint = svc.complaint_escalate(**c.versioned(), reason=c.data["reason"], to_level=c.data["to_level"])
    return _("Case %(case)s escalated to %(level)s.") % {
        "case": complaint,
        "level": EscalationLevel(complaint.escalation_level).label,
    }


def _change_level(c: Call) -> str:
    complaint = svc.complaint_change_level(**c.versioned(), level=c.data["level"], reason=c.data["reason"])
    return _("Case %(case)s is now '%(level)s'.") % {"case": complaint, "level": Level(complaint.level).label}


def _reclassify(c: Call) -> str:
    complaint = svc.complaint_reclassify(
        **c.versioned(), category_id=c.data["category"], level=c.data["level"], reason=c.data["reason"]
    )
    return _("Case %(case)s is now classified as %(category)s, '%(level)s'.") % {
        "case": complaint,
        "category": complaint.category,
        "level": Level(complaint.level).label,
    }


def _flag_threat(c: Call) -> str:
    complaint = svc.complaint_flag_threat(**c.versioned(), note=c.data["note"])
    return _(
        "Case %(case)s flagged: the customer threatens to go to the regulator, the media or a court."
    ) % {"case": complaint}


def _withdraw(c: Call) -> str:
    complaint = svc.complaint_withdraw(**c.versioned(), reason=c.data["reason"])
    return _("Case %(case)s withdrawn by the customer.") % {"case": complaint}


def _close(c: Call) -> str:
    complaint = svc.complaint_close(**c.versioned(), note=c.data["note"])
    return _("Case %(case)s closed.") % {"case": complaint}


@dataclass(frozen=True)
class Action:
    slug: str
    label: str | Promise
    form: type[CaseActionForm]
    run: Callable[[Call], str]


ACTIONS: dict[str, Action] = {
    a.slug: a
    for a in [
        Action("accept", gettext_lazy("Accept"), AcceptForm, _accept),
        Action("reject", gettext_lazy("Do not accept"), RejectForm, _reject),
        Action("dispatch", gettext_lazy("Dispatch"), DispatchForm, _dispatch),
        Action("investigate", gettext_lazy("Investigate"), InvestigateForm, _investigate),
        Action("request-info", gettext_lazy("Ask the customer"), RequestInfoForm, _request_info),
        Action("plan", gettext_lazy("Resolution plan"), PlanForm, _plan),
        Action("remedy", gettext_lazy("Request a remedy"), RemedyForm, _remedy),
        Action("reply", gettext_lazy("Reply to the customer"), ReplyForm, _reply),
        Action("return-visit", gettext_lazy("Return visit"), ReturnVisitForm, _return_visit),
        Action("close", gettext_lazy("Close"), CloseForm, _close),
        Action("reopen", gettext_lazy("Reopen"), ReopenForm, _reopen),
        Action("note", gettext_lazy("Internal note"), NoteForm, _note),
        Action("link-customer", gettext_lazy("Identify the customer"), LinkCustomerForm, _link_customer),
        Action("escalate", gettext_lazy("Escalate"), EscalateForm, _escalate),
        Action("change-level", gettext_lazy("Change level"), ChangeLevelForm, _change_level),
        Action("reclassify", gettext_lazy("Reclassify"), ReclassifyForm, _reclassify),
        Action(
            "flag-threat", gettext_lazy("Threatens regulator, media or court"), FlagThreatForm, _flag_threat
        ),
        Action("withdraw", gettext_lazy("Customer withdraws"), WithdrawForm, _withdraw),
        Action("decide", gettext_lazy("Decide on a remedy"), DecideForm, _decide),
    ]
}


class Permissions:
    """What this user may do on this case: the role's capability and the case's scope, each asked once."""

    def __init__(self, user: User, complaint: Complaint) -> None:
        self.user = user
        self.complaint = complaint
        self._known: dict[Cap, bool] = {}

    def __call__(self, cap: Cap) -> bool:
        if cap not in self._known:
            self._known[cap] = self.user.can(cap) and complaint_in_scope(self.user, self.complaint, cap)
        return self._known[cap]


def allowed_actions(available: list[str]) -> list[str]:
    """The action forms to offer: exactly what ``complaint_available_actions`` says (the same
    rules the services apply); remedy decisions and reveals have their own controls."""
    return [s for s in available if s in ACTIONS and s != "decide"]


def _remedy_of(complaint: Complaint, remedy_id: int) -> Remedy:
    remedy = complaint.remedies.filter(pk=remedy_id).first()
    if remedy is None:
        raise ValidationError(_("No such remedy on this case."), fields={"remedy": "unknown remedy"})
    return remedy


def decidable_remedies(user: User, remedies: Iterable[Remedy], available: list[str]) -> list[Remedy]:
    """Pending remedies this user may decide on (not their own requests), when the selector says
    they may decide at all: their limit covers the case's money remedies together."""
    if "decide" not in available:
        return []
    return [r for r in remedies if r.status == RemedyStatus.REQUESTED and r.requested_by_id != user.pk]


# --- what the page shows -----------------------------------------------------------------------


@dataclass(frozen=True)
class ClockRow:
    view: ClockView
    state_label: str
    css: str


def clock_rows(clocks: Iterable[ClockView]) -> list[ClockRow]:
    rows = []
    for clock in clocks:
        css = ""
        if clock.state == ClockState.BREACHED or (
            clock.remaining is not None and clock.remaining < timedelta(0)
        ):
            css = "overdue"
        elif clock.remaining is not None and clock.remaining <= DUE_SOON:
            css = "due-soon"
        rows.append(ClockRow(view=clock, state_label=str(ClockState(clock.state).label), css=css))
    return rows


@dataclass
class TimelineRow:
    event: ComplaintEvent
    actor: str
    kind_label: str
    change: str
    lines: list[tuple[str, str]] = field(default_factory=list)
    attachment_id: int | None = None


def _choice_label(choices: Any) -> Callable[[Any, str], str]:
    def fmt(value: Any, kind: str) -> str:
        try:
            return str(choices(value).label)
        except ValueError:
            return str(value)

    return fmt


def _yes_no(value: Any, kind: str) -> str:
    return _("yes") if value else _("no")


def _local_time(value: Any, kind: str) -> str:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if timezone.is_naive(moment):
        return str(value)
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M}"


def _money(value: Any, kind: str) -> str:
    return f"{value} 元"


def _escalation(value: Any, kind: str) -> str:
    try:
        return str(EscalationLevel(int(value)).label)
    except (TypeError, ValueError):
        return str(value)


def _by_kind(
    default: Callable[[Any, str], str], **per_kind: Callable[[Any, str], str]
) -> Callable[[Any, str], str]:
    def fmt(value: Any, kind: str) -> str:
        return per_kind.get(kind, default)(value, kind)

    return fmt


def _plain(value: Any, kind: str) -> str:
    return str(value)


_TRIGGERS = {
    "manual": gettext_lazy("by hand"),
    "threat": gettext_lazy("threat to go to the regulator, the media or a court"),
    "dissatisfied_return_visit": gettext_lazy("dissatisfied at the return visit"),
    "sla_breach": gettext_lazy("a missed time limit"),
}


def _trigger(value: Any, kind: str) -> str:
    text = _TRIGGERS.get(str(value))
    if text is not None:
        return str(text)
    if str(value).startswith(LEVEL_PREFIX):
        return _("the complaint's level")
    if str(value).startswith(SLA_BREACH_PREFIX):
        return str(_TRIGGERS["sla_breach"])
    return str(value)


# Payload keys shown on the timeline, in this order, with their label and how to show the value.
# Flags are shown only when set; ids are left out (attachments get a download link instead).
_FIELDS: dict[str, tuple[str | Promise, Callable[[Any, str], str]]] = {
    "ticket_no": (gettext_lazy("Ticket number"), _plain),
    "other_ticket": (gettext_lazy("Other case"), _plain),
    "text": (gettext_lazy("Note"), _plain),
    "note": (gettext_lazy("Note"), _plain),
    "question": (gettext_lazy("Question"), _plain),
    "message": (gettext_lazy("Customer's message"), _plain),
    "channel": (
        gettext_lazy("Channel"),
        _by_kind(_choice_label(ReplyChannel), registered=_choice_label(Channel)),
    ),
    "content": (gettext_lazy("Reply"), _plain),
    "kind": (
        gettext_lazy("Kind"),
        _by_kind(
            _choice_label(RemedyKind),
            plan_proposed=_choice_label(ResolutionKind),
            linked=_choice_label(LinkKind),
            unlinked=_choice_label(LinkKind),
        ),
    ),
    "measures": (gettext_lazy("Measures"), _plain),
    "responsible": (gettext_lazy("Responsible person"), _plain),
    "deadline": (gettext_lazy("Deadline"), _local_time),
    "amount": (gettext_lazy("Amount"), _money),
    "description": (gettext_lazy("Description"), _plain),
    "reached": (gettext_lazy("Customer reached"), _yes_no),
    "resolved": (gettext_lazy("Problem resolved"), _yes_no),
    "satisfaction": (gettext_lazy("Satisfaction (1–5)"), _plain),
    "satisfied": (gettext_lazy("Satisfied"), _yes_no),
    "comment": (gettext_lazy("Comment"), _plain),
    "reason": (gettext_lazy("Reason"), _by_kind(_plain, rejected=_choice_label(RejectionReason))),
    "explanation": (gettext_lazy("Explanation given"), _plain),
    "from_level": (gettext_lazy("From"), _escalation),
    "to_level": (gettext_lazy("To"), _escalation),
    "from": (gettext_lazy("From"), _choice_label(Level)),
    "to": (gettext_lazy("To"), _choice_label(Level)),
    "level": (gettext_lazy("Level"), _choice_label(Level)),
    "trigger": (gettext_lazy("Because of"), _trigger),
    "lead_department": (gettext_lazy("Lead department"), _plain),
    "cooperating_departments": (gettext_lazy("Cooperating departments"), _plain),
    "assignee": (gettext_lazy("Assignee"), _plain),
    "previous": (gettext_lazy("Previous assignee"), _plain),
    "name": (gettext_lazy("File"), _plain),
    "size": (gettext_lazy("Size (bytes)"), _plain),
    "clock": (gettext_lazy("Time limit"), _choice_label(ClockKind)),
    "due_at": (gettext_lazy("Due"), _local_time),
    "penalty": (gettext_lazy("Penalty"), _money),
    "reopen_count": (gettext_lazy("Times reopened"), _plain),
    "first_contact_resolution": (gettext_lazy("First-contact resolution"), _yes_no),
    "self_approved": (gettext_lazy("Within the requester's own limit"), _yes_no),
    "threatens_external": (gettext_lazy("Threatens regulator, media or court"), _yes_no),
    "customer_blacklisted": (gettext_lazy("Blacklisted caller"), _yes_no),
}
_FLAGS = frozenset(
    {"first_contact_resolution", "self_approved", "threatens_external", "customer_blacklisted"}
)
_HIDDEN = frozenset(
    {
        "plan_id",
        "remedy_id",
        "reply_id",
        "return_visit_id",
        "attachment_id",
        "previous_lead_department_id",
        "department_id",
        "person_id",
        "cycle",
        "from_customer",
        "to_customer",
        "via",
        "category",
        "recomputed",
        "other",
    }
)


# Payload keys holding a staff member's login: shown as their display name (刘洋, not handler_business).
_PEOPLE = frozenset({"assignee", "previous", "responsible"})


def _people_names(events: list[ComplaintEvent]) -> dict[str, str]:
    """login → display name for the staff the events' payloads name (one query, none when the
    payloads name nobody)."""
    logins = {
        str(event.payload[key])
        for event in events
        if isinstance(event.payload, dict)
        for key in _PEOPLE
        if event.payload.get(key)
    }
    if not logins:
        return {}
    return {user.username: str(user) for user in User.objects.filter(username__in=logins)}


def event_lines(
    event: ComplaintEvent, department_names: dict[str, str], people: dict[str, str] | None = None
) -> list[tuple[str, str]]:
    """The payload of one event as labelled lines, in a fixed order whatever the database kept."""
    payload = event.payload if isinstance(event.payload, dict) else {}
    kind = event.kind
    lines: list[tuple[str, str]] = []
    for key, (label, fmt) in _FIELDS.items():
        value = payload.get(key)
        if value is None or value == "" or value == []:
            continue
        if key in _FLAGS and not value:
            continue
        if key == "lead_department":
            text = department_names.get(str(value), str(value))
        elif key == "cooperating_departments" and isinstance(value, list):
            text = ", ".join(department_names.get(str(code), str(code)) for code in value)
        elif key in _PEOPLE:
            text = (people or {}).get(str(value), str(value))
        elif key == "reason" and automatic_reason(payload.get("trigger")) is not None:
            text = automatic_reason(payload.get("trigger")) or ""  # in the reader's language
        else:
            text = fmt(value, kind)
        lines.append((str(label), text))
    for key in sorted(set(payload) - set(_FIELDS) - _HIDDEN):
        value = payload[key]
        if value not in (None, "", [], {}):
            lines.append((key, str(value)))
    return lines


def timeline_rows(events: Iterable[ComplaintEvent], department_names: dict[str, str]) -> list[TimelineRow]:
    events = list(events)
    people = _people_names(events)
    rows = []
    for event in events:
        change = ""
        if event.from_status and event.to_status and event.from_status != event.to_status:
            change = f"{Status(event.from_status).label} → {Status(event.to_status).label}"
        attachment_id = event.payload.get("attachment_id") if isinstance(event.payload, dict) else None
        rows.append(
            TimelineRow(
                event=event,
                actor=str(event.actor) if event.actor is not None else event.actor_label,
                kind_label=str(EventKind(event.kind).label) if event.kind in EventKind.values else event.kind,
                change=change,
                lines=event_lines(event, department_names, people),
                attachment_id=attachment_id if isinstance(attachment_id, int) else None,
            )
        )
    return rows


def _render_page(
    request: HttpRequest,
    user: User,
    complaint: Complaint,
    *,
    status: int = 200,
    bound: tuple[str, CaseActionForm] | None = None,
    upload_form: UploadForm | None = None,
    top_error: str = "",
) -> HttpResponse:
    may = Permissions(user, complaint)
    departments = list(Department.objects.order_by("code"))
    department_names = {d.code: d.label for d in departments}
    by_id = {d.pk: d for d in departments}
    cooperating = [by_id[pk] for pk in complaint.cooperating_departments.values_list("pk", flat=True)]
    staff = User.objects.in_bulk(
        [pk for pk in (complaint.assignee_id, complaint.first_contact_owner_id) if pk is not None]
    )
    newest_first = request.GET.get("order") == "newest"
    events = list(complaint_timeline(complaint=complaint))
    if newest_first:
        events.reverse()
    attachments = list(complaint.attachments.select_related("uploaded_by").order_by("created_at", "id"))
    remedies = list(
        complaint.remedies.select_related("requested_by", "decided_by").order_by("requested_at", "id")
    )
    history = (
        customer_history(actor=user, customer_id=complaint.customer_id)
        if complaint.customer_id is not None
        else None
    )
    options = CaseOptions(complaint=complaint, actor=user, departments=departments)

    bound_slug, bound_form = bound if bound is not None else ("", None)
    action_forms: list[tuple[Action, Form, str]] = []
    available = complaint_available_actions(user, complaint)
    for slug in allowed_actions(available):
        spec = ACTIONS[slug]
        form: Form
        if slug == bound_slug and bound_form is not None:
            form = bound_form
        else:
            form = spec.form(complaint=complaint, actor=user, options=options, prefix=slug)
        label = str(spec.label)
        if slug == "investigate" and complaint.status == Status.AWAITING_CUSTOMER:
            label = _("Resume: the customer answered")
        action_forms.append((spec, form, label))
    offered = {spec.slug for spec, _form, _label in action_forms}
    if bound_form is not None and bound_slug not in offered and bound_form.errors:
        # The form is not offered any more (or never was): its errors still belong on the page.
        top_error = top_error or " ".join(str(e) for errors in bound_form.errors.values() for e in errors)

    decide_forms: list[tuple[Remedy, Form]] = []
    for remedy in decidable_remedies(user, remedies, available):
        if (
            bound_slug == "decide"
            and bound_form is not None
            and str(bound_form.data.get("decide-remedy")) == str(remedy.pk)
        ):
            decide_forms.append((remedy, bound_form))
        else:
            decide_forms.append(
                (
                    remedy,
                    DecideForm(
                        complaint=complaint,
                        actor=user,
                        options=options,
                        prefix="decide",
                        auto_id=f"id_remedy{remedy.pk}_%s",
                        initial={"remedy": remedy.pk},
                    ),
                )
            )

    flags = case_flags([complaint.pk]).get(complaint.pk)  # triage: risk, repeat, duplicate
    clocks = sla_explain(complaint=complaint)
    assignee = staff.get(complaint.assignee_id or 0)
    lead = by_id.get(complaint.lead_department_id or 0)
    step = workspace.next_step(
        complaint, clocks=clocks, assignee=assignee, lead=lead, available=available, now=timezone.now()
    )
    # The action whose form is open: the one just submitted, else the one asked for (?do=).
    open_slug = bound_slug or request.GET.get("do", "")
    if open_slug not in offered and not (open_slug == "decide" and decide_forms):
        open_slug = ""
    context = {
        "triage_flags": flags,
        "may_merge": bool(flags and flags.duplicate_of and "withdraw" in available),
        "complaint": complaint,
        "customer": complaint.customer,
        "lead_department": lead,
        "cooperating_departments": cooperating,
        "assignee": assignee,
        "first_contact_owner": staff.get(complaint.first_contact_owner_id or 0),
        "status_label": Status(complaint.status).label,
        "level_label": Level(complaint.level).label,
        "escalation_label": EscalationLevel(complaint.escalation_level).label,
        "clocks": clock_rows(clocks),
        "next_step": step,
        "open_slug": open_slug,
        "others_here": workspace.presence_touch(complaint.pk, user),
        "presence_poll": workspace.PRESENCE_POLL,
        "related": related_cases(user, complaint),
        "may_link": may(Cap.CASE_HANDLE),
        "history": history,
        "timeline": timeline_rows(events, department_names),
        "newest_first": newest_first,
        "attachments": attachments,
        "remedies": remedies,
        "may_reveal": may(Cap.CUSTOMER_REVEAL),
        "may_upload": may(Cap.CASE_NOTE) and complaint.status in OPEN,
        "action_forms": action_forms,
        "decide_forms": decide_forms,
        "upload_form": upload_form or UploadForm(prefix="upload"),
        "top_error": top_error,
        "bound_slug": bound_slug,
    }
    return render(request, "web/case/page.html", context, status=status)


def _errors_onto(form: Form, exc: ValidationError) -> None:
    """Put a service's refusal next to the field it is about, or above the form."""
    visible = {f.name for f in form.visible_fields()}
    names = [name for name in exc.fields if name in visible]
    for name in names:
        form.add_error(name, exc.message)
    if not names:
        form.add_error(None, exc.message)


def _form_ids(spec: Action, request: HttpRequest) -> dict[str, str]:
    """Field names carry the action as prefix; a remedy's decision form also gets its own ids."""
    if spec.slug == "decide":
        remedy = "".join(ch for ch in request.POST.get("decide-remedy", "") if ch.isdigit())
        return {"prefix": "decide", "auto_id": f"id_remedy{remedy}_%s"}
    return {"prefix": spec.slug}


# --- views -------------------------------------------------------------------------------------


@login_required
@require_GET
def case_page(request: HttpRequest, pk: int) -> HttpResponse:
    user = _actor(request)
    complaint = complaint_for_display(actor=user, complaint_id=pk, origin=Origin.from_request(request))
    return _render_page(request, user, complaint)


def _case_page_for(request: HttpRequest, pk: int, action: str = "") -> str:
    """Where a GET of an action's address goes: the case page with that action's form open."""
    url = reverse("case", args=[pk])
    return f"{url}?do={action}#actions" if action in ACTIONS else url


@login_required
@get_goes_to(_case_page_for)
def case_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    spec = ACTIONS.get(action)
    if spec is None:
        raise Http404(_("No such action."))
    user = _actor(request)
    origin = Origin.from_request(request)
    complaint = access_complaint_by_id(user, pk)  # outside the scope: a 403 page, nothing parsed
    departments = list(Department.objects.order_by("code")) if spec.slug == "dispatch" else []
    options = CaseOptions(complaint=complaint, actor=user, departments=departments)
    form = spec.form(
        request.POST, complaint=complaint, actor=user, options=options, **_form_ids(spec, request)
    )
    if form.is_valid():
        try:
            message = spec.run(Call(actor=user, complaint=complaint, data=form.cleaned_data, origin=origin))
        except ValidationError as exc:
            _errors_onto(form, exc)
        except (InvalidTransition, ConflictError) as exc:
            fresh = complaint_for_display(actor=user, complaint_id=pk, origin=origin)
            if isinstance(exc, ConflictError) and "version" in form.fields:
                # Keep what the user typed, now against the version they are looking at.
                data = request.POST.copy()
                data[f"{spec.slug}-version"] = str(fresh.version)
                form = spec.form(
                    data, complaint=fresh, actor=user, options=options, **_form_ids(spec, request)
                )
                form.is_valid()
            return _render_page(
                request,
                user,
                fresh,
                status=409,
                bound=(spec.slug, cast(CaseActionForm, form)),
                top_error=exc.message,
            )
        else:
            messages.success(request, message)
            return redirect("case", pk=pk)
    fresh = complaint_for_display(actor=user, complaint_id=pk, origin=origin)
    return _render_page(request, user, fresh, status=400, bound=(spec.slug, form))


@login_required
@get_goes_to(lambda request, pk: reverse("case", args=[pk]) + "#evidence")
def case_upload(request: HttpRequest, pk: int) -> HttpResponse:
    user = _actor(request)
    origin = Origin.from_request(request)
    access_complaint_by_id(user, pk)
    form = UploadForm(request.POST, request.FILES, prefix="upload")
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            attachment = svc.attachment_add(
                actor=user, complaint_id=pk, name=upload.name, content=cast(BinaryIO, upload), origin=origin
            )
        except ValidationError as exc:
            form.add_error("file", exc.message)
        except InvalidTransition as exc:
            fresh = complaint_for_display(actor=user, complaint_id=pk, origin=origin)
            return _render_page(request, user, fresh, status=409, top_error=exc.message)
        else:
            messages.success(request, _("'%(name)s' attached.") % {"name": attachment.original_name})
            return redirect("case", pk=pk)
    fresh = complaint_for_display(actor=user, complaint_id=pk, origin=origin)
    return _render_page(request, user, fresh, status=400, upload_form=form)


@login_required
@require_GET
def case_file(request: HttpRequest, pk: int, attachment_id: int) -> FileResponse:
    user = _actor(request)
    complaint = complaint_for_display(actor=user, complaint_id=pk, origin=Origin.from_request(request))
    attachment = complaint.attachments.filter(pk=attachment_id).first()
    if attachment is None:
        raise Http404(_("No such file on this case."))
    try:
        handle = attachment.file.open("rb")
    except OSError:
        raise Http404(_("The file is missing from storage.")) from None
    response = FileResponse(
        handle, as_attachment=True, filename=attachment.original_name, content_type=attachment.content_type
    )
    response["Cache-Control"] = "private, no-store"
    return response


@never_cache
@login_required
@require_POST
def case_reveal(request: HttpRequest, pk: int, field: str) -> HttpResponse:
    if field not in REVEALABLE:
        raise Http404(_("This field cannot be revealed."))
    user = _actor(request)
    value = svc.complaint_reveal(
        actor=user, complaint_id=pk, field=field, origin=Origin.from_request(request)
    )
    template = "web/case/_revealed.html" if getattr(request, "htmx", False) else "web/case/revealed.html"
    return render(request, template, {"value": value, "field": field, "pk": pk})


@login_required
@require_GET
def case_clocks(request: HttpRequest, pk: int) -> HttpResponse:
    """The clocks alone, for the page's refresh every minute (no personal data, so no read log)."""
    complaint = access_complaint_by_id(_actor(request), pk)
    context = {"complaint": complaint, "clocks": clock_rows(sla_explain(complaint=complaint))}
    return render(request, "web/case/_clocks.html", context)


@login_required
@require_GET
def case_assignees(request: HttpRequest, pk: int) -> HttpResponse:
    """The dispatch form's assignee options for the lead department just chosen (htmx fragment)."""
    user = _actor(request)
    complaint = access_complaint_by_id(user, pk)
    options = CaseOptions(
        complaint=complaint, actor=user, departments=list(Department.objects.order_by("code"))
    )
    raw = request.GET.get("dispatch-lead_department", "")
    people = options.handlers_of(int(raw) if raw.isdigit() else None)
    return render(request, "web/case/_assignees.html", {"people": people})


urlpatterns: list[URLPattern] = [
    path("cases/<int:pk>/", case_page, name="case"),
    path("cases/<int:pk>/do/<slug:action>/", case_action, name="case-action"),
    path("cases/<int:pk>/reveal/<slug:field>/", case_reveal, name="case-reveal"),
    path("cases/<int:pk>/files/", case_upload, name="case-upload"),
    path("cases/<int:pk>/files/<int:attachment_id>/", case_file, name="case-file"),
    path("cases/<int:pk>/clocks/", case_clocks, name="case-clocks"),
    path("cases/<int:pk>/assignees/", case_assignees, name="case-assignees"),
    *workspace.urlpatterns,
]
