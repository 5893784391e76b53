"""Retention: closed cases' personal data, message bodies and inbound e-mails are anonymised when
their time has passed (frozen clock), in batches that a second run does not redo, audited with
counts; the reports count the same afterwards."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command

from tousu.analytics.models import DailyRollup
from tousu.analytics.services import analytics_rebuild
from tousu.audit.models import AuditEvent
from tousu.channels.models import InboundEmail
from tousu.complaints import services as svc
from tousu.complaints.models import Attachment, Complaint, ComplaintEvent
from tousu.complaints.states import Status
from tousu.notifications.models import Notification
from tousu.notifications.services import notifications_deliver, outbox_dispatch
from tousu.privacy.retention import retention_purge

T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def _rollups() -> list[dict]:
    rows = DailyRollup.objects.order_by("day", "channel", "level", "business_type").values()
    return [{k: v for k, v in row.items() if k != "id"} for row in rows]


@pytest.mark.django_db
def test_each_kind_is_purged_when_its_time_has_passed_and_only_once(cases, people, time_machine):
    time_machine.move_to(T0, tick=False)
    closed = cases.make(
        Status.CLOSED, fcr=True, description="用户13812348000反映多扣费", email="a@example.com"
    )
    svc.complaint_note(actor=people["agent"], complaint_id=closed.pk, text="回电13812348000")
    # Evidence filed while the case was open (a finished case takes no more uploads).
    Attachment.objects.create(
        complaint=closed, file=ContentFile(b"x", name="a.txt"), original_name="a.txt",
        content_type="text/plain", size=1, sha256="2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
        uploaded_by=people["agent"], created_at=T0,
    )  # fmt: skip
    open_case = cases.make(Status.ACCEPTED, phone="13912340000", description="用户13912340000反映")
    outbox_dispatch()
    notifications_deliver()
    InboundEmail.objects.create(
        message_id="<m@x>", from_address="li@example.com", subject="13812348000", outcome="ignored",
        reason="loop", handled_at=T0,
    )  # fmt: skip
    analytics_rebuild()
    rollups = _rollups()
    notes = Notification.objects.count()
    assert notes >= 2

    # 89 days: nothing is due yet.
    time_machine.move_to(T0 + timedelta(days=89), tick=False)
    assert retention_purge() == {"case": 0, "notification": 0, "inbound_email": 0}

    # 91 days: message bodies go; 181 days: the inbound e-mail too; cases stay until 3 years.
    time_machine.move_to(T0 + timedelta(days=91), tick=False)
    assert retention_purge(batch=1) == {"case": 0, "notification": notes, "inbound_email": 0}
    assert set(Notification.objects.values_list("body", "address")) == {("[purged]", "")}
    time_machine.move_to(T0 + timedelta(days=181), tick=False)
    assert retention_purge() == {"case": 0, "notification": 0, "inbound_email": 1}
    mail = InboundEmail.objects.get()
    assert (mail.subject, mail.reason, mail.from_address[:12]) == ("", "", "hmac-sha256:")

    time_machine.move_to(T0 + timedelta(days=3 * 365 + 1), tick=False)
    out = io.StringIO()
    call_command("privacy", "purge", "--dry-run", stdout=out)
    assert out.getvalue() == "case: 1 to purge\nnotification: 0 to purge\ninbound_email: 0 to purge\n"
    call_command("privacy", "purge", stdout=io.StringIO())
    c = Complaint.objects.get(pk=closed.pk)
    assert (c.description, c.contact_email) == ("用户138****8000反映多扣费", "")
    assert ComplaintEvent.objects.get(complaint=closed, kind="note_added").payload == {
        "text": "回电138****8000"
    }
    assert Attachment.objects.filter(complaint=closed).count() == 0
    assert Complaint.objects.get(pk=open_case.pk).description == "用户13912340000反映"  # not closed
    assert retention_purge() == {"case": 0, "notification": 0, "inbound_email": 0}  # never redone

    counts = list(
        AuditEvent.objects.filter(kind="personal_data.purged")
        .order_by("id")
        .values_list("payload", flat=True)
    )
    assert counts == [
        *[{"kind": "notification", "rows": 1}] * notes,
        {"kind": "inbound_email", "rows": 1},
        {"kind": "case", "rows": 1},
    ]
    analytics_rebuild()
    assert _rollups() == rollups
