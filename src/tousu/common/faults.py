"""Faults and bad input become clear answers, never a traceback page.

* ``BadInputMiddleware``: a NUL character in the path, the query string or a form value is a
  400 with a message (no database stores NUL in text, PostgreSQL refuses it with an error).
* A database that cannot be reached (a PostgreSQL restart, a failover) is a 503 with
  ``Retry-After``, logged once a minute rather than a traceback per request: the view's errors
  through ``DatabaseUnavailableMiddleware``, everything else (a session saved on the way out…)
  through ``server_error``, the project's ``handler500``.

Under ``/tmf-api/`` both answer the TMF630 error JSON of the API.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, HttpResponseServerError
from django.template import loader
from django.utils.translation import gettext as _

from tousu.common.tmf_errors import tmf_error_response

log = logging.getLogger("tousu.faults")

API_PREFIX = "/tmf-api/"
RETRY_AFTER_SECONDS = 5
LOG_EVERY_SECONDS = 60.0
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
UNAVAILABLE_ERRORS = (OperationalError, InterfaceError)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def _api_error(request: HttpRequest, status: int, code: str, reason: str, message: str) -> HttpResponse:
    return tmf_error_response(status, code, reason, message)


# --- NUL characters -------------------------------------------------------------------------------


def _has_nul(request: HttpRequest) -> bool:
    if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", ""):
        return True
    if any("\x00" in key or any("\x00" in v for v in values) for key, values in request.GET.lists()):
        return True
    if request.method in ("POST", "PUT", "PATCH") and (request.content_type or "") in FORM_TYPES:
        try:
            form = request.POST
        except Exception:  # too big, too many fields, a broken multipart body: the view answers that
            return False
        return any("\x00" in key or any("\x00" in v for v in values) for key, values in form.lists())
    return False


def bad_input_response(request: HttpRequest) -> HttpResponse:
    message = _("Text must not contain NUL characters.")
    if _is_api(request):
        return _api_error(request, 400, "invalid", "Invalid request", message)
    html = loader.render_to_string("400.html", {"message": message})
    return HttpResponse(html, status=400)


class BadInputMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _has_nul(request):
            return bad_input_response(request)
        return self.get_response(request)


# --- the database is down -------------------------------------------------------------------------

_log_lock = threading.Lock()
_last_logged = 0.0
_suppressed = 0


def _log_unavailable(exc: BaseException) -> None:
    """One warning line a minute while the database is down (with how many were not logged)."""
    global _last_logged, _suppressed
    now = time.monotonic()
    with _log_lock:
        if _last_logged and now - _last_logged < LOG_EVERY_SECONDS:
            _suppressed += 1
            return
        suppressed, _suppressed, _last_logged = _suppressed, 0, now
    log.error(
        "database unavailable, answering 503 (%s: %s)%s",
        type(exc).__name__,
        str(exc).strip().splitlines()[0] if str(exc).strip() else "",
        f"; {suppressed} more since the last report" if suppressed else "",
    )


def unavailable_response(request: HttpRequest, exc: BaseException) -> HttpResponse:
    """503 with ``Retry-After``; the HTML is rendered without the request (no context processor
    may touch the database)."""
    _log_unavailable(exc)
    message = _("The service is briefly unavailable. Please try again in a few seconds.")
    if _is_api(request):
        response = _api_error(request, 503, "unavailable", "Service unavailable", message)
    else:
        response = HttpResponse(loader.render_to_string("503.html", {"message": message}), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response._has_been_logged = True  # type: ignore[attr-defined]  # logged above, once a minute
    return response


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, UNAVAILABLE_ERRORS):
            return unavailable_response(request, exception)
        return None


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: a database outage is a 503, anything else Django's plain 500 page."""
    exc = sys.exc_info()[1]
    if isinstance(exc, UNAVAILABLE_ERRORS):
        return unavailable_response(request, exc)
    return HttpResponseServerError(loader.render_to_string("500.html"))
