"""Webhook deliveries (the TMF621 hub callbacks): a signed JSON POST with a short timeout.

The body is sent as stored; ``X-Tousu-Signature: sha256=<hex HMAC-SHA256 of the body keyed with
the endpoint's secret>`` lets the receiver check it came from us. A non-2xx answer, a redirect, a
refused connection or a timeout raises ``DeliveryError``, so the outbox retries with backoff.
"""

from __future__ import annotations

import hashlib
import hmac
import urllib.error
import urllib.request

from django.conf import settings

from tousu.notifications.models import Notification
from tousu.notifications.transports import DeliveryError


def webhook_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


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
