"""Where a request came from, recorded with audit events (who, when, from where)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Origin:
    """The place an action came from: the web (with the client address), the API, a command, the worker."""

    via: str = "system"
    ip: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: Any) -> Origin:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        ip = forwarded.split(",")[0].strip() if forwarded else request.META.get("REMOTE_ADDR")
        return cls(via="web", ip=ip or None, user_agent=request.META.get("HTTP_USER_AGENT", "")[:300])


SYSTEM = Origin(via="system")
COMMAND = Origin(via="command")
