"""Typed service errors become a clear page (or an htmx fragment) with the right status, once."""

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
