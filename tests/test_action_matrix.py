"""The role × action matrix (issue 9, "Done when"): every role and every principal without a user
(the portal customer, an API key, the worker) against every case service, on a case in every
status, led by the billing department (so ``handler_other`` of network and ``agent_other`` are
outsiders). ``complaint_available_actions`` is the single answer to "what may this actor do now":
each action it offers succeeds through its service, and each it does not offer is refused by the
service with a typed error and leaves every table as it was."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.utils import timezone

from tests.conftest import snapshot
from tousu.common.errors import TousuError
from tousu.common.origin import WORKER, Origin
from tousu.complaints import services as svc
from tousu.complaints.choices import RemedyStatus
from tousu.complaints.models import Complaint
from tousu.complaints.selectors import ACTION_SLUGS, complaint_available_actions
from tousu.complaints.states import Status

pytestmark = pytest.mark.django_db

PERSONAS = [
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
PRINCIPALS = {"portal": Origin(via="portal", ip="10.1.1.1"), "api": Origin(via="api:crm"), "worker": WORKER}
WEB = Origin(via="web", ip="10.2.2.2")


class _Rollback(Exception):
    pass


def _services(c: Complaint, people: dict[str, Any], org: dict[str, Any]) -> dict[str, Callable[..., Any]]:
    """One call per action, with input the service accepts: only who calls and the state decide."""
    pending = c.remedies.filter(status=RemedyStatus.REQUESTED).first()
    status = Status(c.status)
    return {
        "accept": lambda **a: svc.complaint_accept(**a),
        "reject": lambda **a: svc.complaint_reject(**a, reason="time_barred", explanation="超过受理期限。"),
        "dispatch": lambda **a: svc.complaint_dispatch(**a, lead_department_id=org["dept"]["network"].pk),
        "investigate": lambda **a: svc.complaint_investigate(**a, note="用户已电话补充说明"),
        "request-info": lambda **a: svc.complaint_request_info(**a, question="请提供账单截图"),
        "plan": lambda **a: svc.complaint_propose_plan(
            **a,
            kind="immediate",
            measures="退还错收费用",
            responsible_id=people["handler"].pk,
            deadline=timezone.now() + timedelta(days=2),
        ),
        "remedy": lambda **a: svc.remedy_request(**a, kind="apology", description="致歉"),
        "reply": lambda **a: svc.complaint_reply(
            **a, channel="sms", content="经核查已退费。", first_contact_resolution=status == Status.ACCEPTED
        ),
        "return-visit": lambda **a: svc.return_visit_record(**a, reached=True, resolved=True, satisfaction=5),
        "close": lambda **a: svc.complaint_close(**a, note="已核实"),
        "reopen": lambda **a: svc.complaint_reopen(**a, reason="用户来电反映未解决"),
        "note": lambda **a: svc.complaint_note(**a, text="内部备注"),
        "link-customer": lambda **a: svc.complaint_link_customer(**a, phone="13900001111"),
        "escalate": lambda **a: svc.complaint_escalate(**a, reason="催办"),
        "change-level": lambda **a: svc.complaint_change_level(
            **a, level="very_dissatisfied", reason="用户情绪激动"
        ),
        "reclassify": lambda **a: svc.complaint_reclassify(
            **a, category_id=org["outage"].pk, reason="实为网络问题"
        ),
        "flag-threat": lambda **a: svc.complaint_flag_threat(**a, note="用户称将向工信部投诉"),
        "withdraw": lambda **a: svc.complaint_withdraw(**a, reason="用户撤销"),
        "decide": lambda actor, complaint_id, origin: svc.remedy_decide(
            actor=actor, remedy_id=pending.pk if pending else 0, approve=True, origin=origin
        ),
        "reveal": lambda **a: svc.complaint_reveal(**a, field="phone"),
        "answer": lambda **a: svc.complaint_customer_answer(**a, text="截图已发送"),
    }


@pytest.mark.parametrize("status", list(Status))
def test_every_offered_action_succeeds_and_every_other_is_refused_and_changes_nothing(
    cases, people, org, status
):
    c = cases.make(status)
    calls = _services(c, people, org)
    assert set(calls) == set(ACTION_SLUGS)
    who: list[tuple[str, Any, Origin]] = [(name, people[name], WEB) for name in PERSONAS]
    who += [(name, None, origin) for name, origin in PRINCIPALS.items()]
    disagreements: list[str] = []
    offered_by: dict[str, list[str]] = {}
    for name, actor, origin in who:
        case = Complaint.objects.get(pk=c.pk)
        offered = complaint_available_actions(actor, case, origin=origin)
        offered_by[name] = offered
        for slug in offered:  # each succeeds (then is undone, so the next starts from the same case)
            try:
                with transaction.atomic():
                    calls[slug](actor=actor, complaint_id=c.pk, origin=origin)
                    raise _Rollback
            except _Rollback:
                pass
            except TousuError as exc:
                disagreements.append(f"{status}/{name}: '{slug}' offered but refused: {exc.message}")
        before = snapshot()
        for slug in ACTION_SLUGS:
            if slug in offered:
                continue
            try:
                calls[slug](actor=actor, complaint_id=c.pk, origin=origin)
            except TousuError:
                continue
            disagreements.append(f"{status}/{name}: '{slug}' not offered but the service did it")
            break  # the case changed: the rest of this actor's refusals would test another state
        else:
            assert snapshot() == before, f"{status}/{name}: a refused call changed something"
    assert disagreements == []
    # Nobody outside the case's department or process acts on it, and readers only read.
    assert offered_by["handler_other"] == []
    for reader in ("inspector", "auditor", "admin"):
        assert offered_by[reader] == [], reader
    assert offered_by["agent_other"] == []
