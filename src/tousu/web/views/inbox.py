"""The staff inbox: the notifications addressed to the signed-in person, newest first, the unread
ones marked; marking read; the unread count in every staff page's header (polled by htmx)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from tousu.accounts.models import User
from tousu.notifications.selectors import UNREAD_COUNT_CAP, inbox_items, inbox_unread_count
from tousu.notifications.services import inbox_mark_all_read, inbox_mark_read

PER_PAGE = 25


def _actor(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # login_required ran first
    return user


def _badge(count: int) -> str:
    return f"{UNREAD_COUNT_CAP}+" if count > UNREAD_COUNT_CAP else str(count)


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    user = _actor(request)
    page = Paginator(inbox_items(user=user), PER_PAGE).get_page(request.GET.get("page"))
    unread = inbox_unread_count(user=user)
    return render(request, "web/inbox/page.html", {"page": page, "unread": unread, "badge": _badge(unread)})


@never_cache
@require_GET
def inbox_count(request: HttpRequest) -> HttpResponse:
    """The header badge, polled: one COUNT on a partial index. Signed out (the session ended while
    the page stayed open): no content, so the poll leaves the page as it is."""
    if not request.user.is_authenticated:
        return HttpResponse(status=204)
    count = inbox_unread_count(user=_actor(request))
    return render(request, "web/inbox/_count.html", {"unread": count, "badge": _badge(count)})


def _back(request: HttpRequest) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect("inbox")


@login_required
@require_POST
def inbox_read(request: HttpRequest, pk: int) -> HttpResponse:
    inbox_mark_read(actor=_actor(request), notification_id=pk)  # another person's item: 404
    return _back(request)


@login_required
@require_POST
def inbox_read_all(request: HttpRequest) -> HttpResponse:
    count = inbox_mark_all_read(actor=_actor(request))
    messages.success(
        request,
        ngettext("%(count)d item marked read.", "%(count)d items marked read.", count) % {"count": count},
    )
    return _back(request)


urlpatterns: list[URLPattern] = [
    path("inbox/", inbox, name="inbox"),
    path("inbox/count/", inbox_count, name="inbox-count"),
    path("inbox/<int:pk>/read/", inbox_read, name="inbox-read"),
    path("inbox/read-all/", inbox_read_all, name="inbox-read-all"),
]
