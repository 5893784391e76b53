"""Typed errors raised by services. Pages and the API map them to HTTP once.

Every message is written for the person who caused it: it says what was refused and why.
"""

from __future__ import annotations

from collections.abc import Mapping


class TousuError(Exception):
    """Base class: a refused request. ``code`` is stable for API clients; ``message`` is for people."""

    code = "error"
    http_status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ValidationError(TousuError):
    """Input is missing or malformed. ``fields`` maps a field name to its problem."""

    code = "invalid"
    http_status = 400

    def __init__(self, message: str, *, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields = dict(fields or {})


class PermissionDenied(TousuError):
    """The actor may not do this (role) or may not touch this object (scope)."""

    code = "forbidden"
    http_status = 403


class NotFound(TousuError):
    code = "not_found"
    http_status = 404


class InvalidTransition(TousuError):
    """The lifecycle table does not allow this change from the current status."""

    code = "invalid_transition"
    http_status = 409

    def __init__(self, *, src: str, dst: str, message: str | None = None) -> None:
        super().__init__(message or f"A case in status '{src}' cannot move to '{dst}'.")
        self.src = src
        self.dst = dst


class ConflictError(TousuError):
    """Somebody else changed the object first; reload and try again."""

    code = "conflict"
    http_status = 409
