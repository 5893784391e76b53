"""Each role's home: ``/`` sends each role to its work, the nav shows only what the role can use;
the handler's own and department's cases with exact counts; the return-visit queue in deadline
order and its call screen, whose outcome goes through ``return_visit_record``; the approvals with
"within your limit" / "needs the manager" from the remedies service's own cumulative rule."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.conftest import PHONE
from tousu.common.errors import PermissionDenied
from tousu.complaints import services as svc
from tousu.complaints.events import EventKind
from tousu.complaints.models import Complaint, Remedy, ReturnVisit
from tousu.complaints.services.deadlines import sla_breach
from tousu.complaints.states import Status
from tousu.complaints.worklists import approvals_for, handler_worklist, return_visit_queue
from tousu.sla.defaults import sla_bootstrap

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=SH)  # a Monday
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


def client_for(user) -> Client:
    client = Client(**EN)
    client.force_login(user)
    return client


# --- landing and navigation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "landing"),
    [
        ("handler", "/work/"),
        ("visitor", "/return-visits/"),
        ("supervisor", "/dashboard/"),
        ("manager", "/dashboard/"),
        ("agent", "/queues/mine/"),
        ("inspector", "/quality/"),
        ("auditor", "/admin/"),
        ("admin", "/admin/"),
    ],
)
def test_each_role_lands_on_its_work(people, persona, landing):
    response = client_for(people[persona]).get("/")
    assert response.status_code == 302
    assert response["Location"] == landing


@pytest.mark.parametrize(
    ("persona", "shown", "hidden"),
    [
        ("handler", ["My work", "Approvals", "Inbox"], ["Return visits"]),
        ("visitor", ["Return visits", "Inbox"], ["My work", "Approvals", "Register a complaint"]),
        ("agent", ["Approvals", "Inbox"], ["My work", "Return visits"]),
        ("supervisor", ["Return visits", "Approvals", "Inbox"], ["My work"]),
        ("inspector", ["Inbox"], ["My work", "Return visits", "Approvals", "Register a complaint"]),
    ],
)
def test_the_nav_shows_only_what_the_role_can_use(people, persona, shown, hidden):
    html = client_for(people[persona]).get(reverse("queue", args=["mine"])).content.decode()
    nav = html[html.index('<nav aria-label="Main">') : html.index('<span class="who">')]
    for label in shown:
        assert f">{label}<" in nav, label
    for label in hidden:
        assert f">{label}<" not in nav, label


@pytest.mark.parametrize(
    ("persona", "url"),
    [
        ("agent", "/return-visits/"),
        ("handler", "/return-visits/"),
        ("inspector", "/approvals/"),
        ("visitor", "/approvals/"),
        ("auditor", "/work/"),
    ],
)
def test_a_home_a_role_cannot_use_is_refused(people, persona, url):
    assert client_for(people[persona]).get(url).status_code == 403


# --- the handler --------------------------------------------------------------------------------


def test_the_handler_home_lists_my_cases_and_my_departments_with_exact_counts(cases, people, org):
    handler = people["handler"]
    mine = [cases.make(Status.INVESTIGATING), cases.make(Status.DISPATCHED)]
    unassigned = cases.make(Status.ACCEPTED)
    svc.complaint_dispatch(
        actor=people["agent"], complaint_id=unassigned.pk, lead_department_id=org["dept"]["billing"].pk
    )
    cases.make(Status.CLOSED)  # assigned to the handler once, closed now: on no list
    network = cases.make(Status.ACCEPTED)
    svc.complaint_dispatch(
        actor=people["agent"], complaint_id=network.pk, lead_department_id=org["dept"]["network"].pk
    )
    work = {w.name: w for w in handler_worklist(actor=handler)}
    assert work["mine"].count == 2
    assert work["department"].count == 3
    assert sorted(c.pk for c in work["mine"].cases) == sorted(c.pk for c in mine)
    assert sorted(c.pk for c in work["department"].cases) == sorted([*(c.pk for c in mine), unassigned.pk])
    html = client_for(handler).get("/work/").content.decode()
    assert '<span class="count" data-count="mine">2</span>' in html
    assert '<span class="count" data-count="department">3</span>' in html
    assert f'href="/cases/{network.pk}/"' not in html
    assert html.count('href="/cases/') == 5


# --- the return-visit specialist ------------------------------------------------------------------


@pytest.fixture
def replied(cases, time_machine):
    """Three replied cases whose return-visit clocks (3 days from the reply) fall due in an order
    other than their creation; at T0 + 3 days + 1 hour the first has been missed."""
    sla_bootstrap()
    made = {}
    for name, offset in (("c", timedelta(hours=2)), ("b", timedelta(hours=5)), ("a", timedelta(0))):
        time_machine.move_to(T0 + offset, tick=False)
        made[name] = cases.make(Status.REPLIED)
    time_machine.move_to(T0 + offset, tick=False)
    cases.make(Status.PLAN_PROPOSED)  # not replied yet: not in the queue
    cases.make(Status.RETURN_VISIT)  # visited already: not in the queue
    time_machine.move_to(T0 + timedelta(days=3, hours=1), tick=False)
    assert sla_breach() >= 1
    return made


def test_the_return_visit_queue_is_ordered_by_the_return_visit_deadline(replied, people):
    rows, count = return_visit_queue(actor=people["visitor"])
    assert count == 3
    assert [r.case.pk for r in rows] == [replied["a"].pk, replied["c"].pk, replied["b"].pk]
    assert [r.overdue for r in rows] == [True, False, False]
    assert [r.due_at for r in rows] == [
        T0 + timedelta(days=3),
        T0 + timedelta(days=3, hours=2),
        T0 + timedelta(days=3, hours=5),
    ]
    # Paging walks the missed ones, then the running ones, without repeating any.
    first, _ = return_visit_queue(actor=people["visitor"], offset=0, limit=2)
    second, _ = return_visit_queue(actor=people["visitor"], offset=2, limit=2)
    assert [r.case.pk for r in first + second] == [replied["a"].pk, replied["c"].pk, replied["b"].pk]
    html = client_for(people["visitor"]).get("/return-visits/").content.decode()
    positions = [html.index(f'href="/return-visits/{replied[k].pk}/"') for k in ("a", "c", "b")]
    assert positions == sorted(positions)
    assert html.count("badge crisis") == 1  # "Overdue" on the missed one only


def test_the_call_screen_quotes_the_case(replied, people):
    case = replied["c"]
    html = client_for(people["visitor"]).get(f"/return-visits/{case.pk}/").content.decode()
    assert case.ticket_no in html
    assert "经核查已退还30元。" in html  # the reply
    assert "退还错收的30元彩铃费并取消业务" in html  # the plan
    assert "用户反映3月账单被收取30元彩铃费用，从未订购。" in html  # the complaint
    assert "张*" in html
    assert PHONE not in html
    assert 'name="reached"' in html
    assert 'name="satisfaction"' in html


def test_a_satisfied_outcome_goes_through_the_return_visit_service(replied, people):
    case = replied["c"]
    client = client_for(people["visitor"])
    response = client.post(
        f"/return-visits/{case.pk}/",
        {
            "version": case.version,
            "reached": "yes",
            "resolved": "yes",
            "satisfaction": "4",
            "comment": "满意",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/return-visits/"
    visit = ReturnVisit.objects.get(complaint=case)
    assert (visit.reached, visit.resolved, visit.satisfaction, visit.comment, visit.visited_by) == (
        True,
        True,
        4,
        "满意",
        people["visitor"],
    )
    fresh = Complaint.objects.get(pk=case.pk)
    assert fresh.status == Status.RETURN_VISIT
    event = fresh.events.get(kind=EventKind.RETURN_VISIT)
    assert (event.actor, event.via) == (people["visitor"], "web")
    rows, count = return_visit_queue(actor=people["visitor"])
    assert count == 2
    assert case.pk not in [r.case.pk for r in rows]
    page = client.get("/return-visits/").content.decode()
    assert f"{case.ticket_no} · Return visit recorded: the customer is satisfied." in page


def test_an_unreached_customer_keeps_the_case_waiting(replied, people):
    case = replied["a"]
    response = client_for(people["visitor"]).post(
        f"/return-visits/{case.pk}/",
        {
            "version": case.version,
            "reached": "no",
            "resolved": "yes",
            "satisfaction": "5",
            "comment": "无人接听",
        },
    )
    assert response.status_code == 302
    visit = ReturnVisit.objects.get(complaint=case)
    assert (visit.reached, visit.resolved, visit.satisfaction, visit.comment) == (
        False,
        None,
        None,
        "无人接听",
    )
    assert Complaint.objects.get(pk=case.pk).status == Status.REPLIED
    rows, _ = return_visit_queue(actor=people["visitor"])
    assert rows[0].case.pk == case.pk  # still first: its deadline has not moved


def test_a_dissatisfied_customer_reopens_and_escalates_the_case(replied, people):
    case = replied["b"]
    client_for(people["visitor"]).post(
        f"/return-visits/{case.pk}/",
        {
            "version": case.version,
            "reached": "yes",
            "resolved": "no",
            "satisfaction": "2",
            "comment": "仍扣费",
        },
    )
    fresh = Complaint.objects.get(pk=case.pk)
    assert (fresh.status, fresh.escalation_level, fresh.reopen_count) == (Status.REOPENED, 1, 1)


def test_a_reached_customer_without_an_outcome_is_asked_for_it(replied, people):
    case = replied["b"]
    client = client_for(people["visitor"])
    response = client.post(f"/return-visits/{case.pk}/", {"version": case.version, "reached": "yes"})
    assert response.status_code == 400
    assert "Say whether the problem is resolved." in response.content.decode()
    fresh = Complaint.objects.get(pk=case.pk)
    assert (fresh.status, fresh.version, fresh.events.count()) == (
        Status.REPLIED,
        case.version,
        case.events.count(),
    )
    assert ReturnVisit.objects.filter(complaint=case).count() == 0


def test_a_stale_form_or_a_case_already_visited_changes_nothing(replied, people, unchanged):
    case = replied["b"]
    client = client_for(people["visitor"])
    stale = {"version": case.version - 1, "reached": "yes", "resolved": "yes", "satisfaction": "5"}
    with unchanged():
        response = client.post(f"/return-visits/{case.pk}/", stale)
    assert response.status_code == 302
    assert ReturnVisit.objects.filter(complaint=case).count() == 0


def test_the_return_visit_form_is_refused_to_other_roles(replied, people, unchanged):
    case = replied["b"]
    data = {"version": case.version, "reached": "yes", "resolved": "yes", "satisfaction": "5"}
    for persona in ("handler", "agent", "inspector"):
        client = client_for(people[persona])
        with unchanged():
            assert client.post(f"/return-visits/{case.pk}/", data).status_code == 403
    with pytest.raises(PermissionDenied):
        return_visit_queue(actor=people["handler"])


# --- the approver --------------------------------------------------------------------------------


@pytest.fixture
def waiting(cases, people):
    """Remedies the billing handler asked for above their 50 元 limit: 300 元 and 800 元 on two
    cases; on a third, 250 元 after 300 元 already approved there (550 元 together)."""
    handler, supervisor = people["handler"], people["supervisor"]
    made = {}
    for name, amount in (("r300", "300"), ("r800", "800")):
        case = cases.make(Status.PLAN_PROPOSED)
        made[name] = svc.remedy_request(
            actor=handler, complaint_id=case.pk, kind="compensation", amount=amount
        )
    case = cases.make(Status.PLAN_PROPOSED)
    first = svc.remedy_request(actor=handler, complaint_id=case.pk, kind="compensation", amount="300")
    svc.remedy_decide(actor=supervisor, remedy_id=first.pk, approve=True, note="同意")
    made["r250"] = svc.remedy_request(actor=handler, complaint_id=case.pk, kind="refund", amount="250")
    return made


def labels(actor) -> dict[int, tuple[Decimal, Decimal, bool]]:
    return {
        row.remedy.pk: (row.remedy.amount, row.exposure, row.within_limit)
        for row in approvals_for(actor=actor)
    }


def test_the_approvals_say_within_the_limit_or_needs_the_manager(waiting, people):
    r300, r800, r250 = waiting["r300"].pk, waiting["r800"].pk, waiting["r250"].pk
    assert labels(people["supervisor"]) == {
        r300: (Decimal("300.00"), Decimal("300.00"), True),
        r800: (Decimal("800.00"), Decimal("800.00"), False),
        r250: (Decimal("250.00"), Decimal("550.00"), False),  # the case's total counts
    }
    assert labels(people["manager"]) == {
        r300: (Decimal("300.00"), Decimal("300.00"), True),
        r800: (Decimal("800.00"), Decimal("800.00"), True),
        r250: (Decimal("250.00"), Decimal("550.00"), True),
    }
    assert labels(people["handler"]) == {}  # their own requests
    assert labels(people["handler_other"]) == {}  # another department's cases
    html = client_for(people["supervisor"]).get("/approvals/").content.decode()
    assert html.count("Within your limit") == 1
    assert html.count("Needs the manager") == 2
    assert html.count('value="approve"') == 1


def test_the_labels_agree_with_the_remedy_service(waiting, people):
    from tousu.complaints.services.remedies import remedy_within_authority

    for persona in ("supervisor", "manager", "agent"):
        actor = people[persona]
        for row in approvals_for(actor=actor):
            assert row.within_limit == remedy_within_authority(actor, row.case)


def test_approving_within_the_limit_from_the_list(waiting, people):
    client = client_for(people["supervisor"])
    response = client.post(
        f"/approvals/{waiting['r300'].pk}/decide/", {"decision": "approve", "note": "同意"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/approvals/"
    remedy = Remedy.objects.get(pk=waiting["r300"].pk)
    assert (remedy.status, remedy.decided_by, remedy.decision_note) == (
        "approved",
        people["supervisor"],
        "同意",
    )
    assert Complaint.objects.get(pk=remedy.complaint_id).status == Status.PLAN_PROPOSED
    assert waiting["r300"].pk not in labels(people["supervisor"])


def test_approving_above_the_limit_is_refused_and_changes_nothing(waiting, people, unchanged):
    client = client_for(people["supervisor"])
    for name in ("r800", "r250"):
        with unchanged():
            response = client.post(f"/approvals/{waiting[name].pk}/decide/", {"decision": "approve"})
        assert response.status_code == 302
        page = client.get("/approvals/").content.decode()
        assert "above your approval limit" in page
    # The manager may.
    client_for(people["manager"]).post(f"/approvals/{waiting['r800'].pk}/decide/", {"decision": "approve"})
    assert Remedy.objects.get(pk=waiting["r800"].pk).status == "approved"


def test_deciding_ones_own_request_or_out_of_scope_changes_nothing(waiting, people, unchanged):
    for persona in ("handler", "handler_other", "visitor"):
        client = client_for(people[persona])
        with unchanged():
            response = client.post(f"/approvals/{waiting['r300'].pk}/decide/", {"decision": "approve"})
        assert response.status_code == 302


def test_the_approvals_page_costs_the_same_queries_however_many_requests(waiting, people, cases):
    client = client_for(people["supervisor"])
    client.get("/approvals/")
    with CaptureQueriesContext(connection) as before:
        assert client.get("/approvals/").status_code == 200
    for amount in ("120", "140"):
        case = cases.make(Status.PLAN_PROPOSED)
        svc.remedy_request(actor=people["handler"], complaint_id=case.pk, kind="compensation", amount=amount)
    assert len(approvals_for(actor=people["supervisor"])) == 5
    with CaptureQueriesContext(connection) as after:
        assert client.get("/approvals/").status_code == 200
    assert len(after.captured_queries) == len(before.captured_queries)


def test_the_return_visit_queue_costs_the_same_queries_however_many_cases(replied, people, cases):
    client = client_for(people["visitor"])
    client.get("/return-visits/")
    with CaptureQueriesContext(connection) as before:
        assert client.get("/return-visits/").status_code == 200
    cases.make(Status.REPLIED)
    cases.make(Status.REPLIED)
    assert return_visit_queue(actor=people["visitor"])[1] == 5
    with CaptureQueriesContext(connection) as after:
        assert client.get("/return-visits/").status_code == 200
    assert len(after.captured_queries) == len(before.captured_queries)
