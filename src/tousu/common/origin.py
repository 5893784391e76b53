"""Where a request came from, recorded with audit events (who, when, from where)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings


def client_address(request: Any) -> str:
    """The client's address. ``X-Forwarded-For`` is believed only as far as the configured
    proxies (``TOUSU_PROXY_HOPS``) wrote it: its earlier entries are written by the client."""
    hops = settings.TOUSU_PROXY_HOPS
    if hops:
        chain = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()]
        if len(chain) >= hops:
            return chain[-hops]
    return str(request.META.get("REMOTE_ADDR") or "unknown")


@dataclass(frozen=True)
class Origin:
    """The place an action came from: the web (with the client address), the API, a command, the worker."""

    via: str = "system"
    ip: str | None = None
    user_agent: str = ""

    @property
    def kind(self) -> str:
        """What sort of principal acts: ``web``, ``api`` (``api:<key name>``), ``portal``, ``email``,
        ``regulator``, ``worker``, ``triage``, ``command`` or ``system``."""
        return self.via.split(":", 1)[0]

    @property
    def label(self) -> str:
        """Who acted, in words, when no staff user did: the API key's name, "customer", "worker"…"""
        kind = self.kind
        if kind == "api":
            return self.via.split(":", 1)[1] or "api"
        if kind in ("portal", "email"):
            return "customer"
        return kind

    @classmethod
    def from_request(cls, request: Any, *, via: str = "web") -> Origin:
        return cls(
            via=via, ip=client_address(request), user_agent=str(request.META.get("HTTP_USER_AGENT", ""))[:300]
        )


SYSTEM = Origin(via="system")
COMMAND = Origin(via="command")
WORKER = Origin(via="worker")
EMAIL = Origin(via="email")
REGULATOR = Origin(via="regulator")
TRIAGE = Origin(via="triage")  # the classifier, in the worker: classification, routing, risk
PORTAL = Origin(via="portal")
