"""Typed service errors become a clear page (or an htmx fragment) with the right status, once;
and every response carries the Content Security Policy."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tousu.common.errors import NotFound, PermissionDenied, TousuError


class ServiceErrorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, TousuError):
            return None
        template = (
            "404.html"
            if isinstance(exception, NotFound)
            else "403.html"
            if isinstance(exception, PermissionDenied)
            else "web/error.html"
        )
        if getattr(request, "htmx", False):
            template = "web/_error_fragment.html"
        return render(
            request,
            template,
            {"message": exception.message, "error": exception},
            status=exception.http_status,
        )


# Scripts only from this site's own files: no inline <script>, no on…= handlers, no eval. The
# pages keep their behaviour in static files (web/tousu.js, htmx from django-htmx).
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# Django's admin and the API's Swagger page write a few inline styles (never scripts).
CONTENT_SECURITY_POLICY_LOOSE_STYLES = CONTENT_SECURITY_POLICY.replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'"
)
LOOSE_STYLE_PREFIXES = ("/admin/", "/tmf-api/")


class ContentSecurityPolicyMiddleware:
    """Sets ``Content-Security-Policy`` on every response that has none yet."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            loose = request.path.startswith(LOOSE_STYLE_PREFIXES)
            response["Content-Security-Policy"] = (
                CONTENT_SECURITY_POLICY_LOOSE_STYLES if loose else CONTENT_SECURITY_POLICY
            )
        return response
