"""The outbox: case events that need telling become notifications, which are delivered with retries.

Both steps claim rows with ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any number of
workers can run side by side; on SQLite the IMMEDIATE write transaction serialises them. Turning
an event into notifications is exactly-once (one transaction clears the event's flag and writes its
notifications, each with a unique key); delivery is at-least-once (a crash between sending and
recording the send repeats that one message).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone, translation

from tousu.accounts.models import ApprovalLimit, User
from tousu.accounts.roles import DEFAULT_APPROVAL_LIMITS, Role
from tousu.common.db import is_postgres
from tousu.complaints.choices import Level, RejectionReason, RemedyKind, ReplyChannel
from tousu.complaints.events import EventKind
from tousu.complaints.models import ComplaintEvent
from tousu.complaints.services._base import OUTBOX_CHANNEL
from tousu.notifications.messages import render
from tousu.notifications.models import DeliveryStatus, Notification, Transport
from tousu.notifications.transports import DeliveryError, sender_for
from tousu.sla.models import ClockKind

log = logging.getLogger("tousu.notifications")

CUSTOMER_TEMPLATES = {
    EventKind.ACCEPTED: "ack",
    EventKind.REJECTED: "rejected",
    EventKind.INFO_REQUESTED: "info_request",
    EventKind.REPLIED: "reply",
    EventKind.WITHDRAWN: "withdrawn",
}


def _claim(queryset, batch: int):  # type: ignore[no-untyped-def]
    query = queryset.select_for_update(skip_locked=True) if is_postgres() else queryset
    return list(query[:batch])


def _customer_address(event: ComplaintEvent, template: str) -> tuple[str, str] | None:
    """Where the customer gets this message: the channel they prefer, except for the reply, which
    goes out by the channel it was given on (a reply given by phone or in person is not sent)."""
    complaint = event.complaint
    customer = complaint.customer
    channel = complaint.preferred_reply_channel
    if template == "reply":
        channel = event.payload.get("channel") or channel
        if channel not in (ReplyChannel.SMS, ReplyChannel.EMAIL):
            return None  # the reply was given in person, by phone or letter
    wants_email = channel == ReplyChannel.EMAIL
    if wants_email and customer.email:
        return Transport.EMAIL, customer.email
    if customer.phone:
        return Transport.SMS, customer.phone
    if customer.email:
        return Transport.EMAIL, customer.email
    return None


def _approvers(amount: Decimal) -> list[User]:
    limits: dict[str, Decimal | None] = {
        role: (None if limit is None else Decimal(limit)) for role, limit in DEFAULT_APPROVAL_LIMITS.items()
    }
    limits.update({row.role: row.max_amount for row in ApprovalLimit.objects.all()})
    roles = [
        role
        for role in (Role.SUPERVISOR, Role.MANAGER)
        if limits.get(role, Decimal(0)) is None or amount <= (limits.get(role) or Decimal(0))
    ]
    return list(User.objects.filter(is_active=True, role__in=roles))


def _department_handlers(department_id: int | None) -> list[User]:
    if department_id is None:
        return []
    return list(User.objects.filter(is_active=True, role=Role.HANDLER, department_id=department_id))


def _staff_recipients(event: ComplaintEvent) -> tuple[str, list[User]]:
    complaint = event.complaint
    kind = event.kind
    assignee = [complaint.assignee] if complaint.assignee is not None else []
    if kind == EventKind.DISPATCHED:
        if assignee:
            return "staff_assigned", assignee
        return "staff_dispatched", _department_handlers(complaint.lead_department_id)
    if kind == EventKind.ASSIGNED:
        return "staff_assigned", assignee
    if kind == EventKind.REMEDY_REQUESTED:
        return "staff_approval", _approvers(Decimal(event.payload.get("amount", "0")))
    if kind == EventKind.ESCALATED:
        level = int(event.payload.get("to_level", 1))
        roles = [Role.SUPERVISOR] if level <= 1 else [Role.SUPERVISOR, Role.MANAGER]
        users = list(User.objects.filter(is_active=True, role__in=roles))
        return "staff_escalated", users + [u for u in assignee if u not in users]
    if kind == EventKind.REOPENED:
        if assignee:
            return "staff_reopened", assignee
        return "staff_reopened", _department_handlers(complaint.lead_department_id)
    if kind in (EventKind.SLA_WARNING, EventKind.SLA_BREACHED):
        # The person responsible (assignee, else the first-contact owner) and the supervisors.
        responsible = assignee or ([complaint.first_contact_owner] if complaint.first_contact_owner else [])
        supervisors = list(User.objects.filter(is_active=True, role=Role.SUPERVISOR))
        template = "staff_sla_warning" if kind == EventKind.SLA_WARNING else "staff_sla_breached"
        return template, responsible + [u for u in supervisors if u not in responsible]
    return "", []


def _values(event: ComplaintEvent) -> dict[str, object]:
    complaint = event.complaint
    payload = event.payload
    values: dict[str, object] = {**payload, "ticket_no": complaint.ticket_no or f"#{complaint.pk}"}
    values["level"] = Level(complaint.level).label
    values["department"] = complaint.lead_department.name if complaint.lead_department else ""
    if "reason" in payload and payload["reason"] in RejectionReason.values:
        values["reason"] = RejectionReason(payload["reason"]).label
    if payload.get("clock") in ClockKind.values:
        values["clock"] = ClockKind(payload["clock"]).label
    if "due_at" in payload:
        values["due_at"] = timezone.localtime(datetime.fromisoformat(payload["due_at"])).strftime(
            "%Y-%m-%d %H:%M"
        )
    if "kind" in payload and payload["kind"] in RemedyKind.values:
        values["kind"] = RemedyKind(payload["kind"]).label
    return values


def notifications_for_event(event: ComplaintEvent, now: datetime) -> list[Notification]:
    """The notifications one event asks for (not saved), written in ``LANGUAGE_CODE`` whatever
    language the calling thread has active (labels such as the level are translated)."""
    language = settings.LANGUAGE_CODE
    with translation.override(language):
        return _notifications_for_event(event, now, language)


def _notifications_for_event(event: ComplaintEvent, now: datetime, language: str) -> list[Notification]:
    complaint = event.complaint
    values = _values(event)
    result: list[Notification] = []
    template = CUSTOMER_TEMPLATES.get(EventKind(event.kind))
    if template:
        target = _customer_address(event, template)
        if target is not None:
            transport, address = target
            subject, body = render(template, language, values)
            result.append(
                Notification(
                    key=f"{event.pk}:{template}:{transport}:{address}",
                    event=event,
                    complaint=complaint,
                    template=template,
                    transport=transport,
                    address=address,
                    language=language,
                    subject=subject,
                    body=body,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    staff_template, users = _staff_recipients(event)
    for user in users:
        subject, body = render(staff_template, language, values)
        result.append(
            Notification(
                key=f"{event.pk}:{staff_template}:inbox:{user.pk}",
                event=event,
                complaint=complaint,
                template=staff_template,
                transport=Transport.INBOX,
                recipient_user=user,
                language=language,
                subject=subject,
                body=body,
                status=DeliveryStatus.SENT,  # an inbox item is delivered by being stored
                next_attempt_at=now,
                created_at=now,
                sent_at=now,
            )
        )
    return result


# Something else that turns a case event into notifications (the TMF621 hub's webhooks): the worker,
# which sits above every app, passes these in, so this module never imports the layers above it.
FanOut = Callable[[ComplaintEvent, datetime], list[Notification]]


def outbox_dispatch(*, batch: int = 200, fanouts: Sequence[FanOut] = ()) -> int:
    """Turn pending case events into notifications. Returns how many events were handled."""
    with transaction.atomic():
        ids = [
            e.pk
            for e in _claim(
                ComplaintEvent.objects.filter(pending_dispatch=True).order_by("id").only("id"), batch
            )
        ]
        if not ids:
            return 0
        now = timezone.now()
        events = ComplaintEvent.objects.filter(pk__in=ids).select_related(
            "complaint",
            "complaint__customer",
            "complaint__lead_department",
            "complaint__assignee",
            "complaint__first_contact_owner",
        )
        notifications = [n for event in events for n in notifications_for_event(event, now)]
        notifications += [n for fanout in fanouts for event in events for n in fanout(event, now)]
        Notification.objects.bulk_create(notifications, ignore_conflicts=True)
        ComplaintEvent.objects.filter(pk__in=ids).update(pending_dispatch=False)
    return len(ids)


def notification_queue(
    *,
    key: str,
    template: str,
    transport: str,
    address: str,
    subject: str = "",
    body: str,
    language: str | None = None,
    complaint_id: int | None = None,
) -> Notification | None:
    """Queue one message that no case event asks for (a portal one-time code, say) for the worker
    to deliver with the same retries. ``key`` makes it idempotent: a second call with the same key
    queues nothing and returns None."""
    if transport not in Transport.values or transport == Transport.INBOX:
        raise ValueError(f"cannot queue a {transport!r} message")
    now = timezone.now()
    with transaction.atomic():
        if Notification.objects.filter(key=key).exists():
            return None
        notification = Notification.objects.create(
            key=key,
            complaint_id=complaint_id,
            template=template,
            transport=transport,
            address=address,
            language=language or settings.LANGUAGE_CODE,
            subject=subject,
            body=body,
            next_attempt_at=now,
            created_at=now,
        )
        if connection.vendor == "postgresql":
            transaction.on_commit(_wake_outbox)
    return notification


def _wake_outbox() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"NOTIFY {OUTBOX_CHANNEL}")


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))


def notifications_deliver(*, batch: int = 50) -> int:
    """Send due customer messages; failures are retried with exponential backoff, then given up
    after ``TOUSU_NOTIFY_MAX_ATTEMPTS``. Returns how many were attempted."""
    done = 0
    with transaction.atomic():
        now = timezone.now()
        due = _claim(
            Notification.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now).order_by(
                "next_attempt_at", "id"
            ),
            batch,
        )
        for notification in due:
            notification.attempts += 1
            try:
                sender_for(notification.transport).send(notification)
            except DeliveryError as exc:
                notification.last_error = str(exc)[:2000]
                if notification.attempts >= settings.TOUSU_NOTIFY_MAX_ATTEMPTS:
                    notification.status = DeliveryStatus.FAILED
                else:
                    notification.next_attempt_at = now + _backoff(notification.attempts)
                log.warning(
                    "notification %s failed (attempt %s): %s", notification.pk, notification.attempts, exc
                )
            else:
                notification.status = DeliveryStatus.SENT
                notification.sent_at = timezone.now()
                notification.last_error = ""
            notification.save(
                update_fields=["attempts", "status", "sent_at", "next_attempt_at", "last_error"]
            )
            done += 1
    return done


def inbox_unread_q(user: User) -> Q:
    return Q(recipient_user=user, transport=Transport.INBOX, read_at__isnull=True)
