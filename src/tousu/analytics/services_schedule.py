"""Scheduled reports: managers subscribe to the weekly or monthly KPI report, and the worker
e-mails each past period's report once, with the .xlsx attached, through the notification outbox.

"Once" is a row: ``ReportDelivery`` is unique per subscription and period, and it is written in
the same transaction as the queued message (whose key is unique too), so two workers, or a worker
that dies and starts again, cannot send a period twice.
"""

from __future__ import annotations

import io
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from tousu.accounts.models import User
from tousu.analytics.exports import XLSX, report_xlsx
from tousu.analytics.models import Frequency, ReportDelivery, ReportSubscription
from tousu.analytics.reports import build_report
from tousu.analytics.selectors import Filters, Period, rebuild_progress, report_scope
from tousu.audit.models import AuditKind
from tousu.audit.services import audit_record
from tousu.common.errors import PermissionDenied, ValidationError
from tousu.common.origin import SYSTEM, Origin
from tousu.notifications.models import Transport
from tousu.notifications.services import notification_queue


def report_subscribe(*, actor: User, frequency: str, subscribed: bool, origin: Origin = SYSTEM) -> bool:
    """Subscribe ``actor`` to (or unsubscribe from) the weekly or monthly report. Only those who
    read reports, with an e-mail address. Returns whether anything changed (audited)."""
    if frequency not in Frequency.values:
        raise ValidationError(_("Choose weekly or monthly."), fields={"frequency": "unknown"})
    try:
        report_scope(actor, Filters())
    except PermissionDenied:
        raise PermissionDenied(_("Scheduled reports are for those who read reports.")) from None
    if subscribed and not actor.email:
        raise ValidationError(
            _("Your account has no e-mail address: ask an administrator to add one."),
            fields={"frequency": "no_email"},
        )
    with transaction.atomic():
        existing = ReportSubscription.objects.select_for_update().filter(user=actor, frequency=frequency)
        if subscribed == existing.exists():
            return False
        if subscribed:
            row = ReportSubscription.objects.create(
                user=actor, frequency=frequency, created_at=timezone.now()
            )
            pk = row.pk
        else:
            pk = existing.get().pk
            existing.delete()
        audit_record(
            actor=actor,
            kind=AuditKind.CONFIG_CHANGED,
            object_type="report_subscription",
            object_id=pk,
            origin=origin,
            field="frequency",
            payload={"frequency": frequency, "subscribed": subscribed},
        )
    return True


def due_period(frequency: str, today: datetime | None = None) -> Period:
    """The latest whole week or month before today (local time)."""
    day = timezone.localdate(today) if today is not None else timezone.localdate()
    return Period.containing(frequency, day).previous()


def reports_send_scheduled(*, now: datetime | None = None) -> int:
    """Queue the latest past period's report for every subscription that has not had it yet.
    Run by the worker; waits while the rollups are being rebuilt (their figures are incomplete).
    Returns how many reports were queued."""
    if rebuild_progress() is not None:
        return 0
    queued = 0
    for frequency in Frequency.values:
        period = due_period(frequency, now)
        pending = (
            ReportSubscription.objects.filter(frequency=frequency, user__is_active=True)
            .exclude(user__email="")
            .exclude(deliveries__period_start=period.start)
            .select_related("user")
            .order_by("pk")
        )
        for subscription in pending:
            queued += _send(subscription, period)
    return queued


def _send(subscription: ReportSubscription, period: Period) -> int:
    user = subscription.user
    try:
        filters = report_scope(user, Filters())
    except PermissionDenied:  # no longer reads reports: nothing to send
        return 0
    try:
        with transaction.atomic():
            delivery = ReportDelivery.objects.create(
                subscription=subscription, period_start=period.start, created_at=timezone.now()
            )
            report = build_report(period, filters)
            out = io.BytesIO()
            report_xlsx(report, out)
            what = _("Weekly") if subscription.frequency == Frequency.WEEKLY else _("Monthly")
            notification = notification_queue(
                key=f"report:{subscription.pk}:{period.start.isoformat()}",
                template="scheduled_report",
                transport=Transport.EMAIL,
                address=user.email,
                subject=_("%(what)s complaint report: %(period)s") % {"what": what, "period": period.label},
                body=_(
                    "The complaint report for %(period)s is attached (Excel). "
                    "To stop these e-mails, unsubscribe on the scheduled reports page."
                )
                % {"period": period.label},
                attachment=(f"tousu-report-{period.kind}-{period.start}.xlsx", XLSX, out.getvalue()),
            )
            delivery.notification_id = notification.pk if notification is not None else None
            delivery.save(update_fields=["notification_id"])
    except IntegrityError:  # another worker queued it first
        return 0
    return 1
