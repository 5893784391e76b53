"""Delivery of customer messages: one interface, one sender per transport, chosen by settings.

Every sender has ``send(notification) -> str | None``: it returns what the other side answered (the
SMTP server's reply to the message, the SMS gateway's HTTP status) for the delivery record, and
raises ``DeliveryError`` when it could not deliver this time (the worker retries with backoff).

- e-mail (``TOUSU_EMAIL_TRANSPORT``): ``smtp`` sends through Django's SMTP mail backend
  (``TOUSU_SMTP_*``); ``file`` or ``console`` as below.
- SMS (``TOUSU_SMS_TRANSPORT``): ``http`` posts JSON to a generic gateway (``TOUSU_SMS_GATEWAY_*``);
  ``file`` or ``console`` as below.
- ``file`` appends one JSON line per message to ``TOUSU_DATA_DIR/outbox.log`` (development and the
  demo: nothing leaves the machine); ``console`` writes them to the log. Either channel left unset
  follows ``TOUSU_NOTIFY_TRANSPORT`` (``file`` by default).
"""

from __future__ import annotations

import contextlib
import json
import logging
import smtplib
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from email.utils import parseaddr
from typing import Any, Protocol

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.smtp import EmailBackend

from tousu.notifications.models import Notification, Transport

log = logging.getLogger("tousu.notifications")

# Set on every e-mail Tousu sends; the e-mail intake ignores mail carrying it (a loop).
LOOP_HEADER = "X-Tousu-Loop"


class DeliveryError(Exception):
    """The transport could not deliver this time; the worker retries with backoff. ``response`` is
    what the other side answered, if it answered; ``permanent`` when trying again cannot help, so the
    message fails at once instead of being retried."""

    def __init__(self, message: str, *, response: str = "", permanent: bool = False) -> None:
        super().__init__(message)
        self.response = response
        self.permanent = permanent  # trying again cannot help (an address the server refuses)


class Sender(Protocol):
    """Sends one message. A sender may also have ``close()``, called when the worker is done with
    it (after a batch), to release a connection it kept open."""

    def send(self, notification: Notification) -> str | None: ...


# --- development: file and console ---------------------------------------------------------------


_file_lock = threading.Lock()


class FileSender:
    """Development: logs ``body``, where a one-time code is masked (``Notification.clear_body``)."""

    def send(self, notification: Notification) -> str | None:
        path = settings.TOUSU_NOTIFY_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(
            {
                "id": notification.pk,
                "transport": notification.transport,
                "to": notification.address,
                "subject": notification.subject,
                "body": notification.body,
                **(
                    {"attachment": notification.attachment_name, "bytes": len(notification.attachment)}
                    if notification.attachment is not None
                    else {}
                ),
            },
            ensure_ascii=False,
        )
        try:
            with _file_lock, path.open("a", encoding="utf-8") as fh:  # lanes write from several threads
                fh.write(line + "\n")
        except OSError as exc:
            raise DeliveryError(str(exc)) from exc
        return None


class ConsoleSender:
    def send(self, notification: Notification) -> str | None:
        log.info("%s to %s: %s", notification.transport, notification.masked_address, notification.body)
        return None


# --- e-mail through Django's SMTP backend --------------------------------------------------------


class _RecordingSMTP(smtplib.SMTP):
    """Keeps the server's reply to the message (``250 2.0.0 Ok: queued as …``)."""

    last_reply = ""

    def data(self, msg: Any) -> tuple[int, bytes]:
        code, reply = super().data(msg)
        self.last_reply = f"{code} {reply.decode('utf-8', 'replace')}"
        return code, reply


class _RecordingSMTPSSL(smtplib.SMTP_SSL):
    last_reply = ""

    def data(self, msg: Any) -> tuple[int, bytes]:
        code, reply = super().data(msg)
        self.last_reply = f"{code} {reply.decode('utf-8', 'replace')}"
        return code, reply


class SmtpBackend(EmailBackend):
    """Django's SMTP backend, remembering the server's reply to the last message."""

    @property
    def connection_class(self) -> type[smtplib.SMTP]:
        return _RecordingSMTPSSL if self.use_ssl else _RecordingSMTP


def mail_domain() -> str:
    address = parseaddr(settings.TOUSU_MAIL_FROM)[1]
    return address.rpartition("@")[2] or "localhost"


def email_message(notification: Notification) -> EmailMessage:
    """The e-mail for ``notification``: plain UTF-8 text, marked as automatic (RFC 3834) and with
    the loop header, and a Message-ID fixed per notification so a repeated send is recognisable;
    its attachment, if it has one, as a MIME part of its own (multipart/mixed)."""
    message = EmailMessage(
        subject=notification.subject,
        body=notification.clear_body(),
        from_email=settings.TOUSU_MAIL_FROM,
        to=[notification.address],
        headers={
            "Message-ID": f"<tousu.{notification.pk}@{mail_domain()}>",
            "Auto-Submitted": "auto-generated",
            LOOP_HEADER: mail_domain(),
        },
    )
    if notification.attachment is not None and notification.attachment_name:
        message.attach(
            notification.attachment_name,
            bytes(notification.attachment),
            notification.attachment_type or "application/octet-stream",
        )
    return message


class SmtpEmailSender:
    """Sends through one SMTP connection for as long as the sender lives (the worker keeps one per
    batch and then calls ``close()``); after an error the next message opens a fresh connection."""

    def __init__(self) -> None:
        self._backend: SmtpBackend | None = None

    def send(self, notification: Notification) -> str | None:
        try:
            if self._backend is None:
                backend = SmtpBackend(fail_silently=False)
                backend.open()
                self._backend = backend
            sent = self._backend.send_messages([email_message(notification)])
            reply = getattr(self._backend.connection, "last_reply", "")
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise DeliveryError(
                f"SMTP: {exc}", response=_smtp_error_reply(exc), permanent=_smtp_permanent(exc)
            ) from exc
        if not sent:
            raise DeliveryError("SMTP: the message was not sent")
        return reply

    def close(self) -> None:
        if self._backend is not None:
            with contextlib.suppress(Exception):  # closing a broken connection: nothing more to learn
                self._backend.close()
            self._backend = None


def _smtp_permanent(exc: BaseException) -> bool:
    """A 5xx answer about this message (recipient, sender or content refused) will not change on a
    retry; a 4xx answer, a dropped connection or a timeout may."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _text in exc.recipients.values()]
        return bool(codes) and all(500 <= code < 600 for code in codes)
    if isinstance(exc, smtplib.SMTPSenderRefused | smtplib.SMTPDataError):
        return 500 <= exc.smtp_code < 600
    return False


def _smtp_error_reply(exc: BaseException) -> str:
    code = getattr(exc, "smtp_code", None)
    error = getattr(exc, "smtp_error", b"")
    if code is None:
        return ""
    text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
    return f"{code} {text}"[:500]


# --- SMS through a generic HTTP gateway ----------------------------------------------------------


class HttpSmsGateway:
    """POSTs ``{"to", "text", "reference"}`` as JSON to ``TOUSU_SMS_GATEWAY_URL`` with the token in
    ``Authorization: Bearer …``. Anything but a 2xx answer, a timeout or a refused connection is a
    ``DeliveryError``."""

    def send(self, notification: Notification) -> str | None:
        body = json.dumps(
            {
                "to": notification.address,
                "text": notification.clear_body(),
                "reference": str(notification.pk),
            },
            ensure_ascii=False,
        ).encode("utf-8")
        headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}
        if settings.TOUSU_SMS_GATEWAY_TOKEN:
            headers["Authorization"] = f"Bearer {settings.TOUSU_SMS_GATEWAY_TOKEN}"
        request = urllib.request.Request(
            settings.TOUSU_SMS_GATEWAY_URL, data=body, headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=settings.TOUSU_SMS_GATEWAY_TIMEOUT) as reply:
                status = reply.status
                text = reply.read(300).decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            detail = exc.read(300).decode("utf-8", "replace") if exc.fp is not None else ""
            response = f"HTTP {exc.code} {detail}".strip()
            raise DeliveryError(f"SMS gateway answered HTTP {exc.code}", response=response) from exc
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeliveryError(f"SMS gateway unreachable: {reason}") from exc
        response = f"HTTP {status} {text}".strip()
        if not 200 <= status < 300:
            raise DeliveryError(f"SMS gateway answered HTTP {status}", response=response)
        return response


# --- choosing a sender ---------------------------------------------------------------------------


def _development_sender(mode: str) -> Sender:
    return ConsoleSender() if mode == "console" else FileSender()


def email_sender() -> Sender:
    mode = settings.TOUSU_EMAIL_TRANSPORT or settings.TOUSU_NOTIFY_TRANSPORT
    return SmtpEmailSender() if mode == "smtp" else _development_sender(mode)


def sms_sender() -> Sender:
    mode = settings.TOUSU_SMS_TRANSPORT or settings.TOUSU_NOTIFY_TRANSPORT
    return HttpSmsGateway() if mode == "http" else _development_sender(mode)


def webhook_sender() -> Sender:
    """The TMF621 hub callbacks are always really posted (to the subscriber's own URL)."""
    from tousu.notifications.webhook import WebhookSender  # it imports DeliveryError from here

    return WebhookSender()


# One factory per transport; a transport without an entry goes to the development file/console.
SENDERS: dict[str, Callable[[], Sender]] = {
    Transport.EMAIL: email_sender,
    Transport.SMS: sms_sender,
    Transport.WEBHOOK: webhook_sender,
}


def sender_for(transport: str) -> Sender:
    factory = SENDERS.get(transport)
    if factory is None:
        return _development_sender(settings.TOUSU_NOTIFY_TRANSPORT)
    return factory()
