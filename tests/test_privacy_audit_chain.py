"""The access log is tamper-evident: every row is sealed into a hash chain, and ``tousu audit
verify`` finds an edited row, a deleted row and deleted newest rows."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tousu.audit.models import AuditEvent
from tousu.audit.services import audit_seal, audit_verify
from tousu.complaints.selectors import complaint_for_display
from tousu.complaints.states import Status


def _reads(cases, people, n: int) -> list[int]:
    c = cases.make(Status.ACCEPTED)
    for _ in range(n):
        complaint_for_display(actor=people["agent"], complaint_id=c.pk)
    return list(AuditEvent.objects.order_by("id").values_list("pk", flat=True))


@pytest.mark.django_db
def test_an_intact_log_verifies_and_each_row_is_sealed_once(cases, people):
    ids = _reads(cases, people, 3)
    assert audit_seal() == 3
    assert audit_seal() == 0
    assert list(AuditEvent.objects.order_by("id").values_list("chain_seq", flat=True)) == [1, 2, 3]
    assert audit_verify() == []
    out = io.StringIO()
    call_command("audit", "verify", stdout=out)
    assert out.getvalue() == "the audit log's hash chain is intact\n"
    # rows written later join the chain after the sealed ones
    _reads(cases, people, 1)
    assert audit_seal() == 1
    assert audit_verify() == []
    assert len(ids) == 3


@pytest.mark.django_db
def test_verify_finds_an_edited_row(cases, people):
    ids = _reads(cases, people, 3)
    audit_seal()
    AuditEvent.objects.filter(pk=ids[1]).update(actor_label="somebody_else")
    assert audit_verify() == [f"audit event {ids[1]} (place 2) was changed"]
    with pytest.raises(CommandError, match=f"audit event {ids[1]} \\(place 2\\) was changed"):
        call_command("audit", "verify")


@pytest.mark.django_db
def test_verify_finds_deleted_rows(cases, people):
    ids = _reads(cases, people, 4)
    audit_seal()
    AuditEvent.objects.filter(pk=ids[1]).delete()
    assert audit_verify() == [
        "rows 2–2 of the chain are missing (deleted)",
        f"audit event {ids[2]} (place 3) was changed",
    ]


@pytest.mark.django_db
def test_verify_finds_the_newest_rows_deleted(cases, people):
    ids = _reads(cases, people, 3)
    audit_seal()
    AuditEvent.objects.filter(pk=ids[2]).delete()
    assert audit_verify() == ["the chain ends at place 2, its head says 3 (newest rows deleted)"]
