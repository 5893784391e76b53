from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import URLPattern, path

from tousu.accounts.roles import Cap


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Supervisors land on their dashboard, auditors and administrators on the administration,
    everybody else on their own queue."""
    user = request.user
    if user.can(Cap.CASE_SUPERVISE):  # type: ignore[union-attr]
        return redirect("dashboard")
    if not user.can(Cap.CASE_VIEW):  # type: ignore[union-attr]
        return redirect("admin:index")
    return redirect("quality-queue") if user.role == "inspector" else redirect("queue", name="mine")  # type: ignore[union-attr]


urlpatterns: list[URLPattern] = [
    path("", home, name="home"),
]
