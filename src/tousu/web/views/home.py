from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import connection
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from tousu.complaints.selectors import complaints_visible_to
from tousu.complaints.states import OPEN, Status


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """The signed-in start page: who you are and the cases in your scope by status."""
    user = request.user
    by_status = {
        row["status"]: row["n"]
        for row in complaints_visible_to(actor=user).order_by().values("status").annotate(n=Count("id"))  # type: ignore[arg-type]
    }
    rows = [(s.label, by_status.get(s.value, 0)) for s in Status if s in OPEN]
    return render(request, "web/home.html", {"rows": rows, "open_total": sum(n for _l, n in rows)})


@never_cache
def healthz(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")
