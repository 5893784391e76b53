"""The lifecycle table, exhaustively: every (from, to) pair through the real services.

For each pair a case is walked into ``from`` through the services and then asked to become
``to`` the way a caller would (the generic ``complaint_transition``, or the service that owns the
step). Pairs the table allows succeed; every other pair is refused with ``InvalidTransition`` and
leaves every row as it was.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tousu.common.errors import InvalidTransition
from tousu.complaints import services as svc
from tousu.complaints.states import OPEN, TERMINAL, TMF_STATUS, TRANSITIONS, Status, TmfStatus

pytestmark = pytest.mark.django_db

# Pairs the table allows but whose guard needs a setup the generic attempt does not have.
GUARDED = {
    # Leaving 'awaiting approval' happens by deciding the remedy, never by proposing a new plan.
    (Status.AWAITING_APPROVAL, Status.PLAN_PROPOSED): "decide",
}


def attempt(cases, complaint, src: Status, dst: Status):
    p = cases.p
    actor = p["supervisor"]
    org = cases.org
    if dst == Status.AWAITING_APPROVAL:
        return svc.remedy_request(actor=actor, complaint_id=complaint.pk, kind="compensation", amount="1000")
    if dst == Status.RETURN_VISIT:
        return svc.return_visit_record(
            actor=actor, complaint_id=complaint.pk, reached=True, resolved=True, satisfaction=4
        )
    fields = {
        Status.ACCEPTED: {},
        Status.REJECTED: {"reason": "outside_responsibility", "explanation": "属于第三方服务"},
        Status.DISPATCHED: {"lead_department_id": org["dept"]["network"].pk},
        Status.INVESTIGATING: {"note": "用户已答复"},
        Status.AWAITING_CUSTOMER: {"question": "请配合线路测试"},
        Status.PLAN_PROPOSED: {
            "kind": "coordinated",
            "measures": "协调网络部排查",
            "responsible_id": p["handler"].pk,
            "deadline": timezone.now() + timedelta(days=1),
        },
        Status.REPLIED: {"channel": "phone", "content": "已处理"},
        Status.REOPENED: {"reason": "用户提出新证据"},
        Status.CLOSED: {"note": "结案"},
        Status.WITHDRAWN: {"reason": "用户撤诉"},
        Status.REGISTERED: {},
    }[dst]
    if dst == Status.REPLIED and src == Status.ACCEPTED:
        actor = p["agent"]  # only the first-contact owner answers at first contact
        fields["first_contact_resolution"] = True
    return svc.complaint_transition(actor=actor, complaint_id=complaint.pk, to=dst.value, **fields)


@pytest.mark.parametrize("src", list(Status), ids=lambda s: s.value)
def test_every_pair_follows_the_table(cases, unchanged, src):
    for dst in Status:
        # A fresh case per pair; 'replied' is reached by first-contact resolution so it can close.
        complaint = cases.make(src, fcr=src == Status.REPLIED, phone=f"1391234{list(Status).index(dst):04d}")
        assert complaint.status == src
        allowed = dst in TRANSITIONS[src]
        if allowed and (src, dst) not in GUARDED:
            attempt(cases, complaint, src, dst)
            assert cases.reload(complaint).status == dst, f"{src} → {dst}"
        else:
            with unchanged(), pytest.raises(InvalidTransition):
                attempt(cases, complaint, src, dst)


def test_guarded_pair_is_refused_with_a_reason(cases, unchanged):
    c = cases.make(Status.AWAITING_APPROVAL)
    with unchanged(), pytest.raises(InvalidTransition, match="remedy"):
        attempt(cases, c, Status.AWAITING_APPROVAL, Status.PLAN_PROPOSED)


S = Status
# The lifecycle agreed in the foundation issue, written out once more so a change to the table
# is a deliberate change to this test too.
EXPECTED = {
    S.REGISTERED: {S.ACCEPTED, S.REJECTED, S.WITHDRAWN},
    S.ACCEPTED: {S.DISPATCHED, S.INVESTIGATING, S.REPLIED, S.WITHDRAWN},
    S.DISPATCHED: {S.INVESTIGATING, S.DISPATCHED, S.WITHDRAWN},
    S.INVESTIGATING: {S.AWAITING_CUSTOMER, S.PLAN_PROPOSED, S.DISPATCHED, S.WITHDRAWN},
    S.AWAITING_CUSTOMER: {S.INVESTIGATING, S.WITHDRAWN},
    S.PLAN_PROPOSED: {S.AWAITING_APPROVAL, S.REPLIED, S.INVESTIGATING, S.WITHDRAWN},
    S.AWAITING_APPROVAL: {S.PLAN_PROPOSED, S.WITHDRAWN},
    S.REPLIED: {S.RETURN_VISIT, S.CLOSED, S.WITHDRAWN},
    S.RETURN_VISIT: {S.CLOSED, S.REOPENED, S.WITHDRAWN},
    S.REOPENED: {S.INVESTIGATING, S.DISPATCHED, S.WITHDRAWN},
    S.CLOSED: {S.REOPENED},
    S.REJECTED: set(),
    S.WITHDRAWN: set(),
}


def test_table_is_the_agreed_lifecycle():
    assert {k: set(v) for k, v in TRANSITIONS.items()} == EXPECTED


def test_table_shape():
    # Every status has a row, terminal ones have no way out but a closed case may be reopened.
    assert set(TRANSITIONS) == set(Status)
    assert TRANSITIONS[Status.REJECTED] == frozenset()
    assert TRANSITIONS[Status.WITHDRAWN] == frozenset()
    assert TRANSITIONS[Status.CLOSED] == frozenset({Status.REOPENED})
    assert set(Status) == TERMINAL | OPEN
    # The customer may withdraw from every open state.
    assert all(Status.WITHDRAWN in TRANSITIONS[s] for s in OPEN)
    # Every status is reachable from registration.
    seen, todo = {Status.REGISTERED}, [Status.REGISTERED]
    while todo:
        for nxt in TRANSITIONS[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    assert seen == set(Status)


def test_every_status_maps_to_one_tmf_status():
    assert set(TMF_STATUS) == set(Status)
    assert set(TMF_STATUS.values()) == set(TmfStatus)
    assert TMF_STATUS[Status.AWAITING_CUSTOMER] == TmfStatus.PENDING
    assert TMF_STATUS[Status.AWAITING_APPROVAL] == TmfStatus.HELD
    assert TMF_STATUS[Status.WITHDRAWN] == TmfStatus.CANCELLED


def test_database_refuses_an_unknown_status(cases):
    from django.db import IntegrityError, transaction

    from tousu.complaints.models import Complaint

    c = cases.register()
    with pytest.raises(IntegrityError), transaction.atomic():
        Complaint.objects.filter(pk=c.pk).update(status="lost")
    assert cases.reload(c).status == Status.REGISTERED


def test_generic_transition_names_missing_fields(cases, unchanged):
    from tousu.common.errors import ValidationError

    c = cases.make(Status.REGISTERED)
    with unchanged(), pytest.raises(ValidationError, match="To reject, send the fields it needs") as err:
        svc.complaint_transition(
            actor=cases.p["agent"], complaint_id=c.pk, to="rejected", reason="time_barred"
        )
    assert err.value.fields == {"status": "missing fields"}
    with unchanged(), pytest.raises(ValidationError) as err:
        svc.complaint_transition(actor=cases.p["agent"], complaint_id=c.pk, to="lost")
    assert err.value.fields == {"status": "unknown status"}
    planned = cases.make(Status.PLAN_PROPOSED, phone="13912340000")
    with unchanged(), pytest.raises(ValidationError) as err:
        svc.complaint_transition(actor=cases.p["supervisor"], complaint_id=planned.pk, to="awaiting_approval")
    assert err.value.fields == {"status": "not settable"}
