"""Repeats (重复投诉) and duplicates: a new case of a customer with an open or recent case on a
similar issue is linked and flagged (and escalated as a risk); the same text again through another
channel within minutes is offered as a duplicate and merged by staff (events on both, audited)."""

from __future__ import annotations

import pytest

from tousu.audit.models import AuditEvent
from tousu.common.errors import NotFound, PermissionDenied
from tousu.common.origin import EMAIL, PORTAL
from tousu.complaints.events import EventKind
from tousu.complaints.models import ComplaintEvent
from tousu.complaints.states import Status
from tousu.triage.models import CaseLink, LinkKind
from tousu.triage.services import repeat_of, triage_duplicate_merge, triage_intake

CHARGE = "用户反映3月账单被收取30元彩铃费用，从未订购。"


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.TOUSU_TRIAGE_LAG_SECONDS = 0
    settings.TOUSU_TRIAGE_AUTO_CONFIDENCE = 101  # keep the category: these tests are about links
    settings.TOUSU_TRIAGE_ESCALATION_RISK = 85
    settings.TOUSU_TRIAGE_REPEAT_DAYS = 30
    settings.TOUSU_TRIAGE_DUPLICATE_MINUTES = 10


def test_same_customer_similar_issue_is_a_repeat_and_escalates(cases):
    first = cases.make(Status.ACCEPTED)  # the agent's hotline case on a wrong charge, still open
    second = cases.register(
        actor=None, origin=EMAIL, channel="email", description="彩铃又扣了我30块，上个月就说过了，要求退款"
    )
    assert triage_intake() == 2
    [link] = repeat_of(second.pk)
    assert (link.earlier_id, link.kind) == (first.pk, LinkKind.REPEAT)
    event = ComplaintEvent.objects.get(complaint=second, kind=EventKind.LINKED)
    assert event.payload["label"] == "重复投诉"
    assert event.payload["earlier"] == first.pk
    assert event.payload["earlier_ticket"] == first.ticket_no
    second.refresh_from_db()
    assert second.escalation_level == 1
    escalated = ComplaintEvent.objects.get(complaint=second, kind=EventKind.ESCALATED)
    assert escalated.payload["trigger"] == "triage_risk"
    assert not repeat_of(first.pk)  # the earlier case is not linked to the later one


def test_other_customers_and_old_closed_cases_are_not_repeats(cases, settings):
    cases.register(phone="13800000001", description=CHARGE)  # another customer
    closed = cases.make(Status.CLOSED, fcr=True)  # same customer, closed…
    settings.TOUSU_TRIAGE_REPEAT_DAYS = 0  # …and not recent
    new = cases.register(actor=None, origin=EMAIL, channel="email", description=CHARGE)
    triage_intake()
    assert not CaseLink.objects.exists()
    assert not ComplaintEvent.objects.filter(complaint=new, kind=EventKind.LINKED).exists()
    assert closed.status == Status.CLOSED


def test_resubmission_through_another_channel_is_a_duplicate_merged_by_staff(cases, people, unchanged):
    first = cases.register(actor=None, origin=PORTAL, channel="web", description=CHARGE, accept=True)
    again = cases.register(actor=None, origin=EMAIL, channel="email", description=CHARGE + " ", accept=True)
    triage_intake()
    link = CaseLink.objects.get(case=again)
    assert (link.earlier_id, link.kind) == (first.pk, LinkKind.DUPLICATE)
    assert ComplaintEvent.objects.get(complaint=again, kind=EventKind.LINKED).payload["label"] == "重复提交"

    with unchanged(), pytest.raises(PermissionDenied):
        triage_duplicate_merge(actor=people["inspector"], complaint_id=again.pk)
    with unchanged(), pytest.raises(NotFound):
        triage_duplicate_merge(actor=people["supervisor"], complaint_id=first.pk)

    merged = triage_duplicate_merge(actor=people["supervisor"], complaint_id=again.pk)
    assert merged.status == Status.WITHDRAWN
    withdrawn = ComplaintEvent.objects.get(complaint=again, kind=EventKind.WITHDRAWN)
    assert withdrawn.payload["reason"] == f"重复提交，已合并至案件 {first.ticket_no}"
    on_first = ComplaintEvent.objects.get(complaint=first, kind=EventKind.LINKED)
    assert on_first.payload == {"kind": "merged", "merged": again.pk, "merged_ticket": again.ticket_no}
    assert on_first.actor == people["supervisor"]
    link.refresh_from_db()
    assert link.kind == LinkKind.MERGED
    audit = AuditEvent.objects.get(field="merged_into")
    assert (audit.actor, audit.payload, audit.complaint_id) == (
        people["supervisor"],
        {"merged_into": first.pk},
        again.pk,
    )
    with pytest.raises(NotFound):  # only once
        triage_duplicate_merge(actor=people["supervisor"], complaint_id=again.pk)
