"""What the customer portal does, for its pages: file a complaint, prove who one is with a one-time
code, and show a case in the customer's words. Every change of a case goes through the case
services with ``actor=None`` (the customer is no staff user) and an ``Origin`` of the portal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.crypto import constant_time_compare, salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from tousu.common.errors import ValidationError
from tousu.common.onetime import MASK, onetime_code, onetime_seed
from tousu.common.origin import Origin
from tousu.common.phone import normalize_phone
from tousu.complaints import attachments
from tousu.complaints.choices import Channel, Level
from tousu.complaints.events import EventKind
from tousu.complaints.models import Complaint, ComplaintEvent, ReturnVisit
from tousu.complaints.services import attachments_add_with_case, complaint_register
from tousu.complaints.states import OPEN, Status
from tousu.customers.models import CustomerIdentity, IdentityKind
from tousu.notifications.messages import SIGNATURE
from tousu.notifications.models import Transport
from tousu.notifications.services import customer_language_set, notification_queue
from tousu.portal.models import TrackingCode
from tousu.sla.models import ClockKind, ClockState, SlaClock

CODE_DIGITS = 6
_HASH_SALT = "tousu.portal.tracking-code"


# --- filing ---------------------------------------------------------------------------------------


def portal_complaint_file(
    *,
    phone: str,
    customer_name: str,
    email: str,
    service_number: str,
    business_type: str,
    category_id: int,
    description: str,
    demand: str,
    preferred_reply_channel: str,
    origin: Origin,
    language: str | None = None,
) -> Complaint:
    """Register and accept a customer's complaint in one transaction, on the web channel, so it has
    its ticket number at once and the acknowledgement is queued (the accept event). A customer who
    files in another language than the default gets their messages in it. A refusal leaves
    nothing written."""
    with transaction.atomic():
        complaint = complaint_register(
            actor=None,
            channel=Channel.WEB,
            phone=phone,
            customer_name=customer_name,
            email=email,
            service_number=service_number,
            business_type=business_type,
            category_id=category_id,
            level=Level.DISSATISFIED,
            description=description,
            demand=demand,
            preferred_reply_channel=preferred_reply_channel,
            accept=True,
            origin=origin,
            contact_verified=False,  # anybody may type anybody's number here
        )
        if language and language != settings.LANGUAGE_CODE and complaint.customer_id is not None:
            customer_language_set(customer_id=complaint.customer_id, language=language)
    return complaint


# --- one-time codes --------------------------------------------------------------------------------


def _hash(complaint_id: int, code: str) -> str:
    return salted_hmac(_HASH_SALT, f"{complaint_id}:{code}", algorithm="sha256").hexdigest()


def _binding_hash(binding: str) -> str:
    return salted_hmac(_HASH_SALT + ".binding", binding, algorithm="sha256").hexdigest()


def _on_record(complaint: Complaint, phone_e164: str) -> bool:
    """Whether this number is the case customer's: the main number or another one on record."""
    if complaint.customer is None:  # still to be identified: nobody's number is on record
        return False
    if complaint.customer.phone == phone_e164:
        return True
    return CustomerIdentity.objects.filter(
        customer_id=complaint.customer.pk, kind=IdentityKind.PHONE, value=phone_e164
    ).exists()


def _case_by_ticket(ticket_no: str) -> Complaint | None:
    ticket_no = (ticket_no or "").strip().upper()
    if not ticket_no:
        return None
    return Complaint.objects.select_related("customer").filter(ticket_no=ticket_no).first()


def tracking_code_request(*, ticket_no: str, phone: str, binding: str, language: str | None = None) -> bool:
    """Send a one-time code to ``phone`` if it is on record for the case ``ticket_no``.

    Returns whether a code was queued, for tests and logs only: the page answers the same either
    way, so nobody learns which tickets exist or whose number is whose. ``phone`` must already be
    a valid number (the form checks it). ``binding`` is a random value kept in the asking browser
    session: the code works only with it and the same phone (``tracking_code_verify``).

    The code itself is never stored: the row keeps its keyed hash, the SMS row its masked text and
    the seed the worker derives the code from when it sends (``tousu.common.onetime``)."""
    if not binding:
        raise ValueError("a code must be bound to a session")
    phone_e164 = normalize_phone(phone)
    complaint = _case_by_ticket(ticket_no)
    if complaint is None or not _on_record(complaint, phone_e164):
        return False
    seed = onetime_seed()
    code = onetime_code(seed, digits=CODE_DIGITS)
    now = timezone.now()
    minutes = settings.TOUSU_PORTAL_CODE_MINUTES
    language = language or settings.LANGUAGE_CODE
    with transaction.atomic():
        # A new code replaces the ones sent before: only the latest works.
        TrackingCode.objects.filter(complaint=complaint, used_at__isnull=True).update(used_at=now)
        row = TrackingCode.objects.create(
            complaint=complaint,
            phone=phone_e164,
            code_hash=_hash(complaint.pk, code),
            binding_hash=_binding_hash(binding),
            created_at=now,
            expires_at=now + timedelta(minutes=minutes),
        )
        with translation.override(language):
            body = SIGNATURE.get(language, "") + _(
                "Your code to follow complaint %(ticket_no)s is %(code)s. It is valid for %(minutes)s "
                "minutes. Do not give it to anyone."
            ) % {"ticket_no": complaint.ticket_no, "code": MASK, "minutes": minutes}
        notification_queue(
            key=f"portal-code:{row.pk}",
            template="otp",
            transport=Transport.SMS,
            address=phone_e164,
            body=body,
            language=language,
            complaint_id=complaint.pk,
            secret_seed=seed,
        )
    return True


@dataclass(frozen=True)
class Verification:
    """The outcome of checking a code: the case it opens, or why not (a message for the page)."""

    complaint_id: int | None
    message: str = ""


def tracking_code_verify(*, ticket_no: str, code: str, phone: str, binding: str) -> Verification:
    """Check ``code`` against the latest code sent for ``ticket_no``. A wrong code counts as an
    attempt; after ``TOUSU_PORTAL_CODE_ATTEMPTS`` of them, or once expired, the code is dead and
    the customer asks for a new one. An unknown ticket reads like a wrong code, and so does a code
    sent to another phone or asked for in another browser session (``binding``): those never
    open the case, and do not count against the customer's own tries."""
    wrong = Verification(None, _("The code is not correct. Check the SMS and try again."))
    dead = Verification(None, _("This code has expired or was tried too often. Ask for a new code."))
    code = "".join((code or "").split())
    complaint = _case_by_ticket(ticket_no)
    if complaint is None:
        return wrong
    now = timezone.now()
    with transaction.atomic():
        row = (
            TrackingCode.objects.select_for_update()
            .filter(complaint=complaint, used_at__isnull=True)
            .order_by("-created_at", "-id")
            .first()
        )
        if row is None or row.expires_at <= now or row.attempts >= settings.TOUSU_PORTAL_CODE_ATTEMPTS:
            return dead
        bound = bool(binding) and constant_time_compare(row.binding_hash, _binding_hash(binding))
        if not bound or row.phone != normalize_phone(phone):
            return wrong
        if not (code.isdigit() and constant_time_compare(row.code_hash, _hash(complaint.pk, code))):
            TrackingCode.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1)
            if row.attempts + 1 >= settings.TOUSU_PORTAL_CODE_ATTEMPTS:
                return dead
            return wrong
        row.used_at = now
        row.save(update_fields=["used_at"])
    return Verification(complaint.pk)


# --- the case as the customer sees it ---------------------------------------------------------------

# Customer-facing wording: what the status means for them, not the internal step.
CUSTOMER_STATUS: dict[str, tuple[str, Any]] = {
    Status.REGISTERED: ("received", gettext_lazy("Accepted")),
    Status.ACCEPTED: ("received", gettext_lazy("Accepted")),
    Status.DISPATCHED: ("in_progress", gettext_lazy("Being handled")),
    Status.INVESTIGATING: ("in_progress", gettext_lazy("Being handled")),
    Status.PLAN_PROPOSED: ("in_progress", gettext_lazy("Being handled")),
    Status.AWAITING_APPROVAL: ("in_progress", gettext_lazy("Being handled")),
    Status.REOPENED: ("in_progress", gettext_lazy("Being handled")),
    Status.AWAITING_CUSTOMER: ("needs_you", gettext_lazy("Waiting for information from you")),
    Status.REPLIED: ("answered", gettext_lazy("Answered")),
    Status.RETURN_VISIT: ("answered", gettext_lazy("Answered")),
    Status.CLOSED: ("closed", gettext_lazy("Closed")),
    Status.REJECTED: ("rejected", gettext_lazy("Not accepted")),
    Status.WITHDRAWN: ("withdrawn", gettext_lazy("Withdrawn")),
}


def customer_status(complaint: Complaint) -> tuple[str, str]:
    """(css key, label) of the case's status in the customer's words."""
    key, label = CUSTOMER_STATUS[complaint.status]
    return key, str(label)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    title: str
    text: str = ""


def _entry(event: ComplaintEvent) -> TimelineEntry | None:
    """One event in the customer's words, or None for what the customer is not shown (internal
    notes, assignment, escalation, deadlines, plans, personal-data reveals…)."""
    kind = event.kind
    p = event.payload or {}
    at = event.created_at
    if kind == EventKind.REGISTERED:
        return TimelineEntry(at, _("We received your complaint"))
    if kind == EventKind.ACCEPTED:
        return TimelineEntry(
            at, _("Accepted under ticket number %(ticket_no)s") % {"ticket_no": p.get("ticket_no", "")}
        )
    if kind == EventKind.REJECTED:
        return TimelineEntry(at, _("Not accepted"), str(p.get("explanation", "")))
    if kind == EventKind.DISPATCHED:
        return TimelineEntry(at, _("Passed to the department responsible"))
    if kind == EventKind.INFO_REQUESTED:
        return TimelineEntry(at, _("We asked you for information"), str(p.get("question", "")))
    if kind == EventKind.INFO_RECEIVED:
        return TimelineEntry(at, _("Your information was received"))
    if kind == EventKind.REPLIED:
        return TimelineEntry(at, _("We replied"), str(p.get("content", "")))
    if kind == EventKind.RETURN_VISIT:
        return TimelineEntry(at, _("Your feedback was recorded"))
    if kind == EventKind.REOPENED:
        return TimelineEntry(at, _("Your complaint is being handled again"))
    if kind == EventKind.WITHDRAWN:
        return TimelineEntry(at, _("Withdrawn at your request"))
    if kind == EventKind.CLOSED:
        return TimelineEntry(at, _("Closed"))
    return None


def customer_timeline(complaint: Complaint) -> list[TimelineEntry]:
    """The events the customer may see, oldest first. No staff names, no internal notes."""
    entries = (_entry(e) for e in complaint.events.order_by("created_at", "id"))
    return [e for e in entries if e is not None]


def survey_answered(complaint: Complaint) -> bool:
    """Whether the customer was reached for a return visit since the latest reply."""
    if complaint.replied_at is None:
        return False
    return ReturnVisit.objects.filter(
        complaint=complaint, reached=True, visited_at__gte=complaint.replied_at
    ).exists()


def customer_open_question(complaint: Complaint) -> str:
    """What we asked the customer, while the case waits for their answer ("" otherwise): the
    question of the latest request for information."""
    if complaint.status != Status.AWAITING_CUSTOMER:
        return ""
    event = complaint.events.filter(kind=EventKind.INFO_REQUESTED).order_by("-created_at", "-id").first()
    return str((event.payload or {}).get("question", "")) if event is not None else ""


def customer_expected_reply(complaint: Complaint) -> datetime | None:
    """When we promised to reply: the due time of the case's open reply clock (None once replied,
    or before a reply clock runs). A paused clock (waiting for the customer) is shown as it stands."""
    if complaint.status not in OPEN:
        return None
    clock = (
        SlaClock.objects.filter(
            complaint_id=complaint.pk,
            kind=ClockKind.REPLY,
            state__in=[ClockState.RUNNING, ClockState.PAUSED, ClockState.BREACHED],
            ended_at__isnull=True,
        )
        .order_by("-cycle", "due_at")
        .first()
    )
    return clock.due_at if clock is not None else None


def portal_evidence_add(*, complaint_id: int, uploads: list[Any], origin: Origin) -> list[tuple[str, str]]:
    """The customer adds evidence to their open case after filing, through the one attachment
    service (its type, size and per-case limits, the portal's capability). Returns the files refused
    as ``(name, reason)``; a finished case takes none (``ValidationError``, nothing written)."""
    with attachments.kept_if_committed(), transaction.atomic():
        complaint = Complaint.objects.select_for_update().get(pk=complaint_id)
        if complaint.status not in OPEN:
            raise ValidationError(
                _("Your complaint is finished: evidence can no longer be added."),
                fields={"attachments": "case finished"},
            )
        return attachments_add_with_case(
            actor=None, complaint_id=complaint.pk, uploads=uploads, origin=origin
        )
