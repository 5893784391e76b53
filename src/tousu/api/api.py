"""TMF621 Trouble Ticket over HTTP (django-ninja): what every version's API shares — the body
parser, the key check, the error handlers. The operations are built per version by
``tousu.api.routes`` from the version's mapping module (``tmf_v4``, ``tmf_v5``). Every refusal is
a TMF630 error JSON ``{code, reason, message, status}``, made by ``tousu.common.tmf_errors``."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer

from tousu.api import services
from tousu.api.keys import apikey_check
from tousu.api.models import ApiKey
from tousu.common.errors import TousuError
from tousu.common.faults import unavailable_response
from tousu.common.ratelimit import ratelimit_hit
from tousu.common.tmf_errors import tmf_error_response

log = logging.getLogger("tousu.api")

JSON_TYPES = ("application/json", "application/merge-patch+json")


class RequestRefused(Exception):
    """A request refused before its body is read into a schema (size, type, encoding, syntax)."""

    def __init__(self, status: int, code: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.reason, self.message = status, code, reason, message


class RateLimited(RequestRefused):
    def __init__(self, retry_after: int) -> None:
        super().__init__(
            429,
            "tooManyRequests",
            "Too many requests",
            _("This API key sent too many requests; try again in %(n)s seconds.") % {"n": retry_after},
        )
        self.retry_after = retry_after


class TmfParser(Parser):
    """JSON bodies only, UTF-8, within ``TOUSU_API_MAX_BODY_BYTES``, an object at the top."""

    def parse_body(self, request: HttpRequest) -> dict[str, Any]:
        content_type = (request.content_type or "").lower()
        if content_type not in JSON_TYPES:
            raise RequestRefused(
                415,
                "unsupportedMediaType",
                "Unsupported media type",
                _("Send the body as application/json (or application/merge-patch+json for PATCH)."),
            )
        charset = (request.content_params or {}).get("charset", "utf-8").lower()
        if charset not in ("utf-8", "utf8"):
            raise RequestRefused(
                415, "unsupportedMediaType", "Unsupported media type", _("Send the body in UTF-8.")
            )
        if len(request.body) > settings.TOUSU_API_MAX_BODY_BYTES:  # sent without Content-Length
            raise _too_big()
        try:
            text = request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise RequestRefused(
                400, "invalidBody", "Invalid body", _("The body is not valid UTF-8.")
            ) from None
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise RequestRefused(
                400,
                "invalidBody",
                "Malformed JSON",
                _("The body is not valid JSON (%(error)s).") % {"error": exc},
            ) from None
        if not isinstance(data, dict):
            raise RequestRefused(400, "invalidBody", "Invalid body", _("The body must be a JSON object."))
        if _has_nul(data):
            raise _nul_refused()
        return data


def _has_nul(value: Any) -> bool:
    """True when a string anywhere in ``value`` holds a NUL character (no database stores it)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def _nul_refused() -> RequestRefused:
    return RequestRefused(400, "invalid", "Invalid request", _("Text must not contain NUL characters."))


class KeyAuth(HttpBearer):
    """``Authorization: Bearer <key>`` (or ``X-API-Key: <key>``); then the key's rate limit.
    Bodies over the size limit are refused here, before anything reads them."""

    openapi_description = "An API key created with `tousu apikey create` (also accepted in X-API-Key)."

    def __call__(self, request: HttpRequest) -> ApiKey | None:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > settings.TOUSU_API_MAX_BODY_BYTES:
            raise _too_big()
        if "\x00" in request.path or any("\x00" in k + "".join(vs) for k, vs in request.GET.lists()):
            raise _nul_refused()
        header = request.headers.get("Authorization", "")
        scheme, _space, token = header.partition(" ")
        if scheme.lower() != "bearer":
            token = request.headers.get("X-API-Key", "")
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        key = apikey_check(token) if token else None
        if key is None:
            return None
        hit = ratelimit_hit("api-key", str(key.pk), limit=services.rate_limit_for(key), window=60)
        if not hit.allowed:
            raise RateLimited(hit.retry_after)
        return key


def _too_big() -> RequestRefused:
    return RequestRefused(
        413,
        "payloadTooLarge",
        "Payload too large",
        _("The body is larger than %(n)s bytes.") % {"n": settings.TOUSU_API_MAX_BODY_BYTES},
    )


def _error(
    request: HttpRequest,
    status: int,
    code: str,
    reason: str,
    message: str,
    fields: dict[str, str] | None = None,
) -> HttpResponse:
    return tmf_error_response(status, code, reason, message, fields)


_REASONS = {
    400: "Bad request",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
}


def _tousu_error(request: HttpRequest, exc: TousuError) -> HttpResponse:
    fields = getattr(exc, "fields", None)
    return _error(
        request, exc.http_status, exc.code, _REASONS.get(exc.http_status, "Refused"), exc.message, fields
    )


def _refused(request: HttpRequest, exc: RequestRefused) -> HttpResponse:
    response = _error(request, exc.status, exc.code, exc.reason, exc.message)
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


def _loc(loc: Any) -> str:
    """``("body", "payload", "tousu", "demand")`` → ``tousu.demand``; ``("query", "limit")`` → ``limit``."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    if parts and parts[0] in ("payload", "params"):
        parts = parts[1:]
    return ".".join(parts) or "body"


def _invalid(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    fields: dict[str, str] = {}
    for err in exc.errors:
        where = _loc(err.get("loc", ()))
        if err.get("type") == "extra_forbidden":
            fields[where] = _("not a field that can be set here")
        elif err.get("type") == "missing":
            fields[where] = _("required")
        else:
            fields[where] = str(err.get("msg", "invalid"))[:200]
    message = "; ".join(f"{k}: {v}" for k, v in fields.items())
    return _error(request, 400, "invalid", "Invalid request", message, fields)


def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    cause = exc.__cause__
    if isinstance(cause, RequestRefused):
        return _refused(request, cause)
    if isinstance(cause, RequestDataTooBig):
        return _refused(request, _too_big())
    if isinstance(exc, AuthenticationError):
        response = _error(
            request,
            401,
            "unauthorized",
            "Unauthorized",
            _("Send a valid, active API key: Authorization: Bearer <key>."),
        )
        response["WWW-Authenticate"] = "Bearer"
        return response
    return _error(request, exc.status_code, "error", _REASONS.get(exc.status_code, "Error"), str(exc))


def _data_too_big(request: HttpRequest, exc: Exception) -> HttpResponse:
    return _refused(request, _too_big())


def _not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return _error(request, 404, "not_found", "Not found", _("No such resource."))


def _database_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    return unavailable_response(request, exc)  # 503, Retry-After, logged once a minute


def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("TMF621 API: unexpected error on %s %s", request.method, request.path)
    return _error(request, 500, "internal", "Internal error", _("Something went wrong on our side."))


def new_api(*, title: str, version: str, description: str, namespace: str) -> NinjaAPI:
    """A TMF621 API of one version: key auth, the JSON parser and every error as TMF630 JSON."""
    api = NinjaAPI(
        title=title,
        version=version,
        description=description,
        urls_namespace=namespace,
        openapi_url="/openapi.json",
        docs_url="/docs",
        auth=KeyAuth(),
        parser=TmfParser(),
    )
    api.add_exception_handler(TousuError, _tousu_error)  # type: ignore[arg-type]
    api.add_exception_handler(RequestRefused, _refused)  # type: ignore[arg-type]
    api.add_exception_handler(NinjaValidationError, _invalid)  # type: ignore[arg-type]
    api.add_exception_handler(HttpError, _http_error)  # type: ignore[arg-type]
    api.add_exception_handler(RequestDataTooBig, _data_too_big)  # type: ignore[arg-type]
    api.add_exception_handler(Http404, _not_found)  # type: ignore[arg-type]
    api.add_exception_handler(OperationalError, _database_unavailable)  # type: ignore[arg-type]
    api.add_exception_handler(InterfaceError, _database_unavailable)  # type: ignore[arg-type]
    api.add_exception_handler(Exception, _unexpected)  # type: ignore[arg-type]
    return api
