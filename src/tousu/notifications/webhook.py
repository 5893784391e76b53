"""Webhook deliveries (the TMF621 hub callbacks): a signed JSON POST with a short timeout.

The body is sent as stored; ``X-Tousu-Signature: sha256=<hex HMAC-SHA256 of the body keyed with
the endpoint's secret>`` lets the receiver check it came from us. A non-2xx answer, a redirect, a
refused connection or a timeout raises ``DeliveryError``, so the outbox retries with backoff.
A callback on a non-public address (loopback, private networks, link-local…) is refused unless
``TOUSU_WEBHOOK_PRIVATE_ADDRESSES`` is set: the host is resolved and checked before each delivery.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings

from tousu.notifications.models import Notification
from tousu.notifications.transports import DeliveryError


def webhook_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _public_only(url: str) -> None:
    """Refuse a callback whose host resolves to a loopback, private, link-local or otherwise
    non-public address (a subscriber must not make Tousu call into the operator's own network),
    unless ``TOUSU_WEBHOOK_PRIVATE_ADDRESSES`` allows it."""
    if settings.TOUSU_WEBHOOK_PRIVATE_ADDRESSES:
        return
    host = urllib.parse.urlsplit(url).hostname or ""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError) as exc:
        raise DeliveryError(f"{url}: cannot resolve {host!r}: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        mapped = getattr(address, "ipv4_mapped", None)
        if not (mapped or address).is_global:
            raise DeliveryError(
                f"{url}: {host} is a non-public address ({address}); "
                "set TOUSU_WEBHOOK_PRIVATE_ADDRESSES=true to allow such callbacks"
            )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a redirect is an error: the body would not follow it


_opener = urllib.request.build_opener(_NoRedirect)


class WebhookSender:
    def send(self, notification: Notification) -> str | None:
        endpoint = notification.webhook
        if endpoint is None or not endpoint.is_active:
            raise DeliveryError("the webhook endpoint is gone or inactive")
        body = notification.body.encode()
        _public_only(notification.address or endpoint.url)
        request = urllib.request.Request(
            notification.address or endpoint.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": "Tousu-Webhook/1",
                "X-Tousu-Signature": webhook_signature(endpoint.secret, body),
                "X-Tousu-Delivery": notification.key[:200],
            },
        )
        try:
            with _opener.open(request, timeout=settings.TOUSU_WEBHOOK_TIMEOUT) as response:
                status = response.status
                response.read(1024)
        except urllib.error.HTTPError as exc:
            raise DeliveryError(f"HTTP {exc.code} from {endpoint.url}", response=f"HTTP {exc.code}") from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise DeliveryError(f"{endpoint.url}: {exc}") from None
        if not 200 <= status < 300:
            raise DeliveryError(f"HTTP {status} from {endpoint.url}", response=f"HTTP {status}")
        return f"HTTP {status}"
