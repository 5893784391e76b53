"""``complaint_register(..., accept=True)``: one transaction that writes exactly what
``complaint_register`` then ``complaint_accept`` write (events, SLA clocks, deadlines, outbox
flags), with fewer statements."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from tousu.common.errors import PermissionDenied
from tousu.complaints import services as svc
from tousu.complaints.models import Complaint, ComplaintEvent
from tousu.complaints.states import Status
from tousu.sla.defaults import sla_bootstrap
from tousu.sla.models import SlaClock

NOW = "2026-11-23 10:15:00+08:00"  # a Monday, inside business hours


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def sla(db) -> int:
    return sla_bootstrap()


def _fields(org: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "channel": "hotline",
        "phone": "13800138000",
        "customer_name": "张三",
        "business_type": "mobile",
        "category_id": org["wrong_charge"].pk,
        "description": "用户反映账单被收取30元彩铃费用，从未订购。",
        "demand": "退还30元",
    }
    fields.update(overrides)
    return fields


def _two_calls(actor: Any, fields: dict[str, Any]) -> Complaint:
    with transaction.atomic():
        complaint = svc.complaint_register(actor=actor, **fields)
        return svc.complaint_accept(actor=actor, complaint_id=complaint.pk)


def _record(complaint: Complaint) -> dict[str, Any]:
    """Everything written for the case, without its ids and its ticket number's sequence."""
    complaint = Complaint.objects.get(pk=complaint.pk)
    row = model_to_dict(complaint, exclude=["id", "ticket_no", "external_id"])
    events = [
        (
            e.kind,
            e.from_status,
            e.to_status,
            e.actor_id,
            e.actor_label,
            e.created_at,
            e.pending_dispatch,
            {k: ("<ticket>" if k == "ticket_no" else v) for k, v in e.payload.items()},
        )
        for e in ComplaintEvent.objects.filter(complaint=complaint).order_by("created_at", "id")
    ]
    ticket_payloads = [
        e.payload["ticket_no"] for e in ComplaintEvent.objects.filter(complaint=complaint, kind="accepted")
    ]
    assert ticket_payloads == [complaint.ticket_no]
    clocks = [
        model_to_dict(c, exclude=["id", "complaint"])
        for c in SlaClock.objects.filter(complaint=complaint).order_by("kind", "cycle")
    ]
    return {"case": row, "events": events, "clocks": clocks}


CASES = [
    pytest.param({}, id="dissatisfied"),
    pytest.param({"level": "major"}, id="major-escalates"),
    pytest.param({"level": "crisis", "threatens_external": True}, id="crisis-threat"),
    pytest.param({"threatens_external": True}, id="threat"),
    pytest.param({"channel": "regulator", "external_id": "REG-1"}, id="regulator"),
    pytest.param({"channel": "wechat", "external_id": "wx-1", "region": True}, id="wechat-region"),
]


@pytest.mark.parametrize("extra", CASES)
def test_accept_true_writes_what_the_two_calls_write(org, people, sla, frozen, extra):
    extra = dict(extra)
    if extra.pop("region", False):
        extra["region_id"] = org["urban"].pk
    agent = people["agent"]
    before = Complaint.objects.count()
    two = _two_calls(agent, _fields(org, **extra))
    if "external_id" in extra:
        extra["external_id"] += "-b"
    one = svc.complaint_register(actor=agent, accept=True, **_fields(org, **extra))

    assert Complaint.objects.count() == before + 2
    assert one.status == Status.ACCEPTED
    assert one.ticket_no == "TS20261123000002"
    assert two.ticket_no == "TS20261123000001"
    expected, got = _record(two), _record(one)
    assert got == expected
    assert got["clocks"], "the default policies start clocks at registration"
    assert got["case"]["next_due_at"] is not None
    # The object returned is what the database holds.
    assert model_to_dict(one) == model_to_dict(Complaint.objects.get(pk=one.pk))


def test_accept_true_without_sla_policies(org, people, frozen):
    agent = people["agent"]
    two = _two_calls(agent, _fields(org))
    one = svc.complaint_register(actor=agent, accept=True, **_fields(org))
    assert _record(one) == _record(two)
    assert _record(one)["clocks"] == []
    assert Complaint.objects.get(pk=one.pk).next_due_at is None


def test_accept_true_is_idempotent_on_the_channel_message(org, people, sla, frozen):
    agent = people["agent"]
    first = svc.complaint_register(actor=agent, accept=True, **_fields(org, channel="app", external_id="m-9"))
    counts = (Complaint.objects.count(), ComplaintEvent.objects.count(), SlaClock.objects.count())
    again = svc.complaint_register(actor=agent, accept=True, **_fields(org, channel="app", external_id="m-9"))
    assert again.pk == first.pk
    assert again.ticket_no == first.ticket_no == "TS20261123000001"
    assert (Complaint.objects.count(), ComplaintEvent.objects.count(), SlaClock.objects.count()) == counts


def test_accept_true_accepts_a_message_registered_before_without_it(org, people, sla, frozen):
    agent = people["agent"]
    registered = svc.complaint_register(actor=agent, **_fields(org, channel="app", external_id="m-7"))
    assert registered.status == Status.REGISTERED
    assert registered.ticket_no is None
    accepted = svc.complaint_register(
        actor=agent, accept=True, **_fields(org, channel="app", external_id="m-7")
    )
    assert accepted.pk == registered.pk
    assert accepted.status == Status.ACCEPTED
    assert accepted.ticket_no == "TS20261123000001"
    kinds = list(
        ComplaintEvent.objects.filter(complaint=accepted).order_by("id").values_list("kind", flat=True)
    )
    assert kinds == ["registered", "accepted"]


def test_accept_true_needs_the_right_to_accept(org, people, sla, unchanged):
    handler = people["handler"]  # may register, may not accept
    with unchanged(), pytest.raises(PermissionDenied):
        svc.complaint_register(actor=handler, accept=True, **_fields(org))


def test_accept_false_is_unchanged(org, people, sla, frozen):
    complaint = svc.complaint_register(actor=people["agent"], **_fields(org))
    stored = Complaint.objects.get(pk=complaint.pk)
    assert stored.status == Status.REGISTERED
    assert stored.ticket_no is None
    assert stored.version == 1
    assert list(ComplaintEvent.objects.filter(complaint=stored).values_list("kind", flat=True)) == [
        "registered"
    ]
    assert sorted(SlaClock.objects.filter(complaint=stored).values_list("state", flat=True)) == [
        "running",
        "running",
    ]


def _data_statements(run: Any) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        run()
    verbs = [q["sql"].split(None, 1)[0].upper() for q in ctx.captured_queries]
    return [v for v in verbs if v not in ("SAVEPOINT", "RELEASE", "NOTIFY", "BEGIN", "COMMIT")]


def test_accept_true_statements(org, people, sla, frozen, settings):
    """The point of accept=True: a new caller's case in 8 statements (besides the transaction's
    own and PostgreSQL's NOTIFY), a returning caller's in 6; on PostgreSQL the case, its events
    and its clocks are one statement after the counter's UPDATE, so 6 and 4 (with blocks of
    ticket numbers most cases take no UPDATE: 5 and 3). The two calls take more."""
    settings.TOUSU_TICKET_BLOCK = 1  # every acceptance reserves its number (blocks: test_ticket_numbers)
    agent = people["agent"]
    svc.complaint_register(actor=agent, accept=True, **_fields(org))  # loads the SLA cache

    def new() -> None:
        svc.complaint_register(actor=agent, accept=True, **_fields(org, phone="13900139000"))

    def again() -> None:
        svc.complaint_register(actor=agent, accept=True, **_fields(org, phone="13900139000"))

    write = (
        ["UPDATE", "WITH"] if connection.vendor == "postgresql" else ["UPDATE", "INSERT", "INSERT", "INSERT"]
    )
    assert _data_statements(new) == ["SELECT", "SELECT", "INSERT", "INSERT", *write]
    assert _data_statements(again) == ["SELECT", "SELECT", *write]
    assert len(_data_statements(lambda: _two_calls(agent, _fields(org)))) >= 10


def test_accept_true_concurrent_retry_returns_the_case_written_first(org, people, sla, frozen, monkeypatch):
    """A retry that passes the first look-up while the other call is still writing (simulated by
    hiding the case from it) skips the duplicate INSERT and returns the case written first."""
    from tousu.complaints.services import intake

    agent = people["agent"]
    first = svc.complaint_register(actor=agent, accept=True, **_fields(org, channel="web", external_id="w-1"))
    counts = (Complaint.objects.count(), ComplaintEvent.objects.count(), SlaClock.objects.count())
    real = intake._references

    def unseen(*args: Any) -> Any:
        category, has_children, region, _existing = real(*args)
        return category, has_children, region, None

    monkeypatch.setattr(intake, "_references", unseen)
    again = svc.complaint_register(actor=agent, accept=True, **_fields(org, channel="web", external_id="w-1"))
    assert again.pk == first.pk
    assert again.ticket_no == first.ticket_no
    assert (Complaint.objects.count(), ComplaintEvent.objects.count(), SlaClock.objects.count()) == counts
