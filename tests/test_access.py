"""Who may see and do what: per role and per scope, with the denied calls changing nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tousu.common.errors import NotFound, PermissionDenied
from tousu.complaints import services as svc
from tousu.complaints.selectors import complaint_for_display, complaints_visible_to
from tousu.complaints.states import Status

pytestmark = pytest.mark.django_db

ALL = [
    "agent",
    "agent_other",
    "handler",
    "handler_other",
    "visitor",
    "supervisor",
    "manager",
    "inspector",
    "auditor",
    "admin",
]


@pytest.fixture
def billing_case(cases):
    """Registered by ``agent``, dispatched to billing and assigned to ``handler``, investigating."""
    return cases.make(Status.INVESTIGATING)


def test_who_can_open_a_billing_case(people, billing_case):
    allowed = {"agent", "handler", "visitor", "supervisor", "manager", "inspector"}
    for name in ALL:
        if name in allowed:
            assert (
                complaint_for_display(actor=people[name], complaint_id=billing_case.pk).pk == billing_case.pk
            )
        else:
            with pytest.raises(PermissionDenied):
                complaint_for_display(actor=people[name], complaint_id=billing_case.pk)


def test_unknown_case_is_not_found(people, db):
    with pytest.raises(NotFound):
        complaint_for_display(actor=people["supervisor"], complaint_id=424242)


def test_handler_of_another_department_cannot_act(people, billing_case, cases, unchanged):
    other = people["handler_other"]
    attempts = [
        lambda: svc.complaint_request_info(actor=other, complaint_id=billing_case.pk, question="?"),
        lambda: svc.complaint_propose_plan(
            actor=other,
            complaint_id=billing_case.pk,
            kind="immediate",
            measures="x",
            responsible_id=other.pk,
            deadline=timezone.now() + timedelta(days=1),
        ),
        lambda: svc.complaint_note(actor=other, complaint_id=billing_case.pk, text="看看"),
        lambda: svc.complaint_escalate(actor=other, complaint_id=billing_case.pk, reason="x"),
        lambda: svc.complaint_dispatch(
            actor=other, complaint_id=billing_case.pk, lead_department_id=cases.org["dept"]["network"].pk
        ),
        lambda: svc.complaint_withdraw(actor=other, complaint_id=billing_case.pk, reason="x"),
        lambda: svc.remedy_request(actor=other, complaint_id=billing_case.pk, kind="apology"),
        lambda: svc.complaint_reveal(actor=other, complaint_id=billing_case.pk, field="phone"),
    ]
    for call in attempts:
        with unchanged(), pytest.raises(PermissionDenied, match="outside your scope"):
            call()


def test_cooperating_department_may_read_and_note_but_not_handle(people, cases, org, unchanged):
    c = cases.make(Status.ACCEPTED)
    svc.complaint_dispatch(
        actor=people["agent"],
        complaint_id=c.pk,
        lead_department_id=org["dept"]["billing"].pk,
        cooperating_department_ids=[org["dept"]["network"].pk],
    )
    other = people["handler_other"]
    assert complaint_for_display(actor=other, complaint_id=c.pk).pk == c.pk
    svc.complaint_note(actor=other, complaint_id=c.pk, text="网络侧已核查，无故障")
    with unchanged(), pytest.raises(PermissionDenied, match="outside your scope"):
        svc.complaint_investigate(actor=other, complaint_id=c.pk)
    # The lead department's handler takes the unassigned case by starting it.
    svc.complaint_investigate(actor=people["handler"], complaint_id=c.pk)
    assert cases.reload(c).assignee == people["handler"]


def test_agent_acts_only_on_cases_they_registered_or_own(people, cases, unchanged):
    c = cases.make(Status.REGISTERED)
    with unchanged(), pytest.raises(PermissionDenied, match="outside your scope"):
        svc.complaint_accept(actor=people["agent_other"], complaint_id=c.pk)
    svc.complaint_accept(actor=people["agent"], complaint_id=c.pk)


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("inspector", lambda p, c: svc.complaint_note(actor=p["inspector"], complaint_id=c.pk, text="x")),
        (
            "inspector",
            lambda p, c: svc.complaint_escalate(actor=p["inspector"], complaint_id=c.pk, reason="x"),
        ),
        ("auditor", lambda p, c: svc.complaint_note(actor=p["auditor"], complaint_id=c.pk, text="x")),
        ("admin", lambda p, c: svc.complaint_escalate(actor=p["admin"], complaint_id=c.pk, reason="x")),
        (
            "visitor",
            lambda p, c: svc.complaint_request_info(actor=p["visitor"], complaint_id=c.pk, question="x"),
        ),
        ("handler", lambda p, c: svc.complaint_reopen(actor=p["handler"], complaint_id=c.pk, reason="x")),
    ],
)
def test_roles_without_the_capability_are_refused(people, billing_case, unchanged, name, call):
    with unchanged(), pytest.raises(PermissionDenied, match="Your role"):
        call(people, billing_case)


def test_roles_that_cannot_register(people, cases, unchanged):
    for name in ["visitor", "inspector", "auditor", "admin"]:
        with unchanged(), pytest.raises(PermissionDenied, match="may not register"):
            cases.register(actor=people[name])


def test_disabled_account_is_refused(people, billing_case, unchanged):
    handler = people["handler"]
    handler.is_active = False
    handler.save()
    with unchanged(), pytest.raises(PermissionDenied, match="disabled"):
        svc.complaint_request_info(actor=handler, complaint_id=billing_case.pk, question="?")


def test_lists_show_exactly_the_cases_in_scope(people, cases, org):
    mine = cases.make(Status.INVESTIGATING)  # agent's, billing, assigned to handler
    other_agent = cases.make(Status.REGISTERED, actor=people["agent_other"], phone="13912345678")
    network = cases.make(Status.ACCEPTED, phone="13912345679")
    svc.complaint_dispatch(
        actor=people["agent"], complaint_id=network.pk, lead_department_id=org["dept"]["network"].pk
    )
    cooperating = cases.make(Status.ACCEPTED, phone="13912345670")
    svc.complaint_dispatch(
        actor=people["agent"],
        complaint_id=cooperating.pk,
        lead_department_id=org["dept"]["legal"].pk,
        cooperating_department_ids=[org["dept"]["network"].pk, org["dept"]["billing"].pk],
    )
    everything = {mine.pk, other_agent.pk, network.pk, cooperating.pk}
    expected = {
        "agent": {mine.pk, network.pk, cooperating.pk},
        "agent_other": {other_agent.pk},
        "handler": {mine.pk, cooperating.pk},
        "handler_other": {network.pk, cooperating.pk},
        "visitor": everything,
        "supervisor": everything,
        "manager": everything,
        "inspector": everything,
        "auditor": set(),
        "admin": set(),
    }
    for name, ids in expected.items():
        listed = list(complaints_visible_to(actor=people[name]).values_list("pk", flat=True))
        assert len(listed) == len(set(listed)), f"{name} sees duplicates"
        assert set(listed) == ids, name
