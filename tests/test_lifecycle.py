"""The whole life of a case through the services, asserting the record it leaves."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from tousu.complaints import services as svc
from tousu.complaints.events import EventKind
from tousu.complaints.models import ComplaintEvent, Remedy
from tousu.complaints.states import Status
from tousu.customers.models import Customer

pytestmark = pytest.mark.django_db


def kinds(c):
    return list(
        ComplaintEvent.objects.filter(complaint=c)
        .order_by("id")
        .values_list("kind", "from_status", "to_status")
    )


def test_register_creates_customer_case_and_event(cases, people):
    c = cases.register()
    assert c.status == Status.REGISTERED
    assert c.ticket_no is None
    assert c.customer.phone == "+8613812348000"
    assert c.first_contact_owner == people["agent"]
    assert c.registered_by == people["agent"]
    assert kinds(c) == [("registered", "", "registered")]
    assert Customer.objects.count() == 1


def test_accept_issues_ticket_number_of_the_local_day(cases, time_machine):
    time_machine.move_to("2026-11-23 23:30:00+08:00", tick=False)
    c = cases.register()
    c = svc.complaint_accept(actor=cases.p["agent"], complaint_id=c.pk)
    assert c.ticket_no == "TS20261123000001"
    second = svc.complaint_accept(actor=cases.p["agent"], complaint_id=cases.register().pk)
    assert second.ticket_no == "TS20261123000002"
    time_machine.move_to("2026-11-24 00:00:01+08:00", tick=False)
    third = svc.complaint_accept(actor=cases.p["agent"], complaint_id=cases.register().pk)
    assert third.ticket_no == "TS20261124000001"
    event = ComplaintEvent.objects.get(complaint=c, kind=EventKind.ACCEPTED)
    assert event.pending_dispatch is True
    assert event.payload == {"ticket_no": "TS20261123000001"}


def test_full_flow_with_money_remedy_dissatisfied_visit_and_reopen(cases, people, org):
    p = people
    c = cases.make(Status.PLAN_PROPOSED)
    remedy = svc.remedy_request(actor=p["handler"], complaint_id=c.pk, kind="compensation", amount="120")
    assert remedy.status == "requested"
    assert cases.reload(c).status == Status.AWAITING_APPROVAL
    svc.remedy_decide(actor=p["supervisor"], remedy_id=remedy.pk, approve=True)
    remedy.refresh_from_db()
    assert (remedy.status, remedy.decided_by, remedy.amount) == (
        "approved",
        p["supervisor"],
        Decimal("120.00"),
    )
    assert cases.reload(c).status == Status.PLAN_PROPOSED
    svc.complaint_reply(actor=p["handler"], complaint_id=c.pk, channel="sms", content="已补偿120元。")
    svc.return_visit_record(
        actor=p["visitor"], complaint_id=c.pk, reached=True, resolved=False, satisfaction=2, comment="不满意"
    )
    c = cases.reload(c)
    assert (c.status, c.escalation_level, c.reopen_count) == (Status.REOPENED, 1, 1)
    svc.complaint_investigate(actor=p["handler"], complaint_id=c.pk)
    cases.plan(c)
    svc.complaint_reply(actor=p["handler"], complaint_id=c.pk, channel="sms", content="已彻底解决。")
    svc.return_visit_record(
        actor=p["visitor"], complaint_id=c.pk, reached=True, resolved=True, satisfaction=5
    )
    svc.complaint_close(actor=p["visitor"], complaint_id=c.pk)
    c = cases.reload(c)
    assert c.status == Status.CLOSED
    assert c.closed_at is not None
    assert kinds(c) == [
        ("registered", "", "registered"),
        ("accepted", "registered", "accepted"),
        ("dispatched", "accepted", "dispatched"),
        ("status_changed", "dispatched", "investigating"),
        ("plan_proposed", "investigating", "plan_proposed"),
        ("remedy_requested", "plan_proposed", "awaiting_approval"),
        ("remedy_approved", "awaiting_approval", "plan_proposed"),
        ("replied", "plan_proposed", "replied"),
        ("return_visit", "replied", "return_visit"),
        ("reopened", "return_visit", "reopened"),
        ("escalated", "", ""),
        ("status_changed", "reopened", "investigating"),
        ("plan_proposed", "investigating", "plan_proposed"),
        ("replied", "plan_proposed", "replied"),
        ("return_visit", "replied", "return_visit"),
        ("closed", "return_visit", "closed"),
    ]
    assert c.version == 1 + 15  # every locked write moved the version


def test_first_contact_resolution_closes_without_dispatch(cases, people):
    c = cases.make(Status.REPLIED, fcr=True)
    assert c.is_first_contact_resolution is True
    svc.complaint_close(actor=people["agent"], complaint_id=c.pk)
    assert cases.reload(c).status == Status.CLOSED


def test_remedy_within_own_limit_is_approved_at_once(cases, people):
    c = cases.make(Status.INVESTIGATING)
    remedy = svc.remedy_request(actor=people["handler"], complaint_id=c.pk, kind="fee_waiver", amount="50")
    assert (remedy.status, remedy.decided_by) == ("approved", people["handler"])
    assert cases.reload(c).status == Status.INVESTIGATING
    assert list(Remedy.objects.values_list("amount", flat=True)) == [Decimal("50.00")]


def test_awaiting_customer_and_resume_records_answer(cases, people):
    c = cases.make(Status.AWAITING_CUSTOMER)
    svc.complaint_investigate(actor=people["handler"], complaint_id=c.pk, note="用户已上传账单截图")
    event = ComplaintEvent.objects.filter(complaint=c).latest("id")
    assert (event.kind, event.from_status, event.to_status, event.payload) == (
        "info_received",
        "awaiting_customer",
        "investigating",
        {"note": "用户已上传账单截图"},
    )


def test_escalate_from_open_state_up_to_top(cases, people):
    c = cases.make(Status.INVESTIGATING)
    svc.complaint_escalate(actor=people["agent"], complaint_id=c.pk, reason="用户称将向工信部申诉")
    svc.complaint_escalate(actor=people["supervisor"], complaint_id=c.pk, reason="重大", to_level=3)
    c = cases.reload(c)
    assert (c.escalation_level, c.status) == (3, Status.INVESTIGATING)
    payloads = list(
        ComplaintEvent.objects.filter(complaint=c, kind="escalated").values_list("payload", flat=True)
    )
    assert payloads == [
        {"from_level": 0, "to_level": 1, "reason": "用户称将向工信部申诉", "trigger": "manual"},
        {"from_level": 1, "to_level": 3, "reason": "重大", "trigger": "manual"},
    ]


def test_register_is_idempotent_per_channel_external_id(cases):
    first = cases.register(channel="app", external_id="app-123")
    again = cases.register(channel="app", external_id="app-123", description="再次提交")
    other_channel = cases.register(channel="wechat", external_id="app-123")
    assert again.pk == first.pk
    assert other_channel.pk != first.pk
    assert ComplaintEvent.objects.filter(complaint=first).count() == 1


def test_received_at_defaults_to_now(cases, time_machine):
    time_machine.move_to("2026-05-01 10:00:00+08:00", tick=False)
    c = cases.register()
    assert c.received_at == timezone.now()
