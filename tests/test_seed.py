"""Demo data: the reference data is idempotent, and every simulated case could have happened.

The seeded histories are replayed against the transition table; the regular services must keep
working on seeded data (sequences and ticket counters moved past the bulk-inserted rows).
"""

from __future__ import annotations

import io
import re
import threading
from collections import Counter, defaultdict
from datetime import timedelta
from decimal import Decimal

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.db.models import Max
from django.utils import timezone

from tousu.accounts.models import ApprovalLimit, Department, Region, User
from tousu.accounts.roles import DEFAULT_APPROVAL_LIMITS, Role
from tousu.complaints import services as svc
from tousu.complaints.models import (
    Category,
    Complaint,
    ComplaintEvent,
    Remedy,
    Reply,
    ResolutionPlan,
    ReturnVisit,
    TicketCounter,
)
from tousu.complaints.states import OPEN, TRANSITIONS, Status
from tousu.customers.models import Customer, CustomerIdentity, IdentityKind
from tousu.ops.seed import DEMO_PASSWORD, seed_complaints, seed_organisation, seed_reference

pytestmark = pytest.mark.django_db

TICKET = re.compile(r"^TS(\d{8})(\d{6})$")

DEPARTMENTS = {"customer_service", "billing", "network", "business", "legal", "marketing", "management"}
TOP_LEVEL = {"billing", "service", "network", "business", "other"}


def reference_counts() -> dict[str, int]:
    return {
        "departments": Department.objects.count(),
        "regions": Region.objects.count(),
        "categories": Category.objects.count(),
        "limits": ApprovalLimit.objects.count(),
        "users": User.objects.count(),
    }


def seed(count: int) -> str:
    out = io.StringIO()
    call_command("seed", complaints=count, stdout=out)
    return out.getvalue()


def check_histories(complaints: list[Complaint]) -> None:
    """Replay every case's events in id order against the transition table and its own fields."""
    events: dict[int, list[ComplaintEvent]] = defaultdict(list)
    for event in ComplaintEvent.objects.order_by("id"):
        events[event.complaint_id].append(event)
    assert set(events) == {c.pk for c in complaints}
    tickets_by_day: dict[str, list[int]] = defaultdict(list)
    for c in complaints:
        history = events[c.pk]
        first = history[0]
        assert (first.kind, first.from_status, first.to_status) == ("registered", "", "registered"), c.pk
        assert first.created_at == c.registered_at
        status = Status.REGISTERED
        last_change = first.created_at
        previous_time = first.created_at
        for event in history[1:]:
            assert event.created_at >= previous_time, (c.pk, event.kind)
            previous_time = event.created_at
            if not event.to_status:
                assert event.from_status == "", (c.pk, event.kind)
                continue
            assert event.from_status == status, (c.pk, event.kind, event.from_status, status)
            assert Status(event.to_status) in TRANSITIONS[status], (c.pk, status, event.to_status)
            status = Status(event.to_status)
            last_change = event.created_at
        assert c.status == status, c.pk
        assert c.status_changed_at == last_change, c.pk
        assert c.updated_at == history[-1].created_at, c.pk
        assert c.version == len(history), c.pk
        kinds = Counter(e.kind for e in history)
        assert c.reopen_count == kinds["reopened"], c.pk
        assert c.escalation_level == min(kinds["escalated"], 3) == kinds["escalated"], c.pk
        if c.status == Status.CLOSED or c.status == Status.WITHDRAWN or c.status == Status.REJECTED:
            assert c.closed_at == history[-1].created_at, c.pk
        else:
            assert c.closed_at is None, c.pk
        if c.status == Status.REGISTERED:
            assert c.ticket_no is None
            continue
        match = TICKET.match(c.ticket_no or "")
        assert match, (c.pk, c.ticket_no)
        if c.status == Status.REJECTED:
            issued = next(e for e in history if e.kind == "rejected").created_at
            assert c.accepted_at is None
            assert c.rejection_reason != ""
        else:
            issued = c.accepted_at
            assert issued == next(e for e in history if e.kind == "accepted").created_at
        assert match.group(1) == f"{timezone.localdate(issued):%Y%m%d}", (c.pk, c.ticket_no, issued)
        tickets_by_day[match.group(1)].append(int(match.group(2)))
    tickets = [c.ticket_no for c in complaints if c.ticket_no]
    assert len(tickets) == len(set(tickets))
    counters = {f"{t.day:%Y%m%d}": t.last for t in TicketCounter.objects.all()}
    for day, numbers in tickets_by_day.items():
        assert counters[day] >= max(numbers), day
    # Per case: one reply, return visit (reached or not) and plan row for each such event.
    for model, kinds, key in [
        (Reply, {"replied"}, "reply_id"),
        (ReturnVisit, {"return_visit", "return_visit_unreached"}, "return_visit_id"),
        (ResolutionPlan, {"plan_proposed"}, "plan_id"),
    ]:
        rows = Counter(model.objects.values_list("complaint_id", flat=True))
        made = Counter(e.complaint_id for h in events.values() for e in h if e.kind in kinds)
        assert rows == made, model.__name__
        ids = {e.payload[key] for h in events.values() for e in h if e.kind in kinds}
        assert ids == set(model.objects.values_list("id", flat=True)), model.__name__
    unreached = ReturnVisit.objects.filter(reached=False).values_list("id", flat=True)
    assert set(unreached) == {
        e.payload["return_visit_id"] for h in events.values() for e in h if e.kind == "return_visit_unreached"
    }
    remedy_events = Counter(
        e.complaint_id
        for h in events.values()
        for e in h
        if e.kind == "remedy_requested" or (e.kind == "remedy_approved" and e.payload.get("self_approved"))
    )
    assert Counter(Remedy.objects.values_list("complaint_id", flat=True)) == remedy_events
    assert not ComplaintEvent.objects.filter(pending_dispatch=True).exists()


def check_customers() -> None:
    identities = list(CustomerIdentity.objects.values_list("customer_id", "kind", "value"))
    phones = [value for _c, _k, value in identities]
    assert {kind for _c, kind, _v in identities} == {IdentityKind.PHONE}
    assert len(phones) == len(set(phones))
    assert all(re.fullmatch(r"\+861\d{10}", p) for p in phones)
    assert dict(Customer.objects.values_list("id", "phone")) == {c: v for c, _k, v in identities}
    used = set(Complaint.objects.values_list("customer_id", flat=True))
    assert used == set(Customer.objects.values_list("id", flat=True))


# --- reference data ------------------------------------------------------------------------------


def test_seed_reference_creates_departments_users_categories_and_limits():
    users = seed_reference()
    assert set(Department.objects.values_list("code", flat=True)) == DEPARTMENTS
    assert {u.role for u in users} == set(Role)
    assert {u.role for u in User.objects.all()} == set(Role)
    assert User.objects.count() == len(users) == 12
    agent = User.objects.get(username="agent")
    assert (agent.role, agent.department.code) == (Role.AGENT, "customer_service")
    assert agent.check_password(DEMO_PASSWORD)
    admin = User.objects.get(username="admin")
    assert (admin.is_superuser, admin.is_staff, admin.department) == (True, True, None)
    top = Category.objects.filter(parent__isnull=True)
    assert set(top.values_list("code", flat=True)) == TOP_LEVEL
    leaves = Category.objects.filter(parent__isnull=False)
    assert leaves.count() == 27
    assert not Category.objects.filter(parent__parent__isnull=False).exists()  # two levels only
    assert all(leaf.code.startswith(leaf.parent.code + "-") for leaf in leaves.select_related("parent"))
    assert all(c.default_department is not None for c in Category.objects.all())
    limits = dict(ApprovalLimit.objects.values_list("role", "max_amount"))
    assert limits == {
        role: None if limit is None else Decimal(limit) for role, limit in DEFAULT_APPROVAL_LIMITS.items()
    }
    assert Region.objects.count() == 10


def test_seed_organisation_creates_no_users():
    departments = seed_organisation()
    assert set(departments) == DEPARTMENTS
    assert Category.objects.count() == 32
    assert ApprovalLimit.objects.count() == len(DEFAULT_APPROVAL_LIMITS)
    assert not User.objects.exists()


def test_seed_reference_twice_creates_no_duplicates_and_keeps_passwords():
    seed_reference()
    before = reference_counts()
    User.objects.filter(username="supervisor").update(password="changed-by-the-operator")
    passwords = dict(User.objects.values_list("username", "password"))
    seed_reference()
    assert reference_counts() == before
    assert dict(User.objects.values_list("username", "password")) == passwords
    assert User.objects.get(username="supervisor").password == "changed-by-the-operator"


# --- complaints ----------------------------------------------------------------------------------


def test_seed_command_generates_consistent_histories():
    started = timezone.now()
    out = seed(400)
    assert "reference data ready: 12 users" in out
    assert "seeded complaints=400 " in out
    complaints = list(Complaint.objects.order_by("id"))
    assert len(complaints) == 400
    check_histories(complaints)
    check_customers()

    statuses = Counter(c.status for c in complaints)
    assert statuses[Status.CLOSED] > 0
    assert statuses[Status.INVESTIGATING] + statuses[Status.REPLIED] > 0
    assert statuses[Status.REJECTED] > 0
    assert len(statuses) >= 6
    assert len({c.channel for c in complaints}) >= 6
    assert len({c.category_id for c in complaints}) >= 10
    assert all(started - timedelta(days=366) <= c.registered_at <= timezone.now() for c in complaints)
    assert all(c.received_at <= c.registered_at for c in complaints)
    assert all(c.ticket_no for c in complaints if c.status != Status.REGISTERED)
    assert all(c.closed_at for c in complaints if c.status == Status.CLOSED)
    assert all(c.lead_department_id and c.assignee_id for c in complaints if c.status == Status.DISPATCHED)
    assert Complaint.cooperating_departments.through.objects.exists()

    # A second run appends: fresh ids, continued ticket sequences.
    first_max = {
        "complaint": complaints[-1].pk,
        "event": ComplaintEvent.objects.aggregate(m=Max("id"))["m"],
    }
    first_last: dict[str, int] = defaultdict(int)
    for c in complaints:
        if c.ticket_no:
            first_last[c.ticket_no[2:10]] = max(first_last[c.ticket_no[2:10]], int(c.ticket_no[10:]))
    out = seed(100)
    assert "seeded complaints=100 " in out
    everything = list(Complaint.objects.order_by("id"))
    assert len(everything) == 500
    new = everything[400:]
    continued = [c for c in new if c.ticket_no and c.ticket_no[2:10] in first_last]
    assert continued  # the same days come up again
    assert all(int(c.ticket_no[10:]) > first_last[c.ticket_no[2:10]] for c in continued)
    assert all(c.pk > first_max["complaint"] for c in new)
    assert ComplaintEvent.objects.filter(complaint__in=new).aggregate(m=Max("id"))["m"] > first_max["event"]
    assert not ComplaintEvent.objects.filter(complaint__in=new, id__lte=first_max["event"]).exists()
    check_histories(everything)
    check_customers()


def test_services_work_on_seeded_data():
    seed_complaints(300)
    seeded_tickets = set(Complaint.objects.exclude(ticket_no=None).values_list("ticket_no", flat=True))
    last_event = ComplaintEvent.objects.aggregate(m=Max("id"))["m"]

    case = (
        Complaint.objects.filter(status=Status.INVESTIGATING, escalation_level__lt=3).order_by("id").first()
        or Complaint.objects.filter(status__in=OPEN, escalation_level__lt=3).order_by("id").first()
    )
    assert case is not None
    svc.complaint_escalate(actor=None, complaint_id=case.pk, reason="用户称将向工信部申诉")
    escalated = Complaint.objects.get(pk=case.pk)
    assert (escalated.escalation_level, escalated.version) == (case.escalation_level + 1, case.version + 1)
    event = ComplaintEvent.objects.filter(complaint=case).latest("id")
    assert (event.kind, event.actor_label, event.pending_dispatch) == ("escalated", "system", True)
    assert event.pk == last_event + 1

    agent = User.objects.get(username="agent")
    leaf = Category.objects.get(code="billing-wrong-charge")
    new = svc.complaint_register(
        actor=agent,
        channel="hotline",
        phone="13912345678",
        customer_name="张三",
        business_type="mobile",
        category_id=leaf.pk,
        description="用户反映账单被收取30元彩铃费用，从未订购。",
    )
    assert new.pk == Complaint.objects.aggregate(m=Max("id"))["m"]
    accepted = svc.complaint_accept(actor=agent, complaint_id=new.pk)
    assert accepted.ticket_no not in seeded_tickets
    day = f"{timezone.localdate(accepted.accepted_at):%Y%m%d}"
    match = TICKET.match(accepted.ticket_no)
    assert match
    assert match.group(1) == day
    same_day = [int(t[10:]) for t in seeded_tickets if t[2:10] == day]
    assert int(match.group(2)) == max(same_day, default=0) + 1
    # The acceptance reserved a block of TOUSU_TICKET_BLOCK numbers and used the first.
    reserved = int(match.group(2)) + settings.TOUSU_TICKET_BLOCK - 1
    assert TicketCounter.objects.get(day=timezone.localdate(accepted.accepted_at)).last == reserved


def test_same_seed_same_data(time_machine):
    time_machine.move_to("2026-11-23 10:00:00+08:00", tick=False)
    seed_complaints(60, seed=7)
    first = list(
        Complaint.objects.order_by("id").values_list("status", "channel", "description", "ticket_no")
    )
    assert len(first) == 60
    seed_complaints(60, seed=7)
    second = list(
        Complaint.objects.order_by("id").values_list("status", "channel", "description", "ticket_no")
    )
    assert [row[:3] for row in second[60:]] == [row[:3] for row in first]
    assert len({row[3] for row in second if row[3]}) == len([row for row in second if row[3]])


@pytest.mark.django_db(transaction=True)
def test_chunks_commit_on_their_own_and_a_failed_write_keeps_the_committed_ones(monkeypatch):
    """Several committed chunks (on PostgreSQL, written by the writer thread while the next one is
    simulated). A write that fails stops the run; the chunks already committed stay consistent."""
    made = seed_complaints(150, chunk=40)
    assert made["complaints"] == Complaint.objects.count() == 150
    assert made["events"] == ComplaintEvent.objects.count()
    assert made["customers"] == Customer.objects.count()
    check_histories(list(Complaint.objects.order_by("id")))

    from tousu.ops import seed as seed_module

    real = seed_module.bulk_insert_rows
    calls: Counter[type] = Counter()
    threads = set()

    def failing(model, columns, rows):
        calls[model] += 1
        threads.add(threading.current_thread().name.split("_")[0])
        if model is Complaint and calls[model] == 2:
            raise RuntimeError("disk full")
        return real(model, columns, rows)

    monkeypatch.setattr(seed_module, "bulk_insert_rows", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        seed_complaints(150, chunk=40)
    assert Complaint.objects.count() == 190  # the first chunk of the second run
    assert threads == ({"seed-writer"} if connection.vendor == "postgresql" else {"MainThread"})
    check_histories(list(Complaint.objects.order_by("id")))
    check_customers()
    monkeypatch.undo()

    agent = User.objects.get(username="agent")
    new = svc.complaint_register(
        actor=agent,
        channel="app",
        phone="13912345679",
        business_type="mobile",
        category_id=Category.objects.get(code="network-speed").pk,
        description="宽带网速慢。",
    )
    assert new.pk == 191
    accepted = svc.complaint_accept(actor=agent, complaint_id=new.pk)
    tickets = list(Complaint.objects.exclude(ticket_no=None).values_list("ticket_no", flat=True))
    assert len(tickets) == len(set(tickets))
    assert TICKET.match(accepted.ticket_no)


def test_a_column_the_seed_does_not_set_gets_its_default(monkeypatch):
    from tousu.ops import seed as seed_module

    known = seed_module.COLUMNS[Complaint]
    monkeypatch.setitem(
        seed_module.COLUMNS, Complaint, tuple(c for c in known if c not in {"external_id", "version"})
    )
    seed_complaints(20)
    assert set(Complaint.objects.values_list("external_id", "version")) == {("", 1)}
    monkeypatch.setitem(seed_module.COLUMNS, Complaint, tuple(c for c in known if c != "registered_at"))
    with pytest.raises(RuntimeError, match=r"no value for complaints\.Complaint\.registered_at"):
        seed_complaints(1)
    assert Complaint.objects.count() == 20
