"""The registration page's suggestion (htmx): as the agent types the description, the classifier
proposes category, level, lead department and escalation risk, with its explanation. The
suggestion rides along in hidden fields, so what the agent finally chose is recorded beside it."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from tousu.accounts.models import User
from tousu.accounts.roles import Cap
from tousu.common.errors import PermissionDenied
from tousu.triage.selectors import suggestion_for

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


urlpatterns: list[URLPattern] = [
    path("register/suggest/", suggest, name="triage-suggest"),
]
