"""The registration page's suggestion (htmx): as the agent types the description, the classifier
proposes category, level, lead department and escalation risk, with its explanation. The
suggestion rides along in hidden fields, so what the agent finally chose is recorded beside it."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from tousu.accounts.models import User
from tousu.accounts.roles import Cap
from tousu.common.errors import NotFound, PermissionDenied, TousuError
from tousu.common.names import in_active_language
from tousu.common.origin import Origin
from tousu.complaints.models import Category
from tousu.triage import selectors
from tousu.triage.models import Incident
from tousu.triage.selectors import suggestion_for
from tousu.triage.services import (
    classification_decide,
    incident_close,
    incident_reply_all,
    triage_duplicate_merge,
)
from tousu.vocabulary.choices import Level

MIN_CHARS = 4


def triage_attrs() -> dict[str, str]:
    """htmx attributes for the description field: ask for a suggestion as the agent types."""
    return {
        "hx-post": reverse("triage-suggest"),
        "hx-trigger": "input changed delay:400ms",
        "hx-target": "#triage-suggestion",
        "hx-swap": "outerHTML",
        "hx-include": "#id_description, #id_demand, #id_business_type",
        "hx-sync": "this:replace",
    }


@login_required
@require_POST
def suggest(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    if not user.can(Cap.CASE_REGISTER):
        raise PermissionDenied(_("Your role may not register complaints."))
    text = f"{request.POST.get('description', '')} {request.POST.get('demand', '')}".strip()[:4000]
    region = request.POST.get("region", "")
    business_type = request.POST.get("business_type", "")[:20]
    region_id = int(region) if region.isdigit() else None
    suggestion = suggestion_for(text, region_id, business_type) if len(text) >= MIN_CHARS else None
    return render(request, "triage/_suggestion.html", {"suggestion": suggestion})


def _actor(request: HttpRequest, cap: Cap) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required ran first
    if not user.can(cap):
        raise PermissionDenied(
            _("Your role (%(role)s) may not do this: %(action)s.")
            % {"role": user.get_role_display(), "action": cap.label}
        )
    return user


# -- the "to classify" queue -------------------------------------------------------------------------
TO_CLASSIFY_PAGE = 100


@require_GET
@login_required
def to_classify(request: HttpRequest) -> HttpResponse:
    """The cases the model was not sure enough about: its suggestion, confidence and explanation,
    and a form per case to accept it or choose the category and level."""
    actor = _actor(request, Cap.CASE_DISPATCH)
    queued = selectors.to_classify(actor)
    rows = list(queued[:TO_CLASSIFY_PAGE])
    leaves = list(
        Category.objects.filter(is_active=True, parent__isnull=False)
        .select_related("parent")
        .order_by("parent__sort_order", "parent__code", "sort_order", "code")
    )
    by_code = {c.code: c for c in leaves}
    flags = selectors.case_flags([r.complaint_id for r in rows])
    items = [
        {
            "row": r,
            "suggested": by_code.get(r.subcategory),
            "level_label": Level(r.level).label if r.level in Level.values else r.level,
            "flags": flags.get(r.complaint_id),
        }
        for r in rows
    ]
    context = {
        "items": items,
        "total": queued.count() if len(rows) >= TO_CLASSIFY_PAGE else len(rows),
        "leaves": leaves,
        "levels": Level.choices,
    }
    return render(request, "triage/to_classify.html", context)


@require_POST
@login_required
def to_classify_decide(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request, Cap.CASE_DISPATCH)
    row = selectors.to_classify(actor).filter(complaint_id=pk).first()
    if row is None:  # decided already, or outside the actor's scope: say no more than that
        raise NotFound(_("This case is not waiting to be classified."))
    if "accept" in request.POST:
        leaf = Category.objects.filter(code=row.subcategory, is_active=True).first()
        category_id = leaf.pk if leaf is not None else 0
        level = row.level
    else:
        raw = request.POST.get("category", "")
        category_id = int(raw) if raw.isdigit() else 0
        level = request.POST.get("level", "")
    try:
        decided = classification_decide(
            actor=actor,
            complaint_id=pk,
            category_id=category_id,
            level=level,
            origin=Origin.from_request(request),
        )
    except PermissionDenied:
        raise
    except TousuError as exc:
        messages.error(
            request,
            _("%(case)s was not changed: %(problem)s") % {"case": row.complaint, "problem": exc.message},
        )
    else:
        messages.success(
            request,
            _("Case %(case)s classified: %(category)s, %(level)s.")
            % {
                "case": row.complaint,
                "category": decided.chosen_category,
                "level": Level(decided.chosen_level).label,
            },
        )
    return redirect("to-classify")


# -- duplicates ----------------------------------------------------------------------------------------
@require_POST
@login_required
def merge_duplicate(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request, Cap.CASE_WITHDRAW)
    try:
        duplicate = triage_duplicate_merge(actor=actor, complaint_id=pk)
    except (PermissionDenied, NotFound):
        raise
    except TousuError as exc:
        messages.error(request, exc.message)
        return redirect("case", pk=pk)
    messages.success(request, _("Case %(case)s merged into the first case.") % {"case": duplicate})
    return redirect("case", pk=pk)


# -- major incidents (群体性投诉) -----------------------------------------------------------------------
def _incident(pk: int) -> Incident:
    incident = selectors.incidents().filter(pk=pk).first()
    if incident is None:
        raise NotFound(_("No such incident."))
    return incident


def _category_names(codes: set[str]) -> dict[str, str]:
    rows = Category.objects.filter(code__in=codes).values_list("code", "name", "name_en")
    return {code: in_active_language(name, name_en) for code, name, name_en in rows}


@require_GET
@login_required
def incident_list(request: HttpRequest) -> HttpResponse:
    _actor(request, Cap.CASE_SUPERVISE)
    rows = list(selectors.incidents().order_by("closed_at", "-opened_at", "-id")[:200])
    names = _category_names({i.category for i in rows})
    listed = [(i, names.get(i.category, i.category)) for i in rows]
    return render(request, "triage/incidents.html", {"incidents": listed})


@require_GET
@login_required
def incident_page(request: HttpRequest, pk: int) -> HttpResponse:
    _actor(request, Cap.CASE_SUPERVISE)
    incident = _incident(pk)
    children = list(
        incident.cases.select_related("category", "category__parent", "customer").order_by(
            "registered_at", "id"
        )
    )
    context = {
        "incident": incident,
        "children": children,
        "category_name": _category_names({incident.category}).get(incident.category, incident.category),
    }
    return render(request, "triage/incident.html", context)


@require_POST
@login_required
def incident_reply(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request, Cap.CASE_SUPERVISE)
    _incident(pk)
    try:
        done = incident_reply_all(actor=actor, incident_id=pk, content=request.POST.get("content", "")[:4000])
    except (PermissionDenied, NotFound):
        raise
    except TousuError as exc:
        messages.error(request, _("Nothing was sent: %(problem)s") % {"problem": exc.message})
    else:
        messages.success(
            request,
            _("Replied to %(replied)s case(s); %(skipped)s left as they were.") % done,
        )
    return redirect("incident", pk=pk)


@require_POST
@login_required
def incident_close_view(request: HttpRequest, pk: int) -> HttpResponse:
    actor = _actor(request, Cap.CASE_SUPERVISE)
    incident = _incident(pk)
    if incident.closed_at is not None:
        messages.error(request, _("This incident is closed already."))
        return redirect("incident", pk=pk)
    done = incident_close(actor=actor, incident_id=pk, note=request.POST.get("note", "")[:500])
    messages.success(
        request, _("Incident closed: %(closed)s case(s) closed, %(left_open)s left open.") % done
    )
    return redirect("incident", pk=pk)


urlpatterns: list[URLPattern] = [
    path("register/suggest/", suggest, name="triage-suggest"),
    path("queues/to-classify/", to_classify, name="to-classify"),
    path("queues/to-classify/<int:pk>/", to_classify_decide, name="to-classify-decide"),
    path("cases/<int:pk>/merge-duplicate/", merge_duplicate, name="merge-duplicate"),
    path("incidents/", incident_list, name="incidents"),
    path("incidents/<int:pk>/", incident_page, name="incident"),
    path("incidents/<int:pk>/reply/", incident_reply, name="incident-reply"),
    path("incidents/<int:pk>/close/", incident_close_view, name="incident-close"),
]
