"""TMF621 Trouble Ticket v4 over HTTP (django-ninja). Handlers parse, call ``services``, render
with ``tmf``. Every refusal is a TMF630 error JSON ``{code, reason, message, status}``, made here
in one place (``_error``)."""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Query
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser
from ninja.security import HttpBearer
from pydantic import BaseModel, Field

from tousu.api import services
from tousu.api.keys import apikey_check
from tousu.api.models import ApiKey
from tousu.api.schemas import (
    Error,
    EventSubscription,
    EventSubscriptionInput,
    TroubleTicket,
    TroubleTicketCreate,
    TroubleTicketUpdate,
)
from tousu.api.tmf import (
    BASE,
    DATE_FILTERS,
    FILTER_SCHEMAS,
    FILTERABLE,
    RESOURCE,
    SORT_PATTERN,
    Related,
    list_filter,
    list_order,
    select_fields,
    ticket_dict,
    ticket_id,
    ticket_queryset,
)
from tousu.common.errors import TousuError
from tousu.common.faults import tmf_error, unavailable_response
from tousu.common.ratelimit import ratelimit_hit

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


api = NinjaAPI(
    title="Tousu TMF621 Trouble Ticket API",
    version="4.0.0",
    description=(
        "TM Forum TMF621 Trouble Ticket v4 over Tousu's complaint cases. Tousu's own fields travel "
        "in the `tousu` object of a `TousuComplaint` (`@baseType` TroubleTicket)."
    ),
    urls_namespace="tmf621",
    openapi_url="/openapi.json",
    docs_url="/docs",
    auth=KeyAuth(),
    parser=TmfParser(),
)


def _error(
    request: HttpRequest,
    status: int,
    code: str,
    reason: str,
    message: str,
    fields: dict[str, str] | None = None,
) -> HttpResponse:
    return tmf_error(status, code, reason, message, fields)


_REASONS = {
    400: "Bad request",
    403: "Forbidden",
    404: "Not found",
    409: "Conflict",
}


@api.exception_handler(TousuError)
def _tousu_error(request: HttpRequest, exc: TousuError) -> HttpResponse:
    fields = getattr(exc, "fields", None)
    return _error(
        request, exc.http_status, exc.code, _REASONS.get(exc.http_status, "Refused"), exc.message, fields
    )


@api.exception_handler(RequestRefused)
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


@api.exception_handler(NinjaValidationError)
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


@api.exception_handler(HttpError)
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


@api.exception_handler(RequestDataTooBig)
def _data_too_big(request: HttpRequest, exc: Exception) -> HttpResponse:
    return _refused(request, _too_big())


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return _error(request, 404, "not_found", "Not found", _("No such resource."))


@api.exception_handler(OperationalError)
@api.exception_handler(InterfaceError)
def _database_unavailable(request: HttpRequest, exc: Exception) -> HttpResponse:
    return unavailable_response(request, exc)  # 503, Retry-After, logged once a minute


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("TMF621 API: unexpected error on %s %s", request.method, request.path)
    return _error(request, 500, "internal", "Internal error", _("Something went wrong on our side."))


# --- responses -----------------------------------------------------------------------------------

ERRORS: dict[int, Any] = {400: Error, 401: Error, 403: Error, 404: Error, 409: Error, 429: Error}


def _json(data: Any, status: int = 200) -> JsonResponse:
    return JsonResponse(data, status=status, safe=False, json_dumps_params={"ensure_ascii": False})


def _render(request: HttpRequest, pk: int, fields: str | None, status: int = 200) -> JsonResponse:
    complaint = ticket_queryset().get(pk=pk)
    response = _json(select_fields(ticket_dict(complaint), fields), status)
    if status == 201:
        response["Location"] = f"{RESOURCE}/{ticket_id(complaint)}"
    return response


class ListParams(BaseModel):
    fields: str | None = Field(
        default=None, max_length=500, description="Attributes to return, comma-separated."
    )
    offset: int = Field(default=0, ge=0, le=1_000_000)
    limit: int = Field(default=20, ge=1, le=100)
    sort: str | None = Field(
        default=None,
        max_length=200,
        pattern=SORT_PATTERN,
        description="e.g. -creationDate,severity (leading - descends).",
    )


class FieldsParam(BaseModel):
    fields: str | None = Field(default=None, max_length=500)


def _filter_parameters() -> list[dict[str, Any]]:
    params = []
    for name in FILTERABLE:
        params.append({"name": name, "in": "query", "required": False, "schema": FILTER_SCHEMAS[name]})
    for name in DATE_FILTERS:
        for op in ("gt", "gte", "lt", "lte"):
            params.append(
                {
                    "name": f"{name}.{op}",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "string", "format": "date-time"},
                }
            )
    return params


@api.get(
    "/troubleTicket",
    response={200: list[TroubleTicket], **ERRORS},
    tags=["troubleTicket"],
    summary="List or find trouble tickets",
    openapi_extra={"parameters": _filter_parameters()},
)
def list_tickets(request: HttpRequest, params: Query[ListParams]) -> HttpResponse:
    key: ApiKey = request.auth  # type: ignore[attr-defined]
    query = [(k, v) for k, values in request.GET.lists() for v in values]
    q = list_filter(query) & services.key_cases_q(key)
    order = list_order(params.sort)
    base = ticket_queryset().filter(q)
    total = base.count()
    page = list(base.order_by(*order)[params.offset : params.offset + params.limit])
    response = _json([select_fields(ticket_dict(c), params.fields) for c in page])
    response["X-Total-Count"] = str(total)
    response["X-Result-Count"] = str(len(page))
    return response


@api.get(
    "/troubleTicket/{id}",
    response={200: TroubleTicket, **ERRORS},
    tags=["troubleTicket"],
    summary="Retrieve a trouble ticket",
)
def get_ticket(request: HttpRequest, id: str, params: Query[FieldsParam]) -> HttpResponse:
    complaint = services.case_lookup(request.auth, id)  # type: ignore[attr-defined]
    return _render(request, complaint.pk, params.fields)


@api.post(
    "/troubleTicket",
    response={201: TroubleTicket, 200: TroubleTicket, 413: Error, 415: Error, **ERRORS},
    tags=["troubleTicket"],
    summary="Create a trouble ticket (200 with the existing one for a known externalId)",
)
def create_ticket(request: HttpRequest, payload: TroubleTicketCreate) -> HttpResponse:
    complaint, created = services.ticket_create(key=request.auth, data=payload)  # type: ignore[attr-defined]
    if not created:
        return _render(request, complaint.pk, None, 200)
    # A new case is rendered from what the service wrote (its customer and category are loaded):
    # only its clocks are read back.
    response = _json(ticket_dict(complaint, related=Related.new(complaint)), 201)
    response["Location"] = f"{RESOURCE}/{ticket_id(complaint)}"
    return response


@api.patch(
    "/troubleTicket/{id}",
    response={200: TroubleTicket, 413: Error, 415: Error, **ERRORS},
    tags=["troubleTicket"],
    summary="Update a trouble ticket (JSON merge-patch)",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/merge-patch+json": {
                    "schema": {"$ref": "#/components/schemas/TroubleTicketUpdate"}
                },
                "application/json": {"schema": {"$ref": "#/components/schemas/TroubleTicketUpdate"}},
            },
            "required": True,
        }
    },
)
def patch_ticket(request: HttpRequest, id: str, payload: TroubleTicketUpdate) -> HttpResponse:
    key: ApiKey = request.auth  # type: ignore[attr-defined]
    complaint = services.case_lookup(key, id)
    complaint = services.ticket_update(key=key, complaint=complaint, data=payload)
    return _render(request, complaint.pk, None)


@api.delete(
    "/troubleTicket/{id}",
    response={204: None, **ERRORS},
    tags=["troubleTicket"],
    summary="Delete (withdraw) a trouble ticket nobody has worked on yet; admin keys only",
)
def delete_ticket(request: HttpRequest, id: str) -> HttpResponse:
    key: ApiKey = request.auth  # type: ignore[attr-defined]
    services.ticket_delete(key=key, complaint=services.case_lookup(key, id))
    return HttpResponse(status=204)


@api.post(
    "/hub",
    response={201: EventSubscription, 413: Error, 415: Error, **ERRORS},
    tags=["events subscription"],
    summary="Register a listener",
)
def hub_create(request: HttpRequest, payload: EventSubscriptionInput) -> HttpResponse:
    sub, secret = services.hub_subscribe(key=request.auth, data=payload)  # type: ignore[attr-defined]
    body: dict[str, Any] = {"id": str(sub.pk), "callback": sub.endpoint.url, "secret": secret}
    if sub.query:
        body["query"] = sub.query
    response = _json(body, 201)
    response["Location"] = f"{BASE}/hub/{sub.pk}"
    return response


@api.delete(
    "/hub/{id}",
    response={204: None, **ERRORS},
    tags=["events subscription"],
    summary="Unregister a listener",
)
def hub_delete(request: HttpRequest, id: str) -> HttpResponse:
    services.hub_unsubscribe(key=request.auth, subscription_id=id)  # type: ignore[attr-defined]
    return HttpResponse(status=204)
