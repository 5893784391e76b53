"""Under ``/tmf-api/``: a trailing slash works on every path, and every error is TMF630 JSON.

Clients post to collection URLs with or without a trailing slash (TMF630); Django's
``APPEND_SLASH`` would redirect, which loses a POST. Errors the API's handlers never see (an
unknown path, a method the path does not have, an exception in Django itself) would be HTML."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from tousu.common.tmf_errors import TMF_PREFIX, tmf_error_response

log = logging.getLogger("tousu.api")


class TmfApiMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(TMF_PREFIX):
            return self.get_response(request)
        path = request.path_info
        if path.endswith("/") and path.count("/") > 4 and not path.endswith("/docs/"):
            # /tmf-api/troubleTicket/v4/troubleTicket/ → …/troubleTicket (the API's own paths)
            request.path_info = path.rstrip("/")
            request.path = request.path.rstrip("/")
        response = self.get_response(request)
        if response.status_code >= 400 and not response.get("Content-Type", "").startswith(
            "application/json"
        ):
            return _as_tmf(request, response)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path_info.startswith(TMF_PREFIX):
            return None
        log.exception("TMF621 API: unexpected error on %s %s", request.method, request.path)
        return tmf_error_response(500, "internal", None, _("Something went wrong on our side."))


def _as_tmf(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    status = response.status_code
    if status == 404:
        result = tmf_error_response(
            404, "notFound", None, _("No such resource: %(path)s") % {"path": request.path[:200]}
        )
    elif status == 405:
        result = tmf_error_response(
            405,
            "methodNotAllowed",
            None,
            _("%(method)s is not allowed on %(path)s.")
            % {"method": request.method, "path": request.path[:200]},
        )
        if response.get("Allow"):
            result["Allow"] = response["Allow"]
    else:
        code = "internal" if status >= 500 else "error"
        result = tmf_error_response(
            status, code, None, _("The request could not be served (%(status)s).") % {"status": status}
        )
    return result
