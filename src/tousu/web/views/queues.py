"""Pages: the work queues (my cases, my department, due soon, overdue…) and their bulk actions."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from tousu.accounts.models import User
from tousu.accounts.roles import Cap
from tousu.common.errors import PermissionDenied, TousuError, ValidationError
from tousu.common.origin import Origin
from tousu.complaints.models import Complaint, SavedView
from tousu.complaints.queues import (
    DEFAULT_SORT,
    DUE_SOON,
    QUEUES,
    SORTS,
    TAB_COUNT_CAP,
    capped_counts,
    complaint_queue,
    complaint_queue_counts,
    complaint_queue_page,
)
from tousu.complaints.search import phone_tail_search_record
from tousu.complaints.selectors import complaints_visible_to
from tousu.complaints.services import complaint_assign, complaint_dispatch
from tousu.complaints.services.saved_views import (
    saved_view_create,
    saved_view_delete,
    saved_view_editable,
    saved_view_query,
    saved_view_update,
    saved_views_for,
)
from tousu.triage.selectors import CaseFlags, case_flags
from tousu.web.forms.queues import BulkActionForm, QueueFilterForm, SavedViewForm, department_choices

# A queue's own count is exact up to this many cases; above it the page says "more than 1000
# cases" and pages through the first ones (narrow the filters to reach the others).
LIST_COUNT_CAP = 1_000


class CappedPaginator(Paginator):
    """A paginator whose count stops at ``cap`` (``more``: there are more than that): counting
    every case of a queue on each page view costs a scan of the whole scope."""

    def __init__(
        self, object_list: QuerySet[Complaint], per_page: int, cap: int, known_count: int | None = None
    ) -> None:
        super().__init__(object_list, per_page)
        self.cap = cap
        self.known_count = known_count

    @cached_property
    def _capped(self) -> int:
        if self.known_count is not None:
            return self.known_count
        return capped_counts({"list": cast(QuerySet[Complaint], self.object_list)}, self.cap)["list"]

    @cached_property
    def count(self) -> int:
        return min(self._capped, self.cap)

    @property
    def more(self) -> bool:
        return self._capped > self.cap


def _tab_count(count: int | None) -> str | None:
    if count is None:
        return None
    return f"{TAB_COUNT_CAP}+" if count > TAB_COUNT_CAP else str(count)


@dataclass(frozen=True)
class QueueRow:
    """One line of the queue table: the case and its nearest deadline."""

    case: Complaint
    deadline: datetime | None
    remaining: timedelta | None
    urgency: str  # "overdue", "due-soon" or ""
    flags: CaseFlags | None = None  # high escalation risk, repeat (重复投诉), duplicate


def _row(case: Complaint, now: datetime, flags: CaseFlags | None = None) -> QueueRow:
    deadline = case.next_due_at  # the earliest due time still owed: what the queue sorts by
    remaining = deadline - now if deadline is not None else None
    urgency = ""
    if remaining is not None:
        urgency = "overdue" if remaining <= timedelta(0) else "due-soon" if remaining <= DUE_SOON else ""
    return QueueRow(case=case, deadline=deadline, remaining=remaining, urgency=urgency, flags=flags)


@dataclass(frozen=True)
class SortHeader:
    """A sortable column: the ``?sort=`` its link asks for, and its ``aria-sort`` now."""

    link_sort: str
    aria_sort: str  # "ascending", "descending" or "" (not sorted by this column)


def _sort_headers(current: str) -> dict[str, SortHeader]:
    """The sortable columns, by ``SORTS`` key. The column sorted by links to the reverse order;
    another column links to its ascending order."""
    current = current or DEFAULT_SORT
    headers: dict[str, SortHeader] = {}
    for key in SORTS:
        if current == key:
            headers[key] = SortHeader(link_sort=f"-{key}", aria_sort="ascending")
        elif current == f"-{key}":
            headers[key] = SortHeader(link_sort=key, aria_sort="descending")
        else:
            headers[key] = SortHeader(link_sort=key, aria_sort="")
    return headers


def _actor(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required ran first
    return user


# --- searching for a phone number without putting it in the address -------------------------------
# The filter form is POSTed; a search text that looks like a phone number is kept in the session
# under a random token, and the address carries ``qt=<token>`` instead (``q=`` stays for words and
# ticket numbers). A phone number typed into a ``q=`` address is ignored, with a warning.

PHONE_SEARCHES = "queue_phone_searches"  # session key: {token: text}
MAX_PHONE_SEARCHES = 20
_PHONE_LIKE = re.compile(r"^\+?[\d\s\-()]{7,}$")


def _phone_like(text: str) -> bool:
    text = text.strip()
    return bool(_PHONE_LIKE.match(text)) and sum(c.isdigit() for c in text) >= 7


def _filter_data(request: HttpRequest) -> QueryDict:
    """The filters of this GET: ``qt`` resolved from the session, a phone number in ``q`` dropped."""
    data = request.GET.copy()
    if _phone_like(data.get("q", "")):
        data.pop("q")
        messages.warning(
            request,
            _("Search for a phone number with the search box: it is not taken from the address."),
        )
    token = data.pop("qt", [""])[-1]
    if token:
        text = request.session.get(PHONE_SEARCHES, {}).get(token)
        if text:
            data["q"] = text
    return data


def _filters_posted(request: HttpRequest, name: str) -> HttpResponse:
    """The filter form sent by POST: back to the queue's address, a phone number replaced by a
    token."""
    data = request.POST.copy()
    data.pop("csrfmiddlewaretoken", None)
    q = data.get("q", "").strip()
    if _phone_like(q):
        data.pop("q")
        token = secrets.token_urlsafe(9)
        kept = dict(list(request.session.get(PHONE_SEARCHES, {}).items())[-(MAX_PHONE_SEARCHES - 1) :])
        request.session[PHONE_SEARCHES] = {**kept, token: q}
        data["qt"] = token
    params = QueryDict(mutable=True)
    for key, values in data.lists():
        kept_values = [v for v in values if v != ""]
        if kept_values:
            params.setlist(key, kept_values)
    target = reverse("queue", kwargs={"name": name})
    return redirect(f"{target}?{params.urlencode()}" if params else target)


@dataclass(frozen=True)
class ViewLink:
    """A saved view beside the queues: where it leads, whether it is the page shown, and whether
    the reader may change it."""

    view: SavedView
    href: str
    current: bool
    editable: bool
    shared: bool


def _view_links(actor: User, name: str, query: str) -> list[ViewLink]:
    links = []
    for view in saved_views_for(actor):
        target = reverse("queue", kwargs={"name": view.queue})
        links.append(
            ViewLink(
                view=view,
                href=f"{target}?{view.query}" if view.query else target,
                current=view.queue == name and view.query == query,
                editable=saved_view_editable(actor, view),
                shared=view.department_id is not None,
            )
        )
    return links


def _render_queue(
    request: HttpRequest,
    name: str,
    *,
    bulk_form: BulkActionForm | None = None,
    view_form: SavedViewForm | None = None,
    status: int = 200,
) -> HttpResponse:
    actor = _actor(request)
    now = timezone.now()
    departments = department_choices()
    filter_form = QueueFilterForm(_filter_data(request), departments=departments)
    filter_form.is_valid()
    filters = filter_form.filters()
    found = complaint_queue_page(actor=actor, name=name, filters=filters, now=now, cap=LIST_COUNT_CAP)
    for label, problem in filter_form.ignored():
        messages.warning(
            request,
            _("The filter “%(field)s” was ignored: %(problem)s") % {"field": label, "problem": problem},
        )
    counts = complaint_queue_counts(actor=actor, now=now, cap=TAB_COUNT_CAP)
    paginator = CappedPaginator(
        found.cases, filter_form.page_size(), cap=LIST_COUNT_CAP, known_count=found.known_count
    )
    page = paginator.get_page(request.GET.get("page"))
    cases = list(page.object_list)
    phone_tail_search_record(
        actor=actor, text=filter_form.filters().q, found=paginator.count, origin=Origin.from_request(request)
    )
    flags = case_flags([case.pk for case in cases])  # two queries for the page, not two per row
    may_bulk = actor.can(Cap.CASE_DISPATCH)
    if may_bulk and bulk_form is None:
        bulk_form = BulkActionForm(departments=departments)
    context = {
        "name": name,
        "title": QUEUES[name],
        "tabs": [(key, label, _tab_count(counts[key])) for key, label in QUEUES.items()],
        "filter_form": filter_form,
        "page": page,
        "rows": [_row(case, now, flags.get(case.pk)) for case in cases],
        "bulk_form": bulk_form if may_bulk else None,
        "selected": bulk_form.selected() if bulk_form is not None and bulk_form.is_bound else set(),
        "query": request.GET.urlencode(),
        "sorts": _sort_headers(filters.sort),
        "views": _view_links(actor, name, saved_view_query(request.GET.urlencode())),
        "view_form": view_form or SavedViewForm(),
    }
    return render(request, "web/queues/queue.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def queue(request: HttpRequest, name: str) -> HttpResponse:
    if request.method == "POST":
        complaint_queue(actor=_actor(request), name=name)  # an unknown queue stops here
        return _filters_posted(request, name)
    return _render_queue(request, name)


@require_POST
@login_required
@transaction.non_atomic_requests
def queue_bulk(request: HttpRequest, name: str) -> HttpResponse:
    """Apply one action to each ticked case through the case services, one case and one
    transaction at a time; report which were done and which were refused, and why."""
    actor = _actor(request)
    complaint_queue(actor=actor, name=name)  # an unknown queue or a role without cases stops here
    if not actor.can(Cap.CASE_DISPATCH):
        raise PermissionDenied(
            _("Your role (%(role)s) may not do this: %(action)s.")
            % {"role": actor.get_role_display(), "action": Cap.CASE_DISPATCH.label}
        )
    form = BulkActionForm(request.POST, departments=department_choices())
    if not form.is_valid():
        return _render_queue(request, name, bulk_form=form, status=400)
    data = form.cleaned_data
    ids: list[int] = data["cases"]
    tickets = dict(complaints_visible_to(actor=actor).filter(pk__in=ids).values_list("pk", "ticket_no"))
    origin = Origin.from_request(request)
    done: list[str] = []
    failed: list[tuple[str, str]] = []
    for pk in ids:
        label = tickets.get(pk) or f"#{pk}"
        if pk not in tickets:  # outside the actor's scope, or gone: say no more than that
            failed.append((label, _("No such case.")))
            continue
        try:
            if data["action"] == BulkActionForm.ASSIGN:
                complaint_assign(actor=actor, complaint_id=pk, assignee_id=data["assignee"], origin=origin)
            else:
                complaint_dispatch(
                    actor=actor,
                    complaint_id=pk,
                    lead_department_id=data["department"],
                    assignee_id=data["assignee"],
                    origin=origin,
                )
        except TousuError as exc:
            failed.append((label, exc.message))
        else:
            done.append(label)
    if done:
        text = (
            _("Assigned %(count)s case(s): %(cases)s.")
            if data["action"] == BulkActionForm.ASSIGN
            else _("Dispatched %(count)s case(s): %(cases)s.")
        )
        messages.success(request, text % {"count": len(done), "cases": ", ".join(done)})
    for label, problem in failed:
        messages.error(
            request, _("%(case)s was not changed: %(problem)s") % {"case": label, "problem": problem}
        )
    target = reverse("queue", kwargs={"name": name})
    return redirect(f"{target}?{request.GET.urlencode()}" if request.GET else target)


def _back(request: HttpRequest, name: str) -> HttpResponse:
    target = reverse("queue", kwargs={"name": name})
    return redirect(f"{target}?{request.GET.urlencode()}" if request.GET else target)


@require_POST
@login_required
def queue_view_save(request: HttpRequest, name: str) -> HttpResponse:
    """Save the filters and order of this page (its address) as a named view."""
    actor = _actor(request)
    complaint_queue(actor=actor, name=name)  # an unknown queue or a role without cases stops here
    form = SavedViewForm(request.POST)
    if not form.is_valid():
        return _render_queue(request, name, view_form=form, status=400)
    try:
        view = saved_view_create(
            actor=actor,
            name=form.cleaned_data["name"],
            queue=name,
            query=request.GET.urlencode(),
            shared=form.cleaned_data["shared"],
            origin=Origin.from_request(request),
        )
    except ValidationError as exc:
        form.add_error(None, exc.message)
        return _render_queue(request, name, view_form=form, status=400)
    messages.success(request, _("View “%(name)s” saved.") % {"name": view.name})
    return _back(request, name)


@require_POST
@login_required
def queue_view_update(request: HttpRequest, name: str, pk: int) -> HttpResponse:
    """Give a saved view the queue, filters and order of this page."""
    actor = _actor(request)
    complaint_queue(actor=actor, name=name)
    try:
        view = saved_view_update(
            actor=actor,
            view_id=pk,
            queue=name,
            query=request.GET.urlencode(),
            origin=Origin.from_request(request),
        )
    except ValidationError as exc:
        messages.error(request, exc.message)
        return _back(request, name)
    messages.success(request, _("View “%(name)s” now shows this page.") % {"name": view.name})
    return _back(request, name)


@require_POST
@login_required
def queue_view_delete(request: HttpRequest, name: str, pk: int) -> HttpResponse:
    actor = _actor(request)
    complaint_queue(actor=actor, name=name)
    saved_view_delete(actor=actor, view_id=pk, origin=Origin.from_request(request))
    messages.success(request, _("View deleted."))
    return _back(request, name)


urlpatterns: list[URLPattern] = [
    path("queues/<slug:name>/", queue, name="queue"),
    path("queues/<slug:name>/bulk/", queue_bulk, name="queue-bulk"),
    path("queues/<slug:name>/views/", queue_view_save, name="queue-view-save"),
    path("queues/<slug:name>/views/<int:pk>/update/", queue_view_update, name="queue-view-update"),
    path("queues/<slug:name>/views/<int:pk>/delete/", queue_view_delete, name="queue-view-delete"),
]
