"""Erasure (PIPL): after ``tousu privacy erase``, no table, no file of the data folder and no log
written by Tousu holds the customer's phone, ID number or e-mail in clear; the cases still count."""

from __future__ import annotations

import io
from email.message import EmailMessage
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from tousu.analytics.models import DailyRollup
from tousu.analytics.services import analytics_rebuild
from tousu.audit.models import AuditEvent
from tousu.channels.email_in import email_handle
from tousu.common.errors import PermissionDenied
from tousu.complaints import services as svc
from tousu.complaints.models import Complaint, ComplaintEvent
from tousu.complaints.states import Status
from tousu.customers.models import Customer, CustomerIdentity
from tousu.notifications.services import notifications_deliver, outbox_dispatch
from tousu.portal.models import TrackingCode
from tousu.privacy.erasure import LegalHold, privacy_erase
from tousu.privacy.models import ErasureRecord

PHONE = "13812348000"
ID_NUMBER = "11010519491231002X"
EMAIL = "zhangsan@example.com"
OTHER_PHONE = "13912340000"
# Every spelling that must be gone afterwards.
SECRETS = [PHONE, "+8613812348000", "138 1234 8000", ID_NUMBER, EMAIL, OTHER_PHONE, "+8613912340000"]


def _dump() -> str:
    """Every row of every table of the database, as text."""
    out = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            out += [f"{table}: {row!r}" for row in cursor.fetchall()]
    return "\n".join(out)


def _rollups() -> list[dict]:
    rows = DailyRollup.objects.order_by("day", "channel", "level", "business_type").values()
    return [{k: v for k, v in row.items() if k != "id"} for row in rows]


def _files(root: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _holding(secrets: list[str], dump: str, files: dict[str, bytes]) -> list[str]:
    found = [f"db:{s}" for s in secrets if s.lower() in dump.lower()]
    for name, data in files.items():
        found += [f"{name}:{s}" for s in secrets if s.encode().lower() in data.lower()]
    return found


def _customer_with_everything(cases, people, settings):
    """A customer known by two numbers (two records merged), an ID number and an e-mail, whose
    identifiers are everywhere: case text, notes, replies, messages, the outbox log, tracking
    codes, an inbound e-mail, an attachment, the merge's audit row."""
    c = cases.make(
        Status.REPLIED,
        phone=PHONE,
        email=EMAIL,
        description=f"用户{PHONE}反映身份证{ID_NUMBER}被冒用办卡，邮箱{EMAIL}。",
        demand=f"请回电 138 1234 8000 或发邮件到 {EMAIL}",
    )
    customer = c.customer
    Customer.objects.filter(pk=customer.pk).update(id_number=ID_NUMBER)
    other = cases.make(Status.ACCEPTED, phone=OTHER_PHONE, customer_name="张三")
    svc.customer_merge(actor=people["supervisor"], source_id=other.customer_id, target_id=customer.pk)
    svc.complaint_note(actor=people["handler"], complaint_id=c.pk, text=f"用户又从{OTHER_PHONE}来电")
    svc.attachment_add(
        actor=people["handler"],
        complaint_id=c.pk,
        name="bill.txt",
        content=io.BytesIO(f"账单 {PHONE} {ID_NUMBER}".encode()),
    )
    TrackingCode.objects.create(
        complaint=c, phone="+8613812348000", code_hash="x" * 64, created_at=c.registered_at,
        expires_at=c.registered_at,
    )  # fmt: skip
    msg = EmailMessage()
    msg["From"] = f"张三 <{EMAIL}>"
    msg["To"] = "kefu@tousu.example"
    msg["Subject"] = f"我的号码{PHONE}被多扣费"
    msg["Message-ID"] = "<erase-me@example.com>"
    msg.set_content(f"号码 {PHONE}，身份证 {ID_NUMBER}")
    email_handle(msg.as_bytes())
    outbox_dispatch()
    notifications_deliver()
    return c, other


@pytest.mark.django_db(transaction=True)
def test_erase_leaves_no_identifier_anywhere_and_the_cases_still_count(cases, people, settings, tmp_path):
    c, other = _customer_with_everything(cases, people, settings)
    analytics_rebuild()
    rollups = _rollups()
    files_before = _files(tmp_path)
    assert _holding([PHONE, EMAIL, ID_NUMBER], _dump(), files_before)  # the test has something to find
    assert any(PHONE.encode() in data for data in files_before.values())

    out = io.StringIO()
    call_command(
        "privacy", "erase", "--phone", PHONE, "--reason", f"客户{PHONE}来电要求删除", "--confirm", stdout=out
    )

    assert _holding(SECRETS, _dump(), _files(tmp_path)) == []
    # The cases are still there and count the same in the reports.
    assert Complaint.objects.filter(pk__in=[c.pk, other.pk]).count() == 2
    analytics_rebuild()
    assert _rollups() == rollups
    assert sum(r["accepted"] for r in rollups) == 2
    assert CustomerIdentity.objects.filter(customer=c.customer_id).count() == 0
    case = Complaint.objects.get(pk=c.pk)
    assert case.description == "用户[erased]反映身份证[erased]被冒用办卡，邮箱[erased]。"
    assert case.demand == "请回电 [erased] 或发邮件到 [erased]"
    note = ComplaintEvent.objects.get(complaint=c, kind="note_added")
    assert note.payload == {"text": "用户又从[erased]来电"}
    record = ErasureRecord.objects.get()
    assert record.reason == "客户[erased]来电要求删除"
    assert record.counts["identities"] == 3
    assert record.counts["attachment_files"] == 1
    assert record.counts["portal.TrackingCode"] == 1
    audit = AuditEvent.objects.get(kind="personal_data.erased")
    assert (audit.actor, audit.via, audit.payload["cases"]) == (None, "command", sorted([c.pk, other.pk]))
    assert out.getvalue().startswith(f"erased (record {record.pk}): ")


@pytest.mark.django_db
def test_merge_audit_row_holds_keyed_hashes_not_identities(cases, people):
    a = cases.make(Status.REGISTERED, phone=PHONE)
    b = cases.make(Status.REGISTERED, phone=OTHER_PHONE, customer_name="", email=EMAIL)
    svc.customer_merge(actor=people["supervisor"], source_id=b.customer_id, target_id=a.customer_id)
    payload = AuditEvent.objects.get(kind="customer.merged").payload
    text = repr(payload)
    assert OTHER_PHONE not in text
    assert EMAIL not in text
    assert [kind for kind, _ in payload["identities"]] == ["phone", "email"]
    assert all(value.startswith("hmac-sha256:") and len(value) == 44 for _, value in payload["identities"])


@pytest.mark.django_db
def test_a_case_under_regulator_review_holds_the_erasure_with_the_reason(cases, people, unchanged):
    c = cases.make(Status.ACCEPTED, phone=PHONE, channel="regulator")
    with unchanged(), pytest.raises(LegalHold, match=f"Case {c.ticket_no} is under the regulator's review"):
        privacy_erase(phone=PHONE, reason="客户要求", actor=None)
    with unchanged(), pytest.raises(CommandError, match="under the regulator's review"):
        call_command("privacy", "erase", "--phone", PHONE, "--reason", "客户要求", "--confirm")


@pytest.mark.django_db
def test_erasure_needs_confirmation_a_reason_and_the_privacy_officer(cases, people, unchanged):
    cases.make(Status.ACCEPTED, phone=PHONE)
    with unchanged(), pytest.raises(CommandError, match="--confirm"):
        call_command("privacy", "erase", "--phone", PHONE, "--reason", "客户要求")
    with unchanged(), pytest.raises(CommandError, match="Say why"):
        call_command("privacy", "erase", "--phone", PHONE, "--reason", "  ", "--confirm")
    with unchanged(), pytest.raises(CommandError, match="No customer is known"):
        call_command("privacy", "erase", "--phone", "13700000000", "--reason", "x", "--confirm")
    with unchanged(), pytest.raises(PermissionDenied):
        privacy_erase(phone=PHONE, reason="客户要求", actor=people["supervisor"])


@pytest.mark.django_db
def test_case_events_stay_append_only_outside_an_erasure(cases):
    from django.db import IntegrityError, transaction

    c = cases.make(Status.REGISTERED)
    event = ComplaintEvent.objects.filter(complaint=c).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        ComplaintEvent.objects.filter(pk=event.pk).update(payload={"x": 1})
