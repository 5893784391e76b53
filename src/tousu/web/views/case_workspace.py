"""The case page as a workspace: the next step, who else has the case open, and related cases.

- ``next_step``: who must do what by when, from the case's state, its assignee or department and
  its running clock; it says "you" when the step is one of the viewer's allowed actions.
- Presence: each viewer of a case page is remembered for ``PRESENCE_TTL`` seconds in the cache every
  web process shares (Redis in production); the page polls ``case-presence`` to stay listed and to
  show whoever else has the case open, by display name.
- Related cases: link two cases by ticket number, or remove a link, through the triage services
  (the same ``CaseLink`` rows and ``linked`` events triage writes for repeats and duplicates).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import caches
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from tousu.accounts.models import Department, User
from tousu.common.errors import NotFound, ValidationError
from tousu.common.origin import Origin
from tousu.common.prg import get_goes_to
from tousu.complaints.access import access_complaint_by_id
from tousu.complaints.models import Complaint
from tousu.complaints.states import TERMINAL, Status
from tousu.sla.models import ClockState
from tousu.sla.selectors import ClockView
from tousu.triage.services import triage_case_link, triage_case_unlink

# --- the next step ----------------------------------------------------------------------------------

# For each status: what must happen next, and the action that does it.
_STEPS: dict[str, tuple[str | Promise, str]] = {
    Status.REGISTERED: (gettext_lazy("Accept the complaint or say why it is not accepted"), "accept"),
    Status.ACCEPTED: (gettext_lazy("Dispatch the case to the department that solves it"), "dispatch"),
    Status.DISPATCHED: (gettext_lazy("Start investigating"), "investigate"),
    Status.INVESTIGATING: (gettext_lazy("Find the cause and propose a resolution plan"), "plan"),
    Status.AWAITING_CUSTOMER: (gettext_lazy("Wait for the customer's answer, then resume"), "investigate"),
    Status.PLAN_PROPOSED: (gettext_lazy("Carry out the plan and reply to the customer"), "reply"),
    Status.AWAITING_APPROVAL: (gettext_lazy("Approve or refuse the requested remedy"), "decide"),
    Status.REPLIED: (gettext_lazy("Call the customer back: is the problem solved?"), "return-visit"),
    Status.RETURN_VISIT: (gettext_lazy("Close the case"), "close"),
    Status.REOPENED: (gettext_lazy("Work the reopened case again"), "investigate"),
}


@dataclass(frozen=True)
class NextStep:
    what: str
    who: str
    action: str  # the action slug that does the step ("" when the case is finished)
    yours: bool  # the viewer may take that action now
    due_at: datetime | None
    clock: str  # the clock that sets ``due_at``
    overdue: bool
    paused: bool  # the clocks wait (for the customer)


def _who(complaint: Complaint, status: str, assignee: User | None, lead: Department | None) -> str:
    if status == Status.AWAITING_CUSTOMER:
        return _("the customer")
    if status == Status.AWAITING_APPROVAL:
        return _("an approver whose limit covers the amount")
    if status == Status.REPLIED:
        return _("the return-visit team")
    if status in (Status.REGISTERED, Status.ACCEPTED, Status.RETURN_VISIT) and lead is None:
        return _("customer service")
    if assignee is not None:
        return str(assignee)
    if lead is not None:
        return _("%(department)s (nobody assigned yet)") % {"department": lead}
    return _("customer service")


def next_step(
    complaint: Complaint,
    *,
    clocks: list[ClockView],
    assignee: User | None,
    lead: Department | None,
    available: list[str],
    now: datetime,
) -> NextStep | None:
    """Who must do what by when; ``None`` once the case is finished."""
    status = complaint.status
    if status in TERMINAL or status not in _STEPS:
        return None
    what, action = _STEPS[status]
    running = [c for c in clocks if c.state in (ClockState.RUNNING, ClockState.BREACHED) and c.met_at is None]
    first = min(running, key=lambda c: c.due_at, default=None)
    return NextStep(
        what=str(what),
        who=_who(complaint, status, assignee, lead),
        action=action,
        yours=action in available and status != Status.AWAITING_CUSTOMER,  # the customer's move
        due_at=first.due_at if first else None,
        clock=first.label if first else "",
        overdue=bool(first and (first.state == ClockState.BREACHED or first.due_at <= now)),
        paused=first is None and any(c.state == ClockState.PAUSED for c in clocks),
    )


# --- presence -------------------------------------------------------------------------------------

PRESENCE_TTL = 45  # seconds a viewer stays listed without a new poll
PRESENCE_POLL = 15  # seconds between the page's polls
_CACHE = "ratelimit"  # the cache every web process shares (Redis when TOUSU_CACHE_URL is set)


def _presence_key(pk: int) -> str:
    return f"presence:case:{pk}"


def presence_touch(complaint_id: int, user: User, *, now: float | None = None) -> list[str]:
    """Note that ``user`` has the case open; return the display names of the others who have it
    open now, sorted."""
    now = time.time() if now is None else now
    cache = caches[_CACHE]
    key = _presence_key(complaint_id)
    seen: dict[int, tuple[str, float]] = {
        uid: entry for uid, entry in (cache.get(key) or {}).items() if entry[1] > now
    }
    seen[user.pk] = (str(user), now + PRESENCE_TTL)
    cache.set(key, seen, PRESENCE_TTL)
    return sorted(name for uid, (name, _until) in seen.items() if uid != user.pk)


@login_required
@require_GET
def case_presence(request: HttpRequest, pk: int) -> HttpResponse:
    """Who else has this case open (the page polls this every ``PRESENCE_POLL`` seconds)."""
    user = cast(User, request.user)
    access_complaint_by_id(user, pk)
    others = presence_touch(pk, user)
    return render(request, "web/case/_presence.html", {"pk": pk, "others": others, "poll": PRESENCE_POLL})


# --- related cases ----------------------------------------------------------------------------------


def _other_by_ticket(text: str) -> Complaint:
    text = text.strip().upper()
    found = None
    if text.startswith("#") and text[1:].isdigit():
        found = Complaint.objects.filter(pk=int(text[1:])).first()
    elif text:
        found = Complaint.objects.filter(ticket_no=text if text.startswith("TS") else f"TS{text}").first()
    if found is None:
        raise ValidationError(
            _("No case has the ticket number '%(ticket)s'.") % {"ticket": text[:40]},
            fields={"ticket": "unknown"},
        )
    return found


def _case_url(request: HttpRequest, pk: int, **_kwargs: object) -> str:
    return reverse("case", args=[pk]) + "#related"


@login_required
@get_goes_to(_case_url)
def case_link(request: HttpRequest, pk: int) -> HttpResponse:
    user = cast(User, request.user)
    try:
        other = _other_by_ticket(request.POST.get("ticket", ""))
        triage_case_link(actor=user, complaint_id=pk, other_id=other.pk, origin=Origin.from_request(request))
    except ValidationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Case linked to %(other)s.") % {"other": other})
    return redirect(_case_url(request, pk))


@login_required
@get_goes_to(_case_url)
def case_unlink(request: HttpRequest, pk: int, other: int) -> HttpResponse:
    user = cast(User, request.user)
    try:
        triage_case_unlink(actor=user, complaint_id=pk, other_id=other, origin=Origin.from_request(request))
    except (ValidationError, NotFound) as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The link was removed."))
    return redirect(_case_url(request, pk))


urlpatterns: list[URLPattern] = [
    path("cases/<int:pk>/presence/", case_presence, name="case-presence"),
    path("cases/<int:pk>/links/", case_link, name="case-link"),
    path("cases/<int:pk>/links/<int:other>/remove/", case_unlink, name="case-unlink"),
]
