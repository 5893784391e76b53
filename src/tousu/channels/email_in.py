"""E-mail in: the worker polls an IMAP folder; each new message becomes a case or a note on one.

- A new message becomes an accepted case (channel ``email``) for the customer found or created by
  the From address, in the category ``TOUSU_EMAIL_CATEGORY`` (to be classified by staff), so the
  customer gets the acknowledgement with the ticket number by e-mail.
- A message whose subject or text names a ticket number (``TS`` + 14 digits) of a case of that
  same customer becomes a note on it; a case awaiting the customer continues (investigating).
- Attachments go through ``attachment_add`` (its size and type limits); a refused one is noted.
- Auto-replies, bounces and our own mail coming back are ignored, with the reason recorded.
- Each message is handled once: by Message-ID (``InboundEmail``, and the case's external id), by
  UID (``MailboxState``), and flagged ``\\Seen``. A message that fails is recorded with its error
  and never stops the poll.
"""

from __future__ import annotations

import contextlib
import hashlib
import imaplib
import io
import logging
import re
import time
from datetime import datetime
from email import policy
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.channels.models import InboundEmail, InboundOutcome, MailboxState
from tousu.common.db import exclusive
from tousu.common.errors import TousuError
from tousu.common.origin import EMAIL
from tousu.complaints import services as svc
from tousu.complaints.choices import Channel, ReplyChannel
from tousu.complaints.models import Category, Complaint
from tousu.complaints.services._base import MAX_TEXT
from tousu.complaints.states import Status
from tousu.notifications.models import CustomerLanguage
from tousu.notifications.services import customer_language_set
from tousu.notifications.transports import LOOP_HEADER

log = logging.getLogger("tousu.channels.email")

TICKET_RE = re.compile(r"\bTS\d{14}\b")
CJK_RE = re.compile(r"[\u3400-\u9fff]")
BATCH = 50
_AUTO_PRECEDENCE = {"bulk", "auto_reply", "list", "junk"}
_BOUNCE_SENDERS = {"mailer-daemon", "postmaster"}


# --- reading a message -------------------------------------------------------------------------


class _TextFromHtml(HTMLParser):
    _BLOCK = {"p", "div", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote"}
    _SKIP = {"script", "style", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK or tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Readable text of an HTML body: tags dropped, blocks on their own lines, entities decoded."""
    parser = _TextFromHtml()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _part_text(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
    except (LookupError, UnicodeError, KeyError):
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def body_text(msg: EmailMessage) -> str:
    """The text of the message: its plain-text body, else its HTML body made text."""
    plain = msg.get_body(preferencelist=("plain",))
    if plain is not None:
        return _part_text(plain).strip()
    html = msg.get_body(preferencelist=("html",))
    if html is not None:
        return html_to_text(_part_text(html))
    return ""


def attachments(msg: EmailMessage) -> list[tuple[str, bytes]]:
    """(file name, content) of every attached file."""
    result = []
    for part in msg.iter_attachments():
        name = part.get_filename()
        if not name:
            continue
        data = part.get_payload(decode=True)
        if isinstance(data, bytes):
            result.append((name, data))
    return result


def message_key(msg: EmailMessage, raw: bytes) -> str:
    """The message's identity (at most 100 characters): its Message-ID, or a hash of its bytes."""
    mid = str(msg.get("Message-ID") or "").strip()
    if not mid:
        return "sha256:" + hashlib.sha256(raw).hexdigest()
    if len(mid) > 100:
        return "sha256:" + hashlib.sha256(mid.encode("utf-8", "replace")).hexdigest()
    return mid


def _our_address() -> str:
    return parseaddr(settings.TOUSU_MAIL_FROM)[1].lower()


def ignore_reason(msg: EmailMessage, sender: str) -> str:
    """Why this message must not become a case ('' if it may): our own mail coming back, a
    bounce, an auto-reply."""
    if msg.get(LOOP_HEADER) is not None:
        return _("Mail loop: the message carries our %(header)s header.") % {"header": LOOP_HEADER}
    if sender and sender == _our_address():
        return _("Mail loop: the message comes from our own address.")
    if msg.get_content_type() == "multipart/report":
        return _("Bounce: a delivery status report.")
    if sender.partition("@")[0] in _BOUNCE_SENDERS:
        return _("Bounce: sent by %(sender)s.") % {"sender": sender.partition("@")[0].upper()}
    return_path = msg.get("Return-Path")
    if return_path is not None and not parseaddr(str(return_path))[1]:
        return _("Bounce: the Return-Path is empty.")
    auto = str(msg.get("Auto-Submitted") or "").strip().lower()
    if auto and auto != "no":
        return _("Auto-reply: Auto-Submitted is '%(value)s'.") % {"value": auto}
    for header in ("X-Autoreply", "X-Autorespond"):
        if msg.get(header) is not None:
            return _("Auto-reply: the message carries %(header)s.") % {"header": header}
    precedence = str(msg.get("Precedence") or "").strip().lower()
    if precedence in _AUTO_PRECEDENCE:
        return _("Auto-reply: Precedence is '%(value)s'.") % {"value": precedence}
    if not sender:
        return _("The message has no sender address.")
    return ""


def _received_at(msg: EmailMessage) -> datetime | None:
    try:
        when = parsedate_to_datetime(str(msg.get("Date") or ""))
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or timezone.is_naive(when):
        return None
    return min(when, timezone.now())


# --- handling one message ----------------------------------------------------------------------


def email_handle(raw: bytes, *, mailbox: str = "", uid: int | None = None) -> InboundEmail:
    """Handle one message (its bytes as received); never raises. A message already handled (same
    Message-ID) is not handled again: its first record is returned."""
    try:
        msg: EmailMessage = BytesParser(policy=policy.default).parsebytes(raw)
        key = message_key(msg, raw)
    except Exception as exc:  # not even readable: recorded under the hash of its bytes
        key = "sha256:" + hashlib.sha256(raw).hexdigest()
        if InboundEmail.objects.filter(message_id=key).exists():
            return InboundEmail.objects.get(message_id=key)
        return _failed(
            InboundEmail(message_id=key, mailbox=mailbox[:300], uid=uid), f"{type(exc).__name__}: {exc}"
        )
    done = InboundEmail.objects.filter(message_id=key).first()
    if done is not None:
        return done
    record = InboundEmail(message_id=key, mailbox=mailbox[:300], uid=uid)
    try:
        name, sender = _sender(msg)
        record.from_address = sender[:254]
        record.subject = _subject(msg)[:300]
        reason = ignore_reason(msg, sender)
        with transaction.atomic():
            if reason:
                record.outcome = InboundOutcome.IGNORED
                record.reason = reason
            else:
                _intake(record, msg, name, sender)
            record.handled_at = timezone.now()
            record.save()
    except IntegrityError:
        # Another worker handled the same message at the same moment: theirs counts.
        done = InboundEmail.objects.filter(message_id=key).first()
        if done is not None:
            return done
        return _failed(record, "IntegrityError")
    except (OperationalError, InterfaceError):
        raise  # the database, not the message: the poll stops and the message is read again later
    except Exception as exc:  # a bad message never stops the poll
        log.warning("e-mail %s could not be handled: %s", key, exc, exc_info=not isinstance(exc, TousuError))
        return _failed(
            record, f"{type(exc).__name__}: {exc}" if not isinstance(exc, TousuError) else str(exc)
        )
    log.info("e-mail %s: %s %s", key, record.outcome, record.reason)
    return record


def _failed(record: InboundEmail, error: str) -> InboundEmail:
    record.pk = None
    record.outcome = InboundOutcome.FAILED
    record.complaint = None
    record.reason = error[:2000]
    record.handled_at = timezone.now()
    try:
        with transaction.atomic():
            record.save()
    except IntegrityError:
        pass
    return record


def _sender(msg: EmailMessage) -> tuple[str, str]:
    pairs = getaddresses([str(msg.get("From") or "")])
    name, address = pairs[0] if pairs else ("", "")
    return name.strip()[:100], address.strip().lower()


def _subject(msg: EmailMessage) -> str:
    return " ".join(str(msg.get("Subject") or "").split())


def _intake(record: InboundEmail, msg: EmailMessage, name: str, sender: str) -> None:
    subject = record.subject
    text = body_text(msg)
    ticket = TICKET_RE.search(f"{subject}\n{text}")
    complaint = None
    if ticket is not None:
        complaint = (
            Complaint.objects.filter(ticket_no=ticket.group(0))
            .filter(
                Q(customer__email__iexact=sender)
                | Q(customer__identities__kind="email", customer__identities__value=sender)
            )
            .first()
        )
    if complaint is not None:
        _add_to_case(record, complaint, subject, text)
    else:
        complaint = _new_case(record, msg, name, sender, subject, text)
    for file_name, data in attachments(msg):
        _attach(complaint, file_name, data)


def _clip(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _add_to_case(record: InboundEmail, complaint: Complaint, subject: str, text: str) -> None:
    note = _clip(_("E-mail from the customer: %(subject)s") % {"subject": subject} + "\n\n" + text)
    if complaint.status == Status.AWAITING_CUSTOMER:  # the e-mail is the customer's answer
        svc.complaint_customer_answer(actor=None, complaint_id=complaint.pk, text=note, origin=EMAIL)
    else:
        svc.complaint_note(actor=None, complaint_id=complaint.pk, text=note, origin=EMAIL)
    record.outcome = InboundOutcome.NOTE_ADDED
    record.complaint = complaint


def _new_case(
    record: InboundEmail, msg: EmailMessage, name: str, sender: str, subject: str, text: str
) -> Complaint:
    category = Category.objects.filter(code=settings.TOUSU_EMAIL_CATEGORY, is_active=True).first()
    if category is None:
        raise TousuError(
            _("The category '%(code)s' for e-mail cases does not exist (TOUSU_EMAIL_CATEGORY).")
            % {"code": settings.TOUSU_EMAIL_CATEGORY}
        )
    description = _clip("\n\n".join(part for part in (subject, text) if part) or _("(empty e-mail)"))
    complaint = svc.complaint_register(
        actor=None,
        channel=Channel.EMAIL,
        email=sender,
        customer_name=name,
        business_type=settings.TOUSU_EMAIL_BUSINESS_TYPE,
        category_id=category.pk,
        description=description,
        preferred_reply_channel=ReplyChannel.EMAIL,
        received_at=_received_at(msg),
        external_id=record.message_id,
        accept=True,
        origin=EMAIL,
    )
    # Someone who writes without a word of Chinese gets their messages in English, unless they chose.
    if (
        complaint.customer_id is not None
        and not CJK_RE.search(description)
        and not CustomerLanguage.objects.filter(customer_id=complaint.customer_id).exists()
    ):
        customer_language_set(customer_id=complaint.customer_id, language="en")
    record.outcome = InboundOutcome.CASE_CREATED
    record.complaint = complaint
    return complaint


def _attach(complaint: Complaint, name: str, data: bytes) -> None:
    try:
        with transaction.atomic():
            svc.attachment_add(
                actor=None, complaint_id=complaint.pk, name=name, content=io.BytesIO(data), origin=EMAIL
            )
    except TousuError as exc:
        svc.complaint_note(
            actor=None,
            complaint_id=complaint.pk,
            text=_("The e-mail's attachment '%(name)s' was not kept: %(reason)s")
            % {"name": name[:200], "reason": str(exc)},
            origin=EMAIL,
        )


# --- the mailbox -------------------------------------------------------------------------------


def mailbox_name() -> str:
    return (
        f"{settings.TOUSU_IMAP_USER}@{settings.TOUSU_IMAP_HOST}:{settings.TOUSU_IMAP_PORT}"
        f"/{settings.TOUSU_IMAP_FOLDER}"
    )


def _connect() -> imaplib.IMAP4:
    host, port, timeout = settings.TOUSU_IMAP_HOST, settings.TOUSU_IMAP_PORT, settings.TOUSU_IMAP_TIMEOUT
    conn: imaplib.IMAP4
    if settings.TOUSU_IMAP_SSL:
        conn = imaplib.IMAP4_SSL(host, port, timeout=timeout)
    else:
        conn = imaplib.IMAP4(host, port, timeout=timeout)
    try:
        conn.login(settings.TOUSU_IMAP_USER, settings.TOUSU_IMAP_PASSWORD)
    except Exception:
        _logout(conn)
        raise
    return conn


def _logout(conn: imaplib.IMAP4) -> None:
    with contextlib.suppress(Exception):  # the connection is gone already
        conn.logout()


def _check(result: tuple[str, Any], what: str) -> Any:
    typ, data = result
    if typ != "OK":
        raise imaplib.IMAP4.error(f"{what}: {typ} {data!r}")
    return data


def _raw_message(data: Any) -> bytes | None:
    for item in data or []:
        if isinstance(item, tuple) and len(item) >= 2 and isinstance(item[1], bytes):
            return item[1]
    return None


def mailbox_poll() -> int:
    """Read the new messages of the configured folder once. Returns how many were handled.
    A connection or protocol failure is logged and recorded on the mailbox; it does not raise."""
    if not settings.TOUSU_IMAP_HOST:
        return 0
    name = mailbox_name()
    state, _created = MailboxState.objects.get_or_create(mailbox=name[:300])
    handled = 0
    try:
        conn = _connect()
        try:
            _check(conn.select(_quote(settings.TOUSU_IMAP_FOLDER)), "SELECT")
            validity = int((conn.response("UIDVALIDITY")[1] or [b"0"])[0] or 0)
            if validity != state.uidvalidity:
                state.uidvalidity, state.last_uid = validity, 0
            found = _check(conn.uid("SEARCH", f"UID {state.last_uid + 1}:*"), "SEARCH")
            uids = sorted(int(u) for u in (found[0] or b"").split() if int(u) > state.last_uid)
            for uid in uids[:BATCH]:
                data = _check(conn.uid("FETCH", str(uid), "(BODY.PEEK[])"), "FETCH")
                raw = _raw_message(data)
                if raw is not None:
                    email_handle(raw, mailbox=name, uid=uid)
                    handled += 1
                conn.uid("STORE", str(uid), "+FLAGS", "(\\Seen)")
                state.last_uid = uid
                state.save(update_fields=["uidvalidity", "last_uid"])
        finally:
            _logout(conn)
    except (imaplib.IMAP4.error, OSError, ValueError) as exc:
        log.warning("e-mail in: polling %s failed: %s", name, exc)
        state.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    else:
        state.last_error = ""
    state.polled_at = timezone.now()
    state.save(update_fields=["uidvalidity", "last_uid", "polled_at", "last_error"])
    return handled


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


_next_poll = 0.0


def email_poll() -> int:
    """The worker's job: poll the mailbox every ``TOUSU_IMAP_INTERVAL`` seconds (sooner while a
    poll finds a full batch). Does nothing when no IMAP host is configured."""
    global _next_poll
    if not settings.TOUSU_IMAP_HOST or time.monotonic() < _next_poll:
        return 0
    mailbox = f"imap:{settings.TOUSU_IMAP_USER}@{settings.TOUSU_IMAP_HOST}:{settings.TOUSU_IMAP_PORT}/{settings.TOUSU_IMAP_FOLDER}"
    try:
        # Two workers never read one mailbox at once: the other one skips this round.
        with exclusive(mailbox) as mine:
            handled = mailbox_poll() if mine else 0
    except DatabaseError:
        raise  # the worker waits for the database and retries
    except Exception:  # anything else must not stop the worker's other jobs
        log.exception("e-mail in: the poll failed")
        handled = 0
    _next_poll = 0.0 if handled >= BATCH else time.monotonic() + settings.TOUSU_IMAP_INTERVAL
    return handled
