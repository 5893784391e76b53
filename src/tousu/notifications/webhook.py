"""Webhook deliveries (the TMF621 hub callbacks): a signed JSON POST within a time budget.

Signatures follow the Standard Webhooks scheme (https://www.standardwebhooks.com/):

* ``webhook-id``: the delivery's key, the same on every retry (a receiver drops repeats);
* ``webhook-timestamp``: seconds since the epoch when this attempt was signed;
* ``webhook-signature``: ``v1,<base64 HMAC-SHA256("{id}.{timestamp}.{body}")>`` keyed with the
  subscription's secret (its UTF-8 bytes). The timestamp is signed, so a receiver that refuses
  timestamps older than a few minutes cannot be fed a recorded delivery again.

``X-Tousu-Signature: sha256=<hex HMAC-SHA256 of the body>`` and ``X-Tousu-Delivery`` are still
sent for receivers written before; they are not replay-safe.

The callback's host is resolved once, every address is checked (a loopback, private,
link-local… address is refused unless ``TOUSU_WEBHOOK_PRIVATE_ADDRESSES`` is set), and the
connection goes to the address that was checked, with the name in the ``Host`` header and in TLS
(SNI and certificate): a DNS answer that changes between the check and the connection (DNS
rebinding) cannot point the request elsewhere. A non-2xx answer, a redirect, a refused connection
or a delivery that takes longer than ``TOUSU_WEBHOOK_TIMEOUT`` seconds in all raises
``DeliveryError``, so the outbox retries with backoff.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import socket
import ssl
import time
import urllib.parse
from dataclasses import dataclass

from django.conf import settings

from tousu.notifications.models import Notification
from tousu.notifications.transports import DeliveryError

SIGNATURE_VERSION = "v1"


def webhook_signature(secret: str, body: bytes) -> str:
    """The legacy ``X-Tousu-Signature`` (body only, no timestamp)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def standard_signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """``webhook-signature``: ``v1,`` and the base64 HMAC-SHA256 of ``{id}.{timestamp}.{body}``."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


def signed_headers(secret: str, msg_id: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    timestamp = int(time.time() if now is None else now)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(secret, msg_id, timestamp, body),
        "X-Tousu-Signature": webhook_signature(secret, body),
        "X-Tousu-Delivery": msg_id,
    }


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # the name, for Host and TLS
    port: int
    path: str
    address: str  # the checked IP address the connection goes to


def _allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_global


def resolve(url: str) -> Target:
    """Resolve the callback's host once and check every address it has; the connection then goes
    to the first of them."""
    parts = urllib.parse.urlsplit(url)
    scheme = (parts.scheme or "").lower()
    host = parts.hostname or ""
    if scheme not in ("http", "https") or not host:
        raise DeliveryError(f"{url}: not an http(s) URL", permanent=True)
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise DeliveryError(f"{url}: bad port", permanent=True) from None
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise DeliveryError(f"{url}: cannot resolve {host!r}: {exc}") from None
    addresses = []
    for info in infos:
        text = str(info[4][0]).split("%", 1)[0]
        address = ipaddress.ip_address(text)
        if not settings.TOUSU_WEBHOOK_PRIVATE_ADDRESSES and not _allowed(address):
            raise DeliveryError(
                f"{url}: {host} is a non-public address ({address}); "
                "set TOUSU_WEBHOOK_PRIVATE_ADDRESSES=true to allow such callbacks"
            )
        addresses.append(str(info[4][0]))
    if not addresses:
        raise DeliveryError(f"{url}: {host!r} has no address")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme, host, port, path, addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to ``address``; ``Host`` stays the name."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to ``address``; SNI and the certificate check use the name."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=ssl.create_default_context())
        self._address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def post(target: Target, body: bytes, headers: dict[str, str], *, budget: float) -> int:
    """POST within ``budget`` seconds in all (connecting, sending, the answer's status)."""
    deadline = time.monotonic() + budget
    cls = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
    connection = cls(target, timeout=budget)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("time budget spent")
        if connection.sock is not None:
            connection.sock.settimeout(remaining)
        response = connection.getresponse()
        response.read(1024)
        return response.status
    finally:
        connection.close()


class WebhookSender:
    def send(self, notification: Notification) -> str | None:
        endpoint = notification.webhook
        if endpoint is None or not endpoint.is_active:
            raise DeliveryError("the webhook endpoint is gone or inactive", permanent=True)
        url = notification.address or endpoint.url
        body = notification.body.encode()
        target = resolve(url)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Tousu-Webhook/1",
            **signed_headers(endpoint.secret, notification.key[:200], body),
        }
        try:
            status = post(target, body, headers, budget=settings.TOUSU_WEBHOOK_TIMEOUT)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise DeliveryError(f"{endpoint.url}: {exc or type(exc).__name__}") from None
        if not 200 <= status < 300:
            raise DeliveryError(f"HTTP {status} from {endpoint.url}", response=f"HTTP {status}")
        return f"HTTP {status}"
