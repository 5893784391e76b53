"""Delivery of customer messages. One interface; issue-specific transports plug in here.

``file`` appends one JSON line per message to ``TOUSU_DATA_DIR/outbox.log`` (development and the
demo: nothing leaves the machine); ``console`` writes them to the log.
"""

from __future__ import annotations

import json
import logging
from typing import Protocol

from django.conf import settings

from tousu.notifications.models import Notification

log = logging.getLogger("tousu.notifications")


class DeliveryError(Exception):
    """The transport could not deliver this time; the worker retries with backoff."""


class Sender(Protocol):
    def send(self, notification: Notification) -> None: ...


class FileSender:
    def send(self, notification: Notification) -> None:
        path = settings.TOUSU_NOTIFY_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(
            {
                "id": notification.pk,
                "transport": notification.transport,
                "to": notification.address,
                "subject": notification.subject,
                "body": notification.body,
            },
            ensure_ascii=False,
        )
        try:
            with path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        except OSError as exc:
            raise DeliveryError(str(exc)) from exc


class ConsoleSender:
    def send(self, notification: Notification) -> None:
        log.info("%s to %s: %s", notification.transport, notification.masked_address, notification.body)


def sender_for(transport: str) -> Sender:
    if transport == "webhook":  # the TMF621 hub callbacks (notifications/webhook.py)
        from tousu.notifications.webhook import WebhookSender

        return WebhookSender()
    if settings.TOUSU_NOTIFY_TRANSPORT == "console":
        return ConsoleSender()
    return FileSender()
