"""TMF630 error bodies: the one place they are made, for the handlers of every API version and
for the middleware that answers errors raised outside them (unknown paths, wrong methods,
anything Django raises under ``/tmf-api/``)."""

from __future__ import annotations

from typing import Any

from django.http import JsonResponse

TMF_PREFIX = "/tmf-api/"

REASONS = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Payload too large",
    415: "Unsupported media type",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


def tmf_error_body(
    status: int, code: str, reason: str, message: str, fields: dict[str, str] | None = None
) -> dict[str, Any]:
    """``{code, reason, message, status}`` (TMF630), with ``fields`` (Tousu: field → problem)."""
    body: dict[str, Any] = {"code": code, "reason": reason, "message": message, "status": str(status)}
    if fields:
        body["fields"] = fields
    body["@type"] = "Error"
    return body


def tmf_error_response(
    status: int, code: str, reason: str | None, message: str, fields: dict[str, str] | None = None
) -> JsonResponse:
    return JsonResponse(
        tmf_error_body(status, code, reason or REASONS.get(status, "Error"), message, fields),
        status=status,
        json_dumps_params={"ensure_ascii": False},
    )
