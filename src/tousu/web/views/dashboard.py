"""Pages: the supervisor dashboard, and its panel that htmx fetches again every 30 seconds."""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, path
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django_htmx.http import HttpResponseClientRefresh

from tousu.accounts.models import User
from tousu.analytics.dashboard import dashboard_summary
from tousu.triage.models import Incident
from tousu.triage.selectors import open_incidents

REFRESH_SECONDS = 30
INCIDENTS_SHOWN = 10


def _signed_in(request: HttpRequest) -> User | None:
    user = request.user
    return user if isinstance(user, User) and user.is_authenticated else None


def _incidents() -> list[Incident]:
    """The open major incidents (群体性投诉), newest first: one query."""
    return list(open_incidents()[:INCIDENTS_SHOWN])


@require_GET
@never_cache
def dashboard(request: HttpRequest) -> HttpResponse:
    user = _signed_in(request)
    if user is None:
        return redirect_to_login(request.get_full_path())
    summary = dashboard_summary(actor=user)  # PermissionDenied → the 403 page
    return render(
        request,
        "web/dashboard/page.html",
        {"board": summary, "refresh_seconds": REFRESH_SECONDS, "incidents": _incidents()},
    )


@require_GET
@never_cache
def dashboard_panel(request: HttpRequest) -> HttpResponse:
    user = _signed_in(request)
    if user is None:
        # The session ended while the page stayed open: reload it, which leads to the sign-in page.
        if getattr(request, "htmx", False):
            return HttpResponseClientRefresh()
        return redirect_to_login(request.get_full_path())
    summary = dashboard_summary(actor=user)
    return render(
        request,
        "web/dashboard/_panel.html",
        {"board": summary, "refresh_seconds": REFRESH_SECONDS, "incidents": _incidents()},
    )


urlpatterns: list[URLPattern] = [
    path("dashboard/", dashboard, name="dashboard"),
    path("dashboard/panel/", dashboard_panel, name="dashboard-panel"),
]
