"""The outbox: case events that need telling become notifications, which are delivered with retries.

Both steps claim rows with ``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any number of
workers can run side by side; on SQLite the IMMEDIATE write transaction serialises them. Turning
an event into notifications is exactly-once (one transaction clears the event's flag and writes its
notifications, each with a unique key); delivery is at-least-once (a crash between sending and
recording the send repeats that one message).
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from tousu.accounts.models import ApprovalLimit, User
from tousu.accounts.roles import DEFAULT_APPROVAL_LIMITS, Role
from tousu.common.db import is_postgres
from tousu.common.errors import NotFound
from tousu.common.links import survey_url
from tousu.common.logs import request_id_bound
from tousu.complaints.choices import Level, RejectionReason, RemedyKind, ReplyChannel
from tousu.complaints.events import EventKind
from tousu.complaints.models import ComplaintEvent
from tousu.complaints.services._base import outbox_wake_after_commit
from tousu.complaints.states import Status
from tousu.notifications.messages import render
from tousu.notifications.models import (
    AttemptOutcome,
    CustomerLanguage,
    DeliveryAttempt,
    DeliveryStatus,
    Notification,
    Transport,
    WebhookEndpoint,
)
from tousu.notifications.transports import DeliveryError, Sender, sender_for
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
    if customer is None:  # filed without a contact (TMF621): nobody to write to yet
        return None
    channel = complaint.preferred_reply_channel
    if template == "reply":
        channel = event.payload.get("channel") or channel
        if channel not in (ReplyChannel.SMS, ReplyChannel.EMAIL):
            return None  # the reply was given in person, by phone or letter
    wants_email = channel == ReplyChannel.EMAIL
    # The address on the customer's record first; else the one given with this case (a portal
    # filing keeps an address it cannot verify on the case only: docs/adr/0009).
    email = customer.email or complaint.contact_email
    if wants_email and email:
        return Transport.EMAIL, email
    if customer.phone:
        return Transport.SMS, customer.phone
    if email:
        return Transport.EMAIL, email
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


def _customer_templates(event: ComplaintEvent) -> list[str]:
    """What the customer is told about this event. Progress only where it tells them something:
    the case went to the department that handles it (first dispatch), or it was reopened. With the
    reply comes the return-visit survey link."""
    kind = EventKind(event.kind)
    if kind == EventKind.DISPATCHED:
        return ["progress_dispatched"] if event.from_status == Status.ACCEPTED else []
    if kind == EventKind.REOPENED:
        return ["progress_reopened"]
    if kind == EventKind.REPLIED:
        return ["reply", "survey"]
    template = CUSTOMER_TEMPLATES.get(kind)
    return [template] if template else []


def notifications_for_event(event: ComplaintEvent, now: datetime) -> list[Notification]:
    """The notifications one event asks for (not saved). Staff items are written in
    ``LANGUAGE_CODE``, customer messages in the customer's language (``customer_language``),
    whatever language the calling thread has active (labels such as the level are translated)."""
    values = _values(event)
    language = settings.LANGUAGE_CODE
    result: list[Notification] = []
    complaint = event.complaint
    templates = _customer_templates(event)
    if templates:
        customer_lang = customer_language(complaint.customer_id)
        with translation.override(customer_lang):
            for template in templates:
                result.extend(_customer_notification(event, template, customer_lang, values, now))
    with translation.override(language):
        result.extend(_staff_notifications(event, language, values, now))
    return result


def _customer_notification(
    event: ComplaintEvent, template: str, language: str, values: dict[str, object], now: datetime
) -> list[Notification]:
    target = _customer_address(event, template)
    if target is None:
        return []
    transport, address = target
    if template == "survey":
        values = {**values, "survey_url": survey_url(event.complaint_id)}
    subject, body = render(template, language, values)
    if transport == Transport.EMAIL and event.complaint.ticket_no:
        # The ticket number in the subject comes back in "Re:", so e-mail intake files the
        # customer's answer on the case.
        subject = f"{subject} [{event.complaint.ticket_no}]"
    return [
        Notification(
            key=f"{event.pk}:{template}:{transport}:{address}",
            event=event,
            complaint=event.complaint,
            template=template,
            transport=transport,
            address=address,
            language=language,
            subject=subject,
            body=body,
            next_attempt_at=now,
            created_at=now,
        )
    ]


def _staff_notifications(
    event: ComplaintEvent, language: str, values: dict[str, object], now: datetime
) -> list[Notification]:
    result: list[Notification] = []
    staff_template, users = _staff_recipients(event)
    for user in users:
        subject, body = render(staff_template, language, values)
        result.append(
            Notification(
                key=f"{event.pk}:{staff_template}:inbox:{user.pk}",
                event=event,
                complaint=event.complaint,
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
        notifications = []
        for event in events:
            made = notifications_for_event(event, now) + [n for fanout in fanouts for n in fanout(event, now)]
            with request_id_bound(event.request_id or ""):  # the line is found beside the request's
                log.info(
                    "outbox: %s of %s → %d notification(s)",
                    event.kind,
                    event.complaint.ticket_no,
                    len(made),
                    extra={
                        "case": event.complaint_id,
                        "ticket_no": event.complaint.ticket_no,
                        "event_id": event.pk,
                    },
                )
            notifications += made
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
    secret_seed: str = "",
    attachment: tuple[str, str, bytes] | None = None,
) -> Notification | None:
    """Queue one message that no case event asks for (a portal one-time code, say) for the worker
    to deliver with the same retries. ``key`` makes it idempotent: a second call with the same key
    queues nothing and returns None. A message carrying a one-time code passes its masked
    ``body`` and the ``secret_seed`` the code derives from (``tousu.common.onetime``). An e-mail
    may carry one ``attachment``: ``(file name, media type, bytes)``."""
    if transport not in Transport.values or transport == Transport.INBOX:
        raise ValueError(f"cannot queue a {transport!r} message")
    if attachment is not None and transport != Transport.EMAIL:
        raise ValueError("only an e-mail carries an attachment")
    name, media_type, content = attachment or ("", "", None)
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
            secret_seed=secret_seed,
            attachment_name=name,
            attachment_type=media_type,
            attachment=content,
            next_attempt_at=now,
            created_at=now,
        )
        outbox_wake_after_commit()  # the workers send it at once (PostgreSQL)
    return notification


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))


LOST_ERROR = "the worker stopped before recording the outcome; sent again after its lease ran out"


def notifications_claim(*, batch: int = 50) -> list[Notification]:
    """Claim up to ``batch`` due messages for this worker, in one short transaction: each gets its
    next attempt number, a delivery record 'sending', and a lease (its ``next_attempt_at`` moves
    ``TOUSU_NOTIFY_LEASE_SECONDS`` ahead, so no other worker takes it meanwhile, and a worker that
    dies before recording the outcome lets the message fall due again)."""
    with transaction.atomic():
        now = timezone.now()
        due = _claim(
            Notification.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now).order_by(
                "next_attempt_at", "id"
            ),
            batch,
        )
        if not due:
            return []
        # Attempts still 'sending' belong to a worker whose lease ran out: it is gone.
        DeliveryAttempt.objects.filter(
            notification_id__in=[n.pk for n in due], outcome=AttemptOutcome.IN_FLIGHT
        ).update(outcome=AttemptOutcome.LOST, finished_at=now, error=LOST_ERROR)
        lease_until = now + timedelta(seconds=settings.TOUSU_NOTIFY_LEASE_SECONDS)
        for notification in due:
            notification.attempts += 1
            notification.next_attempt_at = lease_until
        Notification.objects.bulk_update(due, ["attempts", "next_attempt_at"])
        DeliveryAttempt.objects.bulk_create(
            DeliveryAttempt(notification=n, number=n.attempts, transport=n.transport, started_at=now)
            for n in due
        )
    return due


def _send(sender: Sender, notification: Notification) -> tuple[bool, str, str, bool]:
    """Send outside any transaction: (delivered, error, transport response, permanent failure)."""
    try:
        response = sender.send(notification)
    except DeliveryError as exc:
        log.warning("notification %s failed (attempt %s): %s", notification.pk, notification.attempts, exc)
        return False, str(exc), exc.response, exc.permanent
    except Exception as exc:  # a broken transport must not stop the worker nor lose the message
        log.exception("notification %s: the transport failed unexpectedly", notification.pk)
        return False, f"{type(exc).__name__}: {exc}", "", False
    return True, "", response or "", False


def notification_record(
    notification: Notification, *, delivered: bool, error: str, response: str, permanent: bool = False
) -> None:
    """Record how attempt ``notification.attempts`` ended, in one short transaction. The message's
    row changes only while this attempt is still its latest (a worker whose lease ran out and whose
    message was claimed again records its attempt, but no longer decides the message's fate). A
    ``permanent`` failure is not retried."""
    number = notification.attempts
    with transaction.atomic():
        now = timezone.now()
        fields: dict[str, object]
        if delivered:
            fields = {"status": DeliveryStatus.SENT, "sent_at": now, "last_error": "", "next_attempt_at": now}
        elif permanent or number >= settings.TOUSU_NOTIFY_MAX_ATTEMPTS:
            fields = {"status": DeliveryStatus.FAILED, "last_error": error[:2000], "next_attempt_at": now}
        else:
            fields = {"last_error": error[:2000], "next_attempt_at": now + _backoff(number)}
        Notification.objects.filter(
            pk=notification.pk, attempts=number, status=DeliveryStatus.PENDING
        ).update(**fields)
        DeliveryAttempt.objects.filter(notification_id=notification.pk, number=number).update(
            finished_at=now,
            outcome=AttemptOutcome.SENT if delivered else AttemptOutcome.FAILED,
            error=error[:2000],
            response=response[:500],
        )
    for name, value in fields.items():
        setattr(notification, name, value)


def webhook_endpoint_retire(*, endpoint_id: int, reason: str) -> int:
    """Stop sending to a webhook endpoint (its subscription ended): the endpoint is deactivated and
    its messages still waiting are closed as failed with ``reason``. Every message and attempt stays
    on record. Returns how many waiting messages were closed."""
    now = timezone.now()
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint_id).update(is_active=False)
        return Notification.objects.filter(webhook_id=endpoint_id, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.FAILED, last_error=reason, next_attempt_at=now
        )


def notifications_release(notifications: Sequence[Notification]) -> None:
    """Hand claimed messages back unsent, as if never claimed: their attempt is withdrawn and they
    are due at once (only while this claim is still theirs)."""
    with transaction.atomic():
        now = timezone.now()
        for notification in notifications:
            number = notification.attempts
            if Notification.objects.filter(
                pk=notification.pk, attempts=number, status=DeliveryStatus.PENDING
            ).update(attempts=number - 1, next_attempt_at=now):
                DeliveryAttempt.objects.filter(
                    notification_id=notification.pk, number=number, outcome=AttemptOutcome.IN_FLIGHT
                ).delete()


def _lane(notification: Notification) -> str:
    """Messages that share a lane go out one after the other, with one sender (one SMTP connection,
    one webhook endpoint); lanes run side by side, so a slow endpoint holds up only its own."""
    if notification.transport == Transport.WEBHOOK:
        return f"webhook:{notification.webhook_id}"
    return str(notification.transport)


_Outcome = tuple[bool, str, str, bool] | None  # None: not sent, to be handed back


def _run_lane(
    items: Sequence[Notification],
    stop_at: datetime,
    stop: threading.Event,
    results: queue.SimpleQueue[tuple[Notification, _Outcome]],
) -> None:
    """Send a lane's messages in order (in a thread, no database access) until the batch's or the
    lane's time budget is spent or the worker stops; each message's outcome goes to ``results``."""
    lane_until = min(stop_at, timezone.now() + timedelta(seconds=settings.TOUSU_NOTIFY_LANE_SECONDS))
    sender: Sender | None = None
    index = 0
    try:
        for index, notification in enumerate(items):  # noqa: B007  (``index`` is used after the loop)
            if stop.is_set() or timezone.now() >= lane_until:
                break
            outcome: _Outcome
            try:
                if sender is None:
                    sender = sender_for(notification.transport)
                outcome = _send(sender, notification)
            except Exception as exc:  # no sender for this transport: a failed attempt, retried
                log.exception("notification %s: no sender", notification.pk)
                outcome = (False, f"{type(exc).__name__}: {exc}", "", False)
            results.put((notification, outcome))
        else:
            index = len(items)
    finally:
        for notification in items[index:]:
            results.put((notification, None))
        close = getattr(sender, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):
                close()


def notifications_deliver(*, batch: int | None = None, stop: threading.Event | None = None) -> int:
    """Send due messages: claim a small batch (committed), send it outside any transaction with up
    to ``TOUSU_NOTIFY_CONCURRENCY`` lanes at once (one per webhook endpoint, one for customer SMS,
    one for e-mail), then record each outcome as it comes. Failures are retried with exponential
    backoff, then given up after ``TOUSU_NOTIFY_MAX_ATTEMPTS``; every attempt leaves a
    ``DeliveryAttempt``. What is not sent — a lane past its ``TOUSU_NOTIFY_LANE_SECONDS``, the batch
    near half its lease, or ``stop`` set (the worker is shutting down) — is handed back at once,
    not left to wait for the lease. Returns how many were attempted."""
    claimed = notifications_claim(batch=batch or settings.TOUSU_NOTIFY_BATCH)
    if not claimed:
        return 0
    endpoints = WebhookEndpoint.objects.in_bulk({n.webhook_id for n in claimed if n.webhook_id})
    lanes: dict[str, list[Notification]] = {}
    for notification in claimed:
        if notification.webhook_id:
            notification.webhook = endpoints.get(notification.webhook_id)  # loaded here, not in a thread
        lanes.setdefault(_lane(notification), []).append(notification)
    # Stop sending well before the lease runs out: what is left is handed back rather than risk a
    # second worker sending it too.
    stop_at = timezone.now() + timedelta(seconds=settings.TOUSU_NOTIFY_LEASE_SECONDS / 2)
    halt = threading.Event()
    results: queue.SimpleQueue[tuple[Notification, _Outcome]] = queue.SimpleQueue()
    attempted = 0
    unsent: list[Notification] = []
    workers = min(settings.TOUSU_NOTIFY_CONCURRENCY, len(lanes))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tousu-deliver")
    try:
        futures = [pool.submit(_run_lane, items, stop_at, halt, results) for items in lanes.values()]
        waiting = len(claimed)
        while waiting:
            if stop is not None and stop.is_set():
                halt.set()
            try:
                notification, outcome = results.get(timeout=0.2)
            except queue.Empty:
                if all(f.done() for f in futures) and results.empty():
                    break  # a lane ended without a word for some (cannot happen; never wait forever)
                continue
            waiting -= 1
            if outcome is None:
                unsent.append(notification)
                continue
            delivered, error, response, permanent = outcome
            notification_record(
                notification, delivered=delivered, error=error, response=response, permanent=permanent
            )
            attempted += 1
    finally:
        halt.set()
        pool.shutdown(wait=True)
    if unsent:
        notifications_release(unsent)
    return attempted


def customer_language(customer_id: int | None) -> str:
    """The language a customer's messages are written in (``LANGUAGE_CODE`` unless they chose)."""
    if customer_id is not None:
        chosen = CustomerLanguage.objects.filter(customer_id=customer_id).values_list("language", flat=True)
        for language in chosen:
            return language
    return settings.LANGUAGE_CODE


def customer_language_set(*, customer_id: int, language: str) -> None:
    """Remember the language a customer wants (the portal in English, an e-mail in English…)."""
    if language not in dict(settings.LANGUAGES):
        raise ValueError(f"unknown language {language!r}")
    CustomerLanguage.objects.update_or_create(
        customer_id=customer_id, defaults={"language": language, "updated_at": timezone.now()}
    )


def inbox_unread_q(user: User) -> Q:
    return Q(recipient_user=user, transport=Transport.INBOX, read_at__isnull=True)


def inbox_mark_read(*, actor: User, notification_id: int) -> bool:
    """Mark one item of the actor's own inbox read. Returns whether it was unread. Another
    person's item, or no item, is "not found" (nobody learns that it exists)."""
    mine = Notification.objects.filter(pk=notification_id, recipient_user=actor, transport=Transport.INBOX)
    if mine.filter(read_at__isnull=True).update(read_at=timezone.now()):
        return True
    if not mine.exists():
        raise NotFound(_("No such item in your inbox."))
    return False  # already read: nothing to do


def inbox_mark_all_read(*, actor: User) -> int:
    """Mark every unread item of the actor's own inbox read; returns how many were unread."""
    return Notification.objects.filter(inbox_unread_q(actor)).update(read_at=timezone.now())
