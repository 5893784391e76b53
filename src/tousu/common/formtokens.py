"""One-time form tokens: a double submit or a replay of a form does the work once.

Every state-changing form carries a fresh random token (``{% form_token %}`` from the
``form_tokens`` template library). ``FormTokenMiddleware`` runs a POST that carries one inside one
transaction, which first claims the token in ``UsedFormToken`` (a unique column):

- the first submission claims it, runs the view and, when the view answers with a redirect (the
  work is done: post/redirect/get), keeps the token with that address — in the same transaction as
  the work, so either both are committed or neither is;
- a second submission with the same token (the double click, the browser's "resend", a replayed
  request) finds the token used and gets the first answer again: a redirect to the same address
  with a note, never an error page and never a second write. On PostgreSQL a concurrent second
  submission waits on the unique index until the first commits, then sees it;
- a view that answers with the form again (bad input, a refused step) writes nothing, so the token
  is released and the corrected form (rendered with a new token) goes through normally.

Forms without a token (the TMF621 API, scripts) are served as before. Used tokens are purged after
``TOKEN_TTL`` by the worker (``form_tokens_purge``).
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from datetime import timedelta

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.common.models import UsedFormToken

FIELD = "form_token"
TOKEN_TTL = timedelta(days=1)
_WELL_FORMED = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def form_token_new() -> str:
    """A fresh token for one rendered form (nothing is stored until it is used)."""
    return secrets.token_urlsafe(24)


def _token_of(request: HttpRequest) -> str:
    if request.method != "POST" or request.content_type not in _FORM_TYPES:
        return ""
    token = request.POST.get(FIELD, "")
    return token if _WELL_FORMED.match(token) else ""


def _replay(request: HttpRequest, token: str) -> HttpResponse | None:
    used = UsedFormToken.objects.filter(token=token).values_list("result_url", flat=True).first()
    if not used:
        return None
    messages.info(request, _("This form was already sent; this is what it did."))
    return HttpResponseRedirect(used)


class FormTokenMiddleware:
    """Runs token-carrying POSTs once (see the module's docstring)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = _token_of(request)
        if not token:
            return self.get_response(request)
        with transaction.atomic():
            try:
                with transaction.atomic():
                    claim = UsedFormToken.objects.create(token=token, used_at=timezone.now())
            except IntegrityError:
                # The same form is being sent right now (a double click): wait for the first
                # submit's result, then answer with it; never run the work twice.
                for _attempt in range(50):
                    replay = _replay(request, token)
                    if replay is not None:
                        return replay
                    time.sleep(0.1)
                return HttpResponse(
                    _("This form is still being sent. Wait a moment, then reload the page."),
                    status=409,
                    content_type="text/plain; charset=utf-8",
                )
            response = self.get_response(request)
            if response.status_code >= 500:
                transaction.set_rollback(True)  # something broke: keep nothing of it
            elif 300 <= response.status_code < 400 and response.has_header("Location"):
                claim.result_url = response["Location"][:2000]
                claim.save(update_fields=["result_url"])
            else:
                claim.delete()  # the form came back (bad input, refused): nothing was done
        return response


def form_tokens_purge() -> int:
    """Worker job: forget tokens used more than ``TOKEN_TTL`` ago (a replay that late is refused
    by the form's other checks: its version, the case's state)."""
    deleted, _by_model = UsedFormToken.objects.filter(used_at__lt=timezone.now() - TOKEN_TTL).delete()
    return deleted
