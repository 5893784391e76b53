"""The TMF621 operations, built once per version from that version's mapping module and schemas:
the same handlers, services and shared core serve ``/tmf-api/troubleTicket/v4/`` and ``…/v5/``.

(No ``from __future__ import annotations`` here: django-ninja reads the handlers' annotations,
which name each version's schema classes, at definition time.)"""

from dataclasses import dataclass
from types import ModuleType
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Query
from pydantic import BaseModel, Field

from tousu.api import schemas, schemas_v5, services, tmf_v4, tmf_v5
from tousu.api.api import new_api
from tousu.api.models import ApiKey
from tousu.api.tmf import (
    DATE_FILTERS,
    FILTER_SCHEMAS,
    FILTERABLE,
    SORT_PATTERN,
    list_filter,
    list_order,
    select_fields,
    ticket_id,
    ticket_queryset,
)
from tousu.common.tmf_errors import tmf_error_response


@dataclass(frozen=True)
class Version:
    mapping: ModuleType  # ticket_dict, create_input, update_input, BASE, RESOURCE
    ticket: type[BaseModel]
    create: type[BaseModel]
    update: type[BaseModel]
    error: type[BaseModel]
    subscription: type[BaseModel]
    subscription_input: type[BaseModel]


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


def _json(data: Any, status: int = 200) -> JsonResponse:
    return JsonResponse(data, status=status, safe=False, json_dumps_params={"ensure_ascii": False})


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


def build(api: NinjaAPI, v: Version) -> NinjaAPI:
    """Add the trouble ticket and hub operations of version ``v`` to ``api``."""
    m = v.mapping
    Ticket, Create, Update, Error = v.ticket, v.create, v.update, v.error
    errors: dict[int, Any] = {400: Error, 401: Error, 403: Error, 404: Error, 409: Error, 429: Error}

    def render(pk: int, fields: str | None, status: int = 200) -> JsonResponse:
        complaint = ticket_queryset().get(pk=pk)
        response = _json(select_fields(m.ticket_dict(complaint), fields), status)
        if status == 201:
            response["Location"] = f"{m.RESOURCE}/{ticket_id(complaint)}"
        return response

    @api.get(
        "/troubleTicket",
        response={200: list[Ticket], **errors},  # type: ignore[valid-type]
        tags=["troubleTicket"],
        by_alias=True,
        summary="List or find trouble tickets",
        openapi_extra={"parameters": _filter_parameters()},
    )
    def list_tickets(request: HttpRequest, params: Query[ListParams]) -> HttpResponse:
        key: ApiKey = request.auth  # type: ignore[attr-defined]
        query = [(k, val) for k, values in request.GET.lists() for val in values]
        q = list_filter(query) & services.key_cases_q(key)
        order = list_order(params.sort)
        base = ticket_queryset().filter(q)
        total = base.count()
        page = list(base.order_by(*order)[params.offset : params.offset + params.limit])
        services.tickets_read_record(key=key, complaints=page, request=request)
        response = _json([select_fields(m.ticket_dict(c), params.fields) for c in page])
        response["X-Total-Count"] = str(total)
        response["X-Result-Count"] = str(len(page))
        return response

    @api.get(
        "/troubleTicket/{id}",
        response={200: Ticket, **errors},
        tags=["troubleTicket"],
        by_alias=True,
        summary="Retrieve a trouble ticket",
    )
    def get_ticket(request: HttpRequest, id: str, params: Query[FieldsParam]) -> HttpResponse:
        key: ApiKey = request.auth  # type: ignore[attr-defined]
        complaint = services.case_lookup(key, id)
        services.tickets_read_record(key=key, complaints=[complaint], request=request)
        return render(complaint.pk, params.fields)

    @api.post(
        "/troubleTicket",
        response={201: Ticket, 200: Ticket, 413: Error, 415: Error, **errors},
        tags=["troubleTicket"],
        by_alias=True,
        summary="Create a trouble ticket (200 with the existing one for a known external id)",
    )
    def create_ticket(request: HttpRequest, payload: Create) -> HttpResponse:  # type: ignore[valid-type]
        key: ApiKey = request.auth  # type: ignore[attr-defined]
        complaint, created, related = services.ticket_create(key=key, data=m.create_input(payload))
        if not created:
            return render(complaint.pk, None, 200)
        # A new case is rendered from what the service wrote (no reading back).
        response = _json(m.ticket_dict(complaint, related=related), 201)
        response["Location"] = f"{m.RESOURCE}/{ticket_id(complaint)}"
        return response

    @api.patch(
        "/troubleTicket/{id}",
        response={200: Ticket, 413: Error, 415: Error, **errors},
        tags=["troubleTicket"],
        by_alias=True,
        summary="Update a trouble ticket (JSON merge-patch)",
        openapi_extra={
            "requestBody": {
                "content": {
                    "application/merge-patch+json": {
                        "schema": {"$ref": f"#/components/schemas/{Update.__name__}"}
                    },
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{Update.__name__}"}},
                },
                "required": True,
            }
        },
    )
    def patch_ticket(request: HttpRequest, id: str, payload: Update) -> HttpResponse:  # type: ignore[valid-type]
        key: ApiKey = request.auth  # type: ignore[attr-defined]
        complaint = services.case_lookup(key, id)
        complaint = services.ticket_update(key=key, complaint=complaint, data=m.update_input(payload))
        return render(complaint.pk, None)

    @api.delete(
        "/troubleTicket/{id}",
        response={204: None, **errors},
        tags=["troubleTicket"],
        by_alias=True,
        summary="Delete (withdraw) a trouble ticket nobody has worked on yet; admin keys only",
    )
    def delete_ticket(request: HttpRequest, id: str) -> HttpResponse:
        key: ApiKey = request.auth  # type: ignore[attr-defined]
        services.ticket_delete(key=key, complaint=services.case_lookup(key, id))
        return HttpResponse(status=204)

    @api.post(
        "/hub",
        response={201: v.subscription, 413: Error, 415: Error, **errors},
        tags=["events subscription"],
        by_alias=True,
        summary="Register a listener",
    )
    def hub_create(request: HttpRequest, payload: v.subscription_input) -> HttpResponse:  # type: ignore[name-defined]
        sub, secret = services.hub_subscribe(
            key=request.auth,  # type: ignore[attr-defined]
            data=payload,
            version=m.VERSION,
        )
        body: dict[str, Any] = {"id": str(sub.pk), "callback": sub.endpoint.url, "secret": secret}
        if sub.query:
            body["query"] = sub.query
        body.update(m.SUBSCRIPTION_EXTRA)
        response = _json(body, 201)
        response["Location"] = f"{m.BASE}/hub/{sub.pk}"
        return response

    @api.delete(
        "/hub/{id}",
        response={204: None, **errors},
        tags=["events subscription"],
        by_alias=True,
        summary="Unregister a listener",
    )
    def hub_delete(request: HttpRequest, id: str) -> HttpResponse:
        services.hub_unsubscribe(key=request.auth, subscription_id=id)  # type: ignore[attr-defined]
        return HttpResponse(status=204)

    return api


class SpecListParams(BaseModel):
    fields: str | None = Field(
        default=None, max_length=500, description="Attributes to return, comma-separated."
    )
    offset: int = Field(default=0, ge=0, le=1_000_000)
    limit: int = Field(default=20, ge=1, le=100)


def build_specifications(api: NinjaAPI, v: Version) -> NinjaAPI:
    """v5's ``TroubleTicketSpecification``, read-only: Tousu's active leaf categories (edited in
    the admin, so creating, changing or deleting one here is a 405)."""
    m = v.mapping
    errors: dict[int, Any] = {400: v.error, 401: v.error, 403: v.error, 404: v.error, 429: v.error}
    Spec = schemas_v5.TroubleTicketSpecification

    @api.get(
        "/troubleTicketSpecification",
        response={200: list[Spec], **errors},  # type: ignore[valid-type]
        tags=["troubleTicketSpecification"],
        by_alias=True,
        summary="List trouble ticket specifications (one per active leaf category)",
        openapi_extra={
            "parameters": [
                {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
                for name in m.SPEC_FILTERS
            ]
        },
    )
    def list_specifications(request: HttpRequest, params: Query[SpecListParams]) -> HttpResponse:
        query = [(k, val) for k, values in request.GET.lists() for val in values]
        q = m.specification_filter(query, reserved=SpecListParams.model_fields)
        base = m.specification_queryset().filter(q) if q is not None else m.specification_queryset().none()
        total = base.count()
        page = list(base[params.offset : params.offset + params.limit])
        response = _json([select_fields(m.specification_dict(c), params.fields) for c in page])
        response["X-Total-Count"] = str(total)
        response["X-Result-Count"] = str(len(page))
        return response

    @api.get(
        "/troubleTicketSpecification/{id}",
        response={200: Spec, **errors},
        tags=["troubleTicketSpecification"],
        by_alias=True,
        summary="Retrieve a trouble ticket specification",
    )
    def get_specification(request: HttpRequest, id: str, params: Query[FieldsParam]) -> HttpResponse:
        return _json(select_fields(m.specification_dict(m.specification_get(id)), params.fields))

    def read_only(request: HttpRequest, allow: str) -> HttpResponse:
        response = tmf_error_response(
            405,
            "methodNotAllowed",
            None,
            _(
                "Trouble ticket specifications are Tousu's complaint categories, edited in the "
                "administration; this API only reads them (%(allow)s)."
            )
            % {"allow": allow},
        )
        response["Allow"] = allow
        return response

    @api.post("/troubleTicketSpecification", include_in_schema=False)
    def create_specification(request: HttpRequest) -> HttpResponse:
        return read_only(request, "GET")

    @api.api_operation(["PATCH", "DELETE"], "/troubleTicketSpecification/{id}", include_in_schema=False)
    def change_specification(request: HttpRequest, id: str) -> HttpResponse:
        return read_only(request, "GET")

    return api


api_v4 = build(
    new_api(
        title="Tousu TMF621 Trouble Ticket API",
        version="4.0.0",
        description=(
            "TM Forum TMF621 Trouble Ticket v4 over Tousu's complaint cases. Standard fields keep "
            "their standard meaning; Tousu's own fields travel in the `tousu` object of a "
            "`TousuComplaint` (`@baseType` TroubleTicket)."
        ),
        namespace="tmf621",
    ),
    Version(
        mapping=tmf_v4,
        ticket=schemas.TroubleTicket,
        create=schemas.TroubleTicketCreate,
        update=schemas.TroubleTicketUpdate,
        error=schemas.Error,
        subscription=schemas.EventSubscription,
        subscription_input=schemas.EventSubscriptionInput,
    ),
)

_V5 = Version(
    mapping=tmf_v5,
    ticket=schemas_v5.TroubleTicket,
    create=schemas_v5.TroubleTicket_FVO,
    update=schemas_v5.TroubleTicket_MVO,
    error=schemas_v5.Error,
    subscription=schemas_v5.EventSubscription,
    subscription_input=schemas_v5.EventSubscriptionInput,
)
api_v5 = build(
    new_api(
        title="Tousu TMF621 Trouble Ticket API (v5)",
        version="5.0.1",
        description=(
            "TM Forum TMF621 Trouble Ticket v5 over Tousu's complaint cases, from the same services "
            "and mapping as v4. Tousu's own fields travel in the `tousu` object."
        ),
        namespace="tmf621v5",
    ),
    _V5,
)
build_specifications(api_v5, _V5)
