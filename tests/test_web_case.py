"""The case page: what it shows, which actions it offers to whom, and what each action does.

Every action goes through its service; a refused action changes nothing (at most the log of the
page being shown again), and a case outside the user's scope is a 403 page, never data.
"""

from __future__ import annotations

import io
import re
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from tests.conftest import PHONE, snapshot
from tousu.audit.models import AuditEvent
from tousu.common.errors import InvalidTransition, ValidationError
from tousu.complaints import services as svc
from tousu.complaints.models import Attachment, Complaint, ComplaintEvent, Remedy, ResolutionPlan
from tousu.complaints.states import Status
from tousu.customers.services import customer_blacklist
from tousu.sla.defaults import sla_bootstrap
from tousu.sla.models import SlaClock
from tousu.web.views.case import ACTIONS

pytestmark = pytest.mark.django_db

SCRIPT = "<script>alert(1)</script>"
ACTION_URL = re.compile(r'action="/cases/\d+/do/([a-z-]+)/"')


@pytest.fixture(autouse=True)
def _keep_active_language():
    """Requests through LocaleMiddleware activate a language for the thread; put the old one back."""
    with translation.override(translation.get_language()):
        yield


@pytest.fixture
def web(client):
    """The test client, asking for English pages."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def unchanged_but_shown():
    """Like ``unchanged``, for refusals that show the page again: nothing moved except one new
    log line saying that ``actor`` read the case's personal data (the page was shown)."""

    @contextmanager
    def check(actor):
        before = snapshot()
        yield
        after = snapshot()
        old_log, new_log = before.pop("audit.AuditEvent"), after.pop("audit.AuditEvent")
        assert after == before
        assert new_log[: len(old_log)] == old_log
        assert [(row["kind"], row["actor"]) for row in new_log[len(old_log) :]] == [
            ("personal_data.read", actor.pk)
        ]

    return check


def page_url(c: Complaint) -> str:
    return f"/cases/{c.pk}/"


def post(web, c: Complaint, action: str, fields: dict | None = None, *, version: int | None = None, **extra):
    """Submit one action form of the case page as the browser would (fields carry the action prefix)."""
    data = {f"{action}-{name}": value for name, value in (fields or {}).items()}
    if action not in ("note", "decide"):
        data[f"{action}-version"] = version if version is not None else Complaint.objects.get(pk=c.pk).version
    return web.post(f"/cases/{c.pk}/do/{action}/", data, **extra)


def offered(html: str) -> set[str]:
    return set(ACTION_URL.findall(html))


def form_html(html: str, form_id: str) -> str:
    match = re.search(rf'<form [^>]*id="{form_id}".*?</form>', html, re.S)
    assert match, f"no form {form_id}"
    return match.group(0)


def last_event(c: Complaint) -> ComplaintEvent:
    return ComplaintEvent.objects.filter(complaint_id=c.pk).order_by("-id").first()


def reload(c: Complaint) -> Complaint:
    return Complaint.objects.get(pk=c.pk)


def assert_redirected_with(web, response, c: Complaint, message: str) -> None:
    assert (response.status_code, response["Location"]) == (302, page_url(c))
    html = web.get(page_url(c)).content.decode()
    assert f'<div class="alert alert-success" role="status">{message}</div>' in html


def awaiting_approval_of(cases, people, amount: str) -> tuple[Complaint, Remedy]:
    c = cases.make(Status.PLAN_PROPOSED)
    remedy = svc.remedy_request(
        actor=people["handler"], complaint_id=c.pk, kind="compensation", amount=amount
    )
    return reload(c), remedy


# --- what the page shows ------------------------------------------------------------------------


def test_the_page_shows_the_case_facts_and_logs_the_read(web, cases, people):
    c = cases.make(Status.INVESTIGATING, service_number="13900001111")
    web.force_login(people["handler"])
    response = web.get(page_url(c), REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 200
    assert response.templates[0].name == "web/case/page.html"
    html = response.content.decode()
    assert f"<h1>Case {c.ticket_no}" in html
    for fact in [
        f"<dt>Ticket number</dt><dd>{c.ticket_no}</dd>",
        "<dt>Status</dt><dd>Investigating</dd>",
        "<dt>Level</dt><dd>Dissatisfied</dd>",
        "<dt>Escalation level</dt><dd>Not escalated</dd>",
        "<dt>Channel</dt><dd>Hotline</dd>",
        "<dt>Category</dt><dd>资费类 › 错收</dd>",
        "<dt>Lead department</dt><dd>计费结算部</dd>",
        "<dt>Cooperating departments</dt><dd>—</dd>",
        "<dt>Assignee</dt><dd>handler</dd>",
        "<dt>First-contact owner</dt><dd>agent</dd>",
    ]:
        assert fact in html
    assert list(AuditEvent.objects.values_list("kind", "actor__username", "complaint_id", "via", "ip")) == [
        ("personal_data.read", "handler", c.pk, "web", "10.1.2.3")
    ]


def test_the_page_and_the_timeline_are_masked(web, cases, people):
    c = cases.make(Status.INVESTIGATING, service_number="13900001111", email="zhangsan@example.com")
    svc.complaint_note(actor=people["handler"], complaint_id=c.pk, text="已电话联系用户")
    web.force_login(people["handler"])
    html = web.get(page_url(c)).content.decode()
    assert '<span class="pii" id="pii-phone">138****8000' in html
    assert '<span class="pii" id="pii-name">张*' in html
    assert '<span class="pii" id="pii-email">z***@example.com' in html
    assert '<span class="pii" id="pii-service_number">139****1111' in html
    for clear in (PHONE, "13900001111", "zhangsan@", "张三"):
        assert clear not in html


def test_text_from_users_is_shown_escaped(web, cases, people):
    c = cases.make(Status.INVESTIGATING, description=f"账单有误{SCRIPT}")
    svc.complaint_note(actor=people["handler"], complaint_id=c.pk, text=f"备注{SCRIPT}")
    web.force_login(people["handler"])
    html = web.get(page_url(c)).content.decode()
    assert SCRIPT not in html
    assert '<p class="case-text">账单有误&lt;script&gt;alert(1)&lt;/script&gt;</p>' in html
    assert "<dt>Note</dt><dd>备注&lt;script&gt;alert(1)&lt;/script&gt;</dd>" in html


def test_the_timeline_reads_each_event_with_actor_kind_and_details(web, cases, people):
    c = cases.make(Status.REOPENED)  # dispatched, plan, reply, dissatisfied return visit, escalation
    web.force_login(people["supervisor"])
    html = web.get(page_url(c)).content.decode()
    kinds = re.findall(r'<li class="event kind-([a-z_]+)">', html)
    assert kinds == [
        "registered",
        "accepted",
        "dispatched",
        "status_changed",
        "plan_proposed",
        "replied",
        "return_visit",
        "reopened",
        "escalated",
    ]
    plan = ResolutionPlan.objects.get(complaint=c)
    deadline = f"{timezone.localtime(plan.deadline):%Y-%m-%d %H:%M}"
    assert (
        "<dt>Kind</dt><dd>Fixed at once</dd><dt>Measures</dt><dd>退还错收的30元彩铃费并取消业务</dd>"
        f"<dt>Responsible person</dt><dd>handler</dd><dt>Deadline</dt><dd>{deadline}</dd>"
    ) in html
    assert "<dt>Channel</dt><dd>SMS</dd><dt>Reply</dt><dd>经核查已退还30元。</dd>" in html
    assert (
        "<dt>Customer reached</dt><dd>yes</dd><dt>Problem resolved</dt><dd>no</dd>"
        "<dt>Satisfaction (1–5)</dt><dd>2</dd><dt>Satisfied</dt><dd>no</dd><dt>Comment</dt><dd>仍有扣费</dd>"
    ) in html
    assert (
        "<dt>Reason</dt><dd>仍有扣费</dd><dt>From</dt><dd>Not escalated</dd><dt>To</dt><dd>Supervisor</dd>"
        "<dt>Because of</dt><dd>dissatisfied at the return visit</dd>"
    ) in html
    assert (
        '<strong>Replied to the customer</strong> <span class="muted">Plan proposed → Replied</span>' in html
    )
    assert '<span class="muted">· visitor</span>' in html


def test_the_timeline_can_be_read_newest_first(web, cases, people):
    c = cases.make(Status.DISPATCHED)
    web.force_login(people["handler"])
    html = web.get(page_url(c) + "?order=newest").content.decode()
    assert re.findall(r'<li class="event kind-([a-z_]+)">', html) == ["dispatched", "accepted", "registered"]
    assert f'<a href="/cases/{c.pk}/?order=oldest#timeline">oldest first</a>' in html


def test_the_customer_card_warns_of_a_blacklisted_caller_and_lists_cases_in_scope(
    web, cases, people, time_machine
):
    time_machine.move_to("2026-03-01 10:00:00+08:00", tick=False)
    old = cases.make(Status.CLOSED, fcr=True)  # long ago: still part of the whole history
    time_machine.move_to("2026-06-01 10:00:00+08:00", tick=False)
    recent_closed = cases.make(Status.CLOSED, fcr=True)
    other_agents = cases.make(Status.REGISTERED, actor=people["agent_other"])
    open_case = cases.make(Status.ACCEPTED)
    c = cases.make(Status.ACCEPTED)
    customer_blacklist(
        actor=people["supervisor"], customer_id=c.customer_id, blacklisted=True, reason="辱骂坐席"
    )
    web.force_login(people["agent"])
    html = web.get(page_url(c)).content.decode()
    assert '<p class="alert alert-warning">Blacklisted caller: 辱骂坐席</p>' in html
    history = re.search(
        r'<div class="history" id="customer-history">.*?</div>\s*</section>', html, re.S
    ).group(0)
    linked = re.findall(r'<td><a href="/cases/(\d+)/">', history)
    # every case of the customer in scope, newest first (this one marked, not linked); another
    # agent's case is not in scope
    assert linked == [str(open_case.pk), str(recent_closed.pk), str(old.pk)]
    assert f"<strong>{c}</strong>" in history
    assert str(other_agents.pk) not in linked
    assert '<dd id="history-cases">4</dd>' in history
    assert '<dd id="history-open">2</dd>' in history


def test_the_customer_history_totals_compensation_and_satisfaction(web, cases, people):
    visited = cases.make(Status.CLOSED)  # return visit: satisfied, 5
    reopened = cases.make(Status.REOPENED)  # return visit: not satisfied, 2
    paid = cases.make(Status.PLAN_PROPOSED)
    remedy = svc.remedy_request(
        actor=people["handler"], complaint_id=paid.pk, kind="compensation", amount="300"
    )
    svc.remedy_decide(actor=people["supervisor"], remedy_id=remedy.pk, approve=True)
    refused = svc.remedy_request(actor=people["handler"], complaint_id=paid.pk, kind="refund", amount="20")
    svc.remedy_decide(actor=people["supervisor"], remedy_id=refused.pk, approve=False, note="不符合退费条件")
    svc.remedy_request(actor=people["handler"], complaint_id=paid.pk, kind="apology", amount="0")
    web.force_login(people["supervisor"])
    html = web.get(page_url(paid)).content.decode()
    assert '<dd id="history-cases">3</dd>' in html
    assert '<dd id="history-granted">300.00 元</dd>' in html
    assert re.search(
        r'<dd id="history-satisfaction">3.5 / 5 <span class="muted">\(2 return visits\)</span>', html
    )
    rows = re.findall(
        r'<tr(?: class="this-case")?>\s*<td>.*?</td>\s*<td>.*?</td>\s*<td>([^<]*)</td>\s*<td>([^<]*)</td>',
        html,
        re.S,
    )
    assert rows == [("300.00 元", "—"), ("—", "2"), ("—", "5")]  # paid, reopened, visited: newest first
    assert (visited.status, reopened.status) == (Status.CLOSED, Status.REOPENED)


def test_the_clocks_show_state_due_time_and_remaining_time(web, cases, people, time_machine):
    time_machine.move_to("2026-06-01 10:00:00+08:00", tick=False)
    sla_bootstrap()
    c = cases.make(Status.INVESTIGATING)
    web.force_login(people["handler"])
    html = web.get(page_url(c)).content.decode()
    assert f'hx-get="/cases/{c.pk}/clocks/" hx-trigger="every 60s" hx-swap="outerHTML"' in html
    rows = re.findall(
        r'<tr class="clock clock-(\w+)" title="([^"]*)">\s*<td>([^<]*)</td>.*?<span class="badge[^"]*">(\w+)</span></td>\s*'
        r"<td>([^<]*)</td>\s*<td>(?:<span class=\"remaining ([\w-]*)\">([^<]*)</span>|—)",
        html,
        re.S,
    )
    assert [(r[0], r[2], r[3], r[4], r[5], r[6]) for r in rows] == [
        ("met", "First response", "Met", "2026-06-01 10:30", "", ""),
        ("running", "Reply to the customer", "Running", "2026-06-16 10:00", "", "15d 0h 00min"),
        ("running", "Second response", "Running", "2026-06-02 10:00", "", "1d 0h 00min"),
    ]
    assert rows[2][1].startswith("Started 2026-06-01 10:00; limit 1d 0min counted in “24×7”")

    time_machine.move_to("2026-06-02 11:30:00+08:00", tick=False)
    web.force_login(people["handler"])  # a working day's session has expired meanwhile
    response = web.get(f"/cases/{c.pk}/clocks/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    fragment = response.content.decode()
    assert fragment.startswith('<section class="card clocks" id="case-clocks"')
    assert '<span class="remaining overdue">overdue 1h 30min</span>' in fragment
    assert '<span class="remaining ">13d 22h 30min</span>' in fragment
    assert AuditEvent.objects.filter(kind="personal_data.read").count() == 1  # the page, not the refresh


def test_request_info_pauses_the_clocks(web, cases, people):
    sla_bootstrap()
    c = cases.make(Status.INVESTIGATING)
    web.force_login(people["handler"])
    response = post(web, c, "request-info", {"question": "请提供账单截图"})
    assert_redirected_with(
        web, response, c, f"Case {c.ticket_no} waits for the customer; its clocks are paused."
    )
    assert reload(c).status == Status.AWAITING_CUSTOMER
    event = last_event(c)
    assert (event.kind, event.actor, event.payload) == (
        "info_requested",
        people["handler"],
        {"question": "请提供账单截图"},
    )
    assert sorted(SlaClock.objects.filter(complaint=c).values_list("kind", "state")) == [
        ("first_response", "met"),
        ("reply", "paused"),
        ("second_response", "paused"),
    ]


# --- which actions are offered -------------------------------------------------------------------

ALWAYS_OPEN = {"note", "escalate", "change-level", "reclassify", "flag-threat", "withdraw"}


@pytest.mark.parametrize(
    ("status", "persona", "expected"),
    [
        (Status.REGISTERED, "agent", {"accept", "reject"} | ALWAYS_OPEN),
        (Status.ACCEPTED, "agent", {"dispatch", "investigate", "remedy", "reply"} | ALWAYS_OPEN),
        (Status.ACCEPTED, "supervisor", {"dispatch", "investigate", "remedy"} | ALWAYS_OPEN),
        (Status.DISPATCHED, "handler", {"dispatch", "investigate"} | ALWAYS_OPEN),
        (Status.INVESTIGATING, "handler", {"dispatch", "request-info", "plan", "remedy"} | ALWAYS_OPEN),
        (Status.AWAITING_CUSTOMER, "handler", {"investigate"} | ALWAYS_OPEN),
        (Status.PLAN_PROPOSED, "handler", {"investigate", "remedy", "reply"} | ALWAYS_OPEN),
        (Status.REPLIED, "visitor", {"return-visit", "note", "escalate", "flag-threat"}),
        (Status.RETURN_VISIT, "visitor", {"close", "reopen", "note", "escalate", "flag-threat"}),
        (Status.REOPENED, "handler", {"dispatch", "investigate"} | ALWAYS_OPEN),
        (Status.CLOSED, "supervisor", {"reopen", "note"}),
        (Status.CLOSED, "visitor", {"note"}),
        (Status.REJECTED, "agent", {"note"}),
        (Status.INVESTIGATING, "inspector", set()),
    ],
)
def test_the_page_offers_exactly_the_actions_allowed_now(web, cases, people, status, persona, expected):
    c = cases.make(status)
    web.force_login(people[persona])
    response = web.get(page_url(c))
    assert response.status_code == 200
    assert offered(response.content.decode()) == expected


def test_a_first_contact_resolution_is_offered_to_the_first_contact_owner(web, cases, people):
    c = cases.make(Status.ACCEPTED)
    web.force_login(people["agent"])
    html = web.get(page_url(c)).content.decode()
    assert (
        '<input type="checkbox" name="reply-first_contact_resolution" id="id_reply-first_contact_resolution" checked>'
        in form_html(html, "form-reply")
    )


def test_a_replied_first_contact_resolution_can_be_closed_at_once(web, cases, people):
    c = cases.make(Status.REPLIED, fcr=True)
    web.force_login(people["agent"])
    assert offered(web.get(page_url(c)).content.decode()) == {"close"} | ALWAYS_OPEN


def test_a_supervisor_sees_approve_on_a_remedy_within_their_limit_and_the_handler_does_not(
    web, cases, people
):
    c, remedy = awaiting_approval_of(cases, people, "300")
    web.force_login(people["supervisor"])
    html = web.get(page_url(c)).content.decode()
    assert offered(html) == {"decide"} | ALWAYS_OPEN
    decide = form_html(html, f"form-decide-{remedy.pk}")
    assert '<strong>Compensation 300.00 元</strong> <span class="muted">requested by handler</span>' in decide
    assert (
        f'<input type="hidden" name="decide-remedy" value="{remedy.pk}" id="id_remedy{remedy.pk}_decide-remedy">'
        in decide
    )
    assert '<button type="submit" name="decide-decision" value="approve">Approve</button>' in decide

    web.force_login(people["handler"])
    html = web.get(page_url(c)).content.decode()
    assert offered(html) == ALWAYS_OPEN
    assert "form-decide" not in html


def test_nobody_is_offered_a_remedy_above_their_limit(web, cases, people):
    c, _remedy = awaiting_approval_of(cases, people, "800")
    web.force_login(people["supervisor"])  # limit 500
    assert "decide" not in offered(web.get(page_url(c)).content.decode())
    web.force_login(people["manager"])  # no limit
    assert "decide" in offered(web.get(page_url(c)).content.decode())


# --- each action calls its service ---------------------------------------------------------------


def test_accept(web, cases, people):
    c = cases.make(Status.REGISTERED)
    web.force_login(people["agent"])
    response = post(web, c, "accept")
    c = reload(c)
    assert_redirected_with(web, response, c, f"Case accepted; ticket number {c.ticket_no}.")
    assert c.status == Status.ACCEPTED
    assert re.fullmatch(r"TS\d{14}", c.ticket_no)
    event = last_event(c)
    assert (event.kind, event.actor, event.from_status, event.to_status) == (
        "accepted",
        people["agent"],
        "registered",
        "accepted",
    )


def test_reject(web, cases, people):
    c = cases.make(Status.REGISTERED)
    web.force_login(people["agent"])
    response = post(
        web, c, "reject", {"reason": "time_barred", "explanation": "超过5个月的账单争议不予受理。"}
    )
    c = reload(c)
    assert_redirected_with(web, response, c, f"Case {c.ticket_no} not accepted; the customer is told why.")
    assert (c.status, c.rejection_reason, c.rejection_explanation) == (
        "rejected",
        "time_barred",
        "超过5个月的账单争议不予受理。",
    )
    assert last_event(c).kind == "rejected"


def test_dispatch(web, cases, people, org):
    c = cases.make(Status.ACCEPTED)
    web.force_login(people["agent"])
    response = post(
        web,
        c,
        "dispatch",
        {
            "lead_department": org["dept"]["billing"].pk,
            "cooperating_departments": [org["dept"]["network"].pk],
            "assignee": people["handler"].pk,
            "note": "请核查彩铃订购记录",
        },
    )
    assert_redirected_with(web, response, c, f"Case {c.ticket_no} dispatched.")
    c = reload(c)
    assert (c.status, c.lead_department, c.assignee) == (
        "dispatched",
        org["dept"]["billing"],
        people["handler"],
    )
    assert list(c.cooperating_departments.all()) == [org["dept"]["network"]]
    event = last_event(c)
    assert (event.kind, event.payload) == (
        "dispatched",
        {
            "lead_department": "billing",
            "previous_lead_department_id": None,
            "cooperating_departments": ["network"],
            "assignee": "handler",
            "note": "请核查彩铃订购记录",
        },
    )


def test_investigate(web, cases, people):
    c = cases.make(Status.DISPATCHED)
    web.force_login(people["handler"])
    response = post(web, c, "investigate", {"note": ""})
    assert_redirected_with(web, response, c, f"Case {c.ticket_no} is being investigated.")
    assert reload(c).status == Status.INVESTIGATING
    event = last_event(c)
    assert (event.kind, event.from_status, event.to_status, event.payload) == (
        "status_changed",
        "dispatched",
        "investigating",
        {},
    )


def test_resume_with_the_customers_answer(web, cases, people):
    c = cases.make(Status.AWAITING_CUSTOMER)
    web.force_login(people["handler"])
    html = web.get(page_url(c)).content.decode()
    assert '<label for="id_investigate-note">The customer&#x27;s answer:</label>' in html
    assert (
        'data-open-action="investigate" aria-controls="action-investigate" aria-expanded="false">Resume: the customer answered</a>'
        in html
    )
    response = post(web, c, "investigate", {"note": "用户已提供截图"})
    assert_redirected_with(web, response, c, f"Case {c.ticket_no} is being investigated.")
    assert reload(c).status == Status.INVESTIGATING
    event = last_event(c)
    assert (event.kind, event.payload) == ("info_received", {"note": "用户已提供截图"})


def test_internal_note(web, cases, people):
    c = cases.make(Status.INVESTIGATING)
    web.force_login(people["handler"])
    response = post(web, c, "note", {"text": "已调取通话录音"})
    assert_redirected_with(web, response, c, "Note added.")
    assert reload(c).version == c.version  # a note changes nothing on the case itself
    event = last_event(c)
    assert (event.kind, event.actor, event.payload) == (
        "note_added",
        people["handler"],
        {"text": "已调取通话录音"},
    )


def test_resolution_plan(web, cases, people):
    c = cases.make(Status.INVESTIGATING)
    web.force_login(people["handler"])
    day = timezone.localdate() + timedelta(days=30)
    response = post(
        web,
        c,
        "plan",
        {
            "kind": "coordinated",
            "measures": "协调网络部复核计费",
            "responsible": people["handler"].pk,
            "deadline": f"{day:%Y-%m-%d}T10:00",  # within a year: a plan is a near promise
        },
    )
    assert_redirected_with(web, response, c, f"Resolution plan recorded for case {c.ticket_no}.")
    assert reload(c).status == Status.PLAN_PROPOSED
    plan = ResolutionPlan.objects.get(complaint=c)
    assert (plan.kind, plan.measures, plan.responsible, plan.deadline, plan.proposed_by) == (
        "coordinated",
        "协调网络部复核计费",
        people["handler"],
        datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC),  # 10:00 in Asia/Shanghai
        people["handler"],
    )
    assert last_event(c).kind == "plan_proposed"


def test_remedy_above_the_requesters_limit_waits_for_approval(web, cases, people):
    c = cases.make(Status.PLAN_PROPOSED)
    web.force_login(people["handler"])
    response = post(web, c, "remedy", {"kind": "compensation", "amount": "300", "description": "话费补偿"})
    assert_redirected_with(web, response, c, "Remedy requested; it waits for approval.")
    assert reload(c).status == Status.AWAITING_APPROVAL
    remedy = Remedy.objects.get(complaint=c)
    assert (remedy.kind, remedy.amount, remedy.status, remedy.requested_by, remedy.description) == (
        "compensation",
        Decimal("300.00"),
        "requested",
        people["handler"],
        "话费补偿",
    )
    assert last_event(c).kind == "remedy_requested"


def test_remedy_within_the_requesters_limit_is_approved_at_once(web, cases, people):
    c = cases.make(Status.PLAN_PROPOSED)
    web.force_login(people["handler"])
    response = post(web, c, "remedy", {"kind": "apology", "amount": "0", "description": "书面致歉"})
    assert_redirected_with(web, response, c, "Remedy recorded (within your own limit).")
    assert reload(c).status == Status.PLAN_PROPOSED
    assert list(Remedy.objects.values_list("kind", "status", "decided_by__username")) == [
        ("apology", "approved", "handler")
    ]


def test_approve_a_remedy(web, cases, people):
    c, remedy = awaiting_approval_of(cases, people, "300")
    web.force_login(people["supervisor"])
    response = post(web, c, "decide", {"remedy": remedy.pk, "decision": "approve", "note": ""})
    assert_redirected_with(web, response, c, "Remedy approved.")
    remedy.refresh_from_db()
    assert (remedy.status, remedy.decided_by) == ("approved", people["supervisor"])
    assert reload(c).status == Status.PLAN_PROPOSED
    event = last_event(c)
    assert (event.kind, event.from_status, event.to_status) == (
        "remedy_approved",
        "awaiting_approval",
        "plan_proposed",
    )


def test_refuse_a_remedy(web, cases, people):
    c, remedy = awaiting_approval_of(cases, people, "300")
    web.force_login(people["supervisor"])
    response = post(web, c, "decide", {"remedy": remedy.pk, "decision": "refuse", "note": "不符合补偿标准"})
    assert_redirected_with(web, response, c, "Remedy refused.")
    remedy.refresh_from_db()
    assert (remedy.status, remedy.decision_note) == ("refused", "不符合补偿标准")
    assert last_event(c).kind == "remedy_refused"


def test_the_requester_cannot_decide_their_own_remedy(web, cases, people, unchanged):
    c, remedy = awaiting_approval_of(cases, people, "300")
    web.force_login(people["handler"])
    with unchanged():
        response = post(web, c, "decide", {"remedy": remedy.pk, "decision": "approve", "note": ""})
    assert response.status_code == 403
    assert "You cannot decide on a remedy you requested." in response.content.decode()


def test_a_remedy_of_another_case_cannot_be_decided_through_this_one(web, cases, people, unchanged_but_shown):
    _c, remedy = awaiting_approval_of(cases, people, "300")
    other = cases.make(Status.INVESTIGATING)
    web.force_login(people["supervisor"])
    with unchanged_but_shown(people["supervisor"]):
        response = post(web, other, "decide", {"remedy": remedy.pk, "decision": "approve", "note": ""})
    assert response.status_code == 400
    assert (
        '<div class="alert alert-error" role="alert" id="case-error">No such remedy on this case.</div>'
        in (response.content.decode())
    )


def test_reply(web, cases, people):
    c = cases.make(Status.PLAN_PROPOSED)
    web.force_login(people["handler"])
    response = post(web, c, "reply", {"channel": "sms", "content": "经核查已退还30元。"})
    assert_redirected_with(web, response, c, "Reply recorded; the customer is told.")
    c = reload(c)
    assert (c.status, c.is_first_contact_resolution) == ("replied", False)
    reply = c.replies.get()
    assert (reply.channel, reply.content, reply.replied_by) == (
        "sms",
        "经核查已退还30元。",
        people["handler"],
    )
    assert last_event(c).payload["first_contact_resolution"] is False


def test_reply_as_a_first_contact_resolution(web, cases, people):
    c = cases.make(Status.ACCEPTED)
    web.force_login(people["agent"])
    response = post(
        web,
        c,
        "reply",
        {"channel": "phone", "content": "已当场解释并退费。", "first_contact_resolution": "on"},
    )
    assert_redirected_with(web, response, c, "Reply recorded; the customer is told.")
    c = reload(c)
    assert (c.status, c.is_first_contact_resolution) == ("replied", True)


@pytest.mark.parametrize(
    ("fields", "status", "kind", "message"),
    [
        (
            {"reached": "yes", "resolved": "yes", "satisfaction": "5", "comment": "满意"},
            Status.RETURN_VISIT,
            "return_visit",
            "Return visit recorded: the customer is satisfied.",
        ),
        (
            {"reached": "yes", "resolved": "no", "satisfaction": "2", "comment": "仍有扣费"},
            Status.REOPENED,
            "escalated",
            "Return visit recorded: the customer is not satisfied; the case is reopened and escalated.",
        ),
        (
            {"reached": "no", "resolved": "", "satisfaction": "", "comment": "无人接听"},
            Status.REPLIED,
            "return_visit_unreached",
            "Return visit recorded: the customer was not reached.",
        ),
    ],
)
def test_return_visit(web, cases, people, fields, status, kind, message):
    c = cases.make(Status.REPLIED)
    web.force_login(people["visitor"])
    response = post(web, c, "return-visit", fields)
    assert_redirected_with(web, response, c, message)
    assert reload(c).status == status
    assert last_event(c).kind == kind
    visit = c.return_visits.get()
    assert (visit.reached, visit.comment) == (fields["reached"] == "yes", fields["comment"])


def test_reopen(web, cases, people):
    c = cases.make(Status.RETURN_VISIT)
    web.force_login(people["visitor"])
    response = post(web, c, "reopen", {"reason": "用户再次来电"})
    assert_redirected_with(web, response, c, f"Case {c.ticket_no} reopened.")
    c = reload(c)
    assert (c.status, c.reopen_count, c.escalation_level) == ("reopened", 1, 1)


def test_escalate(web, cases, people):
    c = cases.make(Status.INVESTIGATING)
    web.force_login(people["handler"])
    response = post(web, c, "escalate", {"to_level": "2", "reason": "涉及群体投诉"})
    assert_redirected_with(web, response, c, f"Case {c.ticket_no} escalated to Manager.")
    assert reload(c).escalation_level == 2
    event = last_event(c)
    assert (event.kind, event.payload) == (
        "escalated",
        {"from_level": 0, "to_level": 2, "reason": "涉及群体投诉", "trigger": "manual"},
    )


def test_change_level(web, cases, people):
    sla_bootstrap()
    c = cases.make(Status.INVESTIGATING)
    web.force_login(people["handler"])
    response = post(web, c, "change-level", {"level": "major", "reason": "金额较大"})
    assert_redirected_with(web, response, c, f"Case {c.ticket_no} is now &#x27;Major complaint&#x27;.")
    c = reload(c)
    assert (c.level, c.escalation_level) == ("major", 2)
    assert list(c.events.order_by("id").values_list("kind", flat=True))[-2:] == ["level_changed", "escalated"]


def test_flag_threat(web, cases, people, settings):
    c = cases.make(Status.INVESTIGATING)
    web.force_login(people["handler"])
    response = post(web, c, "flag-threat", {"note": "用户称将向工信部申诉"})
    assert_redirected_with(
        web,
        response,
        c,
        f"Case {c.ticket_no} flagged: the customer threatens to go to the regulator, the media or a court.",
    )
    c = reload(c)
    assert (c.threatens_external, c.escalation_level) == (True, settings.TOUSU_THREAT_ESCALATION_LEVEL)
    assert "flag-threat" not in offered(web.get(page_url(c)).content.decode())


def test_withdraw(web, cases, people):
    c = cases.make(Status.REGISTERED)
    web.force_login(people["agent"])
    response = post(web, c, "withdraw", {"reason": "用户来电撤销"})
    assert_redirected_with(web, response, c, f"Case {c} withdrawn by the customer.")
    c = reload(c)
    assert c.status == Status.WITHDRAWN
    assert last_event(c).payload == {"reason": "用户来电撤销", "via": "web"}


def test_close(web, cases, people):
    c = cases.make(Status.RETURN_VISIT)
    web.force_login(people["visitor"])
    response = post(web, c, "close", {"note": ""})
    assert_redirected_with(web, response, c, f"Case {c.ticket_no} closed.")
    c = reload(c)
    assert c.status == Status.CLOSED
    assert c.closed_at is not None
    assert last_event(c).kind == "closed"


def test_upload_and_download_evidence(web, cases, people):
    c = cases.make(Status.INVESTIGATING)
    web.force_login(people["handler"])
    upload = SimpleUploadedFile("bill.txt", "三月账单 30元".encode(), content_type="text/plain")
    response = web.post(f"/cases/{c.pk}/files/", {"upload-file": upload})
    assert_redirected_with(web, response, c, "&#x27;bill.txt&#x27; attached.")
    attachment = Attachment.objects.get(complaint=c)
    assert (attachment.original_name, attachment.content_type, attachment.size) == (
        "bill.txt",
        "text/plain",
        18,
    )
    assert (last_event(c).kind, last_event(c).payload["attachment_id"]) == ("attachment_added", attachment.pk)

    html = web.get(page_url(c)).content.decode()
    assert f'<a href="/cases/{c.pk}/files/{attachment.pk}/">bill.txt</a>' in html
    response = web.get(f"/cases/{c.pk}/files/{attachment.pk}/")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain"
    assert response["Content-Disposition"] == 'attachment; filename="bill.txt"'
    assert b"".join(response.streaming_content) == "三月账单 30元".encode()
    response.close()


def test_a_file_with_a_chinese_name_downloads_under_its_name(web, cases, people):
    c = cases.make(Status.INVESTIGATING)
    a = svc.attachment_add(
        actor=people["handler"], complaint_id=c.pk, name="账单.pdf", content=io.BytesIO(b"%PDF-1.4")
    )
    web.force_login(people["handler"])
    response = web.get(f"/cases/{c.pk}/files/{a.pk}/")
    assert (response["Content-Type"], response["Content-Disposition"]) == (
        "application/pdf",
        "attachment; filename*=utf-8''%E8%B4%A6%E5%8D%95.pdf",
    )
    response.close()


def test_another_cases_attachment_is_not_found_here(web, cases, people):
    c = cases.make(Status.INVESTIGATING)
    other = cases.make(Status.INVESTIGATING)
    a = svc.attachment_add(
        actor=people["handler"], complaint_id=other.pk, name="a.txt", content=io.BytesIO(b"x")
    )
    web.force_login(people["handler"])
    assert web.get(f"/cases/{c.pk}/files/{a.pk}/").status_code == 404
    assert web.get(f"/cases/{c.pk}/files/999999/").status_code == 404


def test_reveal_writes_one_audit_event_and_returns_the_clear_phone(web, cases, people):
    c = cases.make(Status.INVESTIGATING)
    web.force_login(people["handler"])
    response = web.post(f"/cases/{c.pk}/reveal/phone/", HTTP_HX_REQUEST="true", REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 200
    assert response.content.decode() == '<span class="pii revealed" id="pii-phone">+8613812348000</span>\n'
    assert "no-store" in response["Cache-Control"]
    assert list(AuditEvent.objects.values_list("kind", "actor__username", "complaint_id", "field", "ip")) == [
        ("personal_data.revealed", "handler", c.pk, "phone", "10.1.2.3")
    ]


def test_reveal_of_an_unknown_field_is_not_found(web, cases, people, unchanged):
    c = cases.make(Status.INVESTIGATING)
    web.force_login(people["handler"])
    with unchanged():
        assert web.post(f"/cases/{c.pk}/reveal/id_number/").status_code == 404


# --- errors are shown on the form that caused them ------------------------------------------------


@pytest.mark.parametrize(
    ("status", "persona", "action", "fields", "field", "message"),
    [
        (
            Status.REGISTERED,
            "agent",
            "reject",
            {"reason": "time_barred", "explanation": ""},
            "explanation",
            "This field is required.",
        ),
        (
            Status.ACCEPTED,
            "agent",
            "dispatch",
            {"lead_department": "", "note": "转计费"},
            "lead_department",
            "This field is required.",
        ),
        (
            Status.INVESTIGATING,
            "handler",
            "plan",
            {"kind": "immediate", "measures": "退费", "responsible": "", "deadline": "2020-01-01T10:00"},
            "deadline",
            "The plan&#x27;s deadline must be a time in the future.",
        ),
        (
            Status.PLAN_PROPOSED,
            "handler",
            "remedy",
            {"kind": "refund", "amount": "0", "description": "退费"},
            "amount",
            "A money remedy needs an amount above zero.",
        ),
        (
            Status.REPLIED,
            "visitor",
            "return-visit",
            {"reached": "yes", "resolved": "yes", "satisfaction": "", "comment": "已解决"},
            "satisfaction",
            "Satisfaction is a score from 1 to 5.",
        ),
        (Status.INVESTIGATING, "handler", "note", {"text": "  "}, "text", "This field is required."),
    ],
)
def test_a_refused_form_shows_its_errors_keeps_the_input_and_changes_nothing(
    web, cases, people, unchanged_but_shown, status, persona, action, fields, field, message
):
    c = cases.make(status)
    web.force_login(people[persona])
    if action == "plan":
        fields["responsible"] = people[persona].pk
    with unchanged_but_shown(people[persona]):
        response = post(web, c, action, fields)
    assert response.status_code == 400
    html = response.content.decode()
    form = form_html(html, f"form-{action}")
    assert f'<ul class="errorlist" id="id_{action}-{field}_error"><li>{message}</li></ul>' in form
    # the failed action's form is the one open; the others stay folded away
    assert re.findall(r'<section class="action-panel" id="action-([a-z-]+)"[^>]*?(?<!hidden)>', html) == [
        action
    ]
    kept = [v for k, v in fields.items() if k not in (field, "responsible", "deadline") and v and v.strip()]
    for value in kept:
        assert (f'value="{value}" selected' in form) or (f">\n{value}</textarea>" in form), value


def test_an_upload_of_a_refused_type_shows_the_error_on_the_upload_form(
    web, cases, people, unchanged_but_shown
):
    c = cases.make(Status.INVESTIGATING)
    web.force_login(people["handler"])
    upload = SimpleUploadedFile("virus.exe", b"MZ\x90\x00", content_type="application/octet-stream")
    with unchanged_but_shown(people["handler"]):
        response = web.post(f"/cases/{c.pk}/files/", {"upload-file": upload})
    assert response.status_code == 400
    html = response.content.decode()
    assert (
        '<ul class="errorlist" id="id_upload-file_error"><li>Files of this type are not accepted as evidence'
        in html
    )


def test_a_stale_form_shows_the_conflict_and_changes_nothing(web, cases, people, unchanged_but_shown):
    c = cases.make(Status.INVESTIGATING)
    web.force_login(people["handler"])
    seen = reload(c).version
    svc.complaint_escalate(actor=people["supervisor"], complaint_id=c.pk, reason="主管关注")  # meanwhile
    with unchanged_but_shown(people["handler"]):
        response = post(web, c, "request-info", {"question": "请提供账单截图"}, version=seen)
    assert response.status_code == 409
    html = response.content.decode()
    assert (
        f'<div class="alert alert-error" role="alert" id="case-error">Case {c.ticket_no} was changed by someone '
        f"else since you opened it (version {seen}, now {seen + 1}). Reload it and try again.</div>"
    ) in html
    form = form_html(html, "form-request-info")
    assert ">\n请提供账单截图</textarea>" in form  # the question typed is kept …
    assert f'name="request-info-version" value="{seen + 1}"' in form  # … against the version now shown
    assert reload(c).status == Status.INVESTIGATING


def test_an_action_the_status_does_not_allow_is_refused_at_the_top(web, cases, people, unchanged_but_shown):
    c = cases.make(Status.INVESTIGATING)
    web.force_login(people["agent"])
    with unchanged_but_shown(people["agent"]):
        response = post(web, c, "accept")
    assert response.status_code == 409
    assert (
        f'<div class="alert alert-error" role="alert" id="case-error">Case {c.ticket_no} is &#x27;Investigating&#x27; '
        "and cannot become &#x27;Accepted&#x27;.</div>"
    ) in response.content.decode()


def test_an_action_the_role_may_not_take_is_a_403(web, cases, people, unchanged):
    c = cases.make(Status.REGISTERED)
    web.force_login(people["visitor"])
    with unchanged():
        response = post(web, c, "accept")
    assert response.status_code == 403
    assert response.templates[0].name == "403.html"


def test_an_unknown_action_is_not_found(web, cases, people, unchanged):
    c = cases.make(Status.REGISTERED)
    web.force_login(people["agent"])
    with unchanged():
        response = post(web, c, "approve-everything")
    assert response.status_code == 404


def test_an_unknown_case_is_not_found(web, people, unchanged):
    web.force_login(people["agent"])
    with unchanged():
        assert web.get("/cases/999999/").status_code == 404
        assert post(web, Complaint(pk=999999, version=1), "note", {"text": "x"}).status_code == 404


def test_signing_in_is_required(web, cases):
    c = cases.make(Status.REGISTERED)
    response = web.get(page_url(c))
    assert (response.status_code, response["Location"]) == (302, f"/accounts/login/?next=/cases/{c.pk}/")


# --- scope ---------------------------------------------------------------------------------------


def test_a_handler_of_another_department_gets_403_everywhere_and_nothing_changes(
    web, cases, people, unchanged
):
    c = cases.make(Status.INVESTIGATING)
    a = svc.attachment_add(actor=people["handler"], complaint_id=c.pk, name="a.txt", content=io.BytesIO(b"x"))
    web.force_login(people["handler_other"])
    with unchanged():
        response = web.get(page_url(c))
        assert response.status_code == 403
        assert "This case is outside your scope" in response.content.decode()
        assert web.get(f"/cases/{c.pk}/clocks/").status_code == 403
        assert web.get(f"/cases/{c.pk}/files/{a.pk}/").status_code == 403
        assert web.post(f"/cases/{c.pk}/reveal/phone/").status_code == 403
        upload = SimpleUploadedFile("b.txt", b"y", content_type="text/plain")
        assert web.post(f"/cases/{c.pk}/files/", {"upload-file": upload}).status_code == 403
        for action in ACTIONS:
            assert post(web, c, action, {"text": "x", "reason": "x"}).status_code == 403, action


def test_a_cooperating_department_sees_the_case_and_may_note_and_escalate(web, cases, people, org):
    c = cases.make(Status.ACCEPTED)
    svc.complaint_dispatch(
        actor=people["agent"],
        complaint_id=c.pk,
        lead_department_id=org["dept"]["billing"].pk,
        cooperating_department_ids=[org["dept"]["network"].pk],
    )
    web.force_login(people["handler_other"])
    html = web.get(page_url(c)).content.decode()
    assert offered(html) == {"note", "escalate", "flag-threat"}
    assert "<dt>Cooperating departments</dt><dd>网络运维部</dd>" in html


# --- a fixed number of queries ---------------------------------------------------------------------


def _queries_for_page(web, c: Complaint) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert web.get(page_url(c)).status_code == 200
    return len(captured)


def test_the_page_needs_the_same_number_of_queries_for_3_or_30_events(web, cases, people):
    sla_bootstrap()
    c = cases.make(Status.DISPATCHED)  # registered, accepted, dispatched
    web.force_login(people["handler"])
    assert c.events.count() == 3
    few = _queries_for_page(web, c)
    for n in range(27):
        svc.complaint_note(actor=people["handler" if n % 2 else "agent"], complaint_id=c.pk, text=f"备注 {n}")
    assert c.events.count() == 30
    assert _queries_for_page(web, c) == few


def test_the_page_needs_the_same_number_of_queries_for_1_or_5_attachments(web, cases, people):
    sla_bootstrap()
    c = cases.make(Status.INVESTIGATING)
    cases.make(Status.ACCEPTED)  # the customer has another open case
    web.force_login(people["handler"])
    svc.attachment_add(actor=people["handler"], complaint_id=c.pk, name="f0.txt", content=io.BytesIO(b"0"))
    one = _queries_for_page(web, c)
    for n in range(1, 5):
        svc.attachment_add(
            actor=people["agent"], complaint_id=c.pk, name=f"f{n}.txt", content=io.BytesIO(b"n")
        )
    assert c.attachments.count() == 5
    assert _queries_for_page(web, c) == one


def test_the_page_queries_are_few(web, cases, people):
    sla_bootstrap()
    c, _remedy = awaiting_approval_of(cases, people, "300")
    web.force_login(people["supervisor"])
    # session, user, the case (with customer and category), the read log, departments, cooperating
    # departments, assignee and owner, events, attachments, remedies, the customer's other cases,
    # with their compensation and satisfaction, the approval limit with the pending remedies and the case's money total (limits cover them
    # together), the leaf categories for the reclassify form, clocks, calendar days, and the user's
    # department in the page header, the triage flags (risk; repeat/duplicate links), the links to
    # related cases, and the display names of the staff the timeline's payloads name (the plan's
    # responsible person)
    assert _queries_for_page(web, c) == 22


def test_a_recent_deadline_reads_due_soon(web, cases, people, time_machine):
    time_machine.move_to("2026-06-01 10:00:00+08:00", tick=False)
    sla_bootstrap()
    c = cases.make(Status.INVESTIGATING)
    web.force_login(people["handler"])
    time_machine.move_to(timezone.now() + timedelta(hours=23, minutes=30))
    web.force_login(people["handler"])
    fragment = web.get(f"/cases/{c.pk}/clocks/").content.decode()
    assert '<span class="remaining due-soon">30min</span>' in fragment


# --- dispatch: the assignee list follows the lead department -------------------------------------


def test_the_assignee_list_shows_the_lead_departments_handlers_only(web, cases, people, org):
    c = cases.make(Status.DISPATCHED)  # lead department: billing
    web.force_login(people["handler"])
    html = form_html(web.get(page_url(c)).content.decode(), "form-dispatch")
    select = re.search(r'<select name="dispatch-assignee".*?</select>', html, re.S).group(0)
    assert re.findall(r'<option value="(\d*)"', select) == ["", str(people["handler"].pk)]
    assert f'hx-get="/cases/{c.pk}/assignees/"' in html
    assert 'hx-target="#id_dispatch-assignee"' in html


def test_choosing_another_department_swaps_the_assignee_options(web, cases, people, org):
    c = cases.make(Status.ACCEPTED)
    web.force_login(people["agent"])
    url = f"/cases/{c.pk}/assignees/"
    network = web.get(url, {"dispatch-lead_department": org["dept"]["network"].pk})
    assert network.content.decode() == (
        f'<option value="">—</option>\n<option value="{people["handler_other"].pk}">handler_other</option>\n'
    )
    legal = web.get(url, {"dispatch-lead_department": org["dept"]["legal"].pk})
    assert legal.content.decode() == '<option value="">—</option>\n'
    assert web.get(url, {"dispatch-lead_department": "x"}).content.decode() == '<option value="">—</option>\n'


def test_the_assignee_options_are_refused_outside_the_scope(web, cases, people, org):
    c = cases.make(Status.DISPATCHED)
    web.force_login(people["handler_other"])  # network: not this billing case's department
    response = web.get(f"/cases/{c.pk}/assignees/", {"dispatch-lead_department": org["dept"]["billing"].pk})
    assert response.status_code == 403


def test_dispatch_to_someone_outside_the_lead_department_changes_nothing(
    web, cases, people, org, unchanged_but_shown
):
    c = cases.make(Status.ACCEPTED)
    web.force_login(people["agent"])
    with unchanged_but_shown(people["agent"]):
        response = post(
            web,
            c,
            "dispatch",
            {
                "lead_department": org["dept"]["billing"].pk,
                "assignee": people["handler_other"].pk,
                "note": "",
            },
        )
    assert response.status_code == 400
    assert reload(c).status == Status.ACCEPTED
    assert "Select a valid choice." in form_html(response.content.decode(), "form-dispatch")


def test_the_dispatch_service_refuses_an_assignee_outside_the_lead_department(cases, people, org, unchanged):
    c = cases.make(Status.ACCEPTED)
    with unchanged(), pytest.raises(ValidationError) as err:
        svc.complaint_dispatch(
            actor=people["agent"],
            complaint_id=c.pk,
            lead_department_id=org["dept"]["billing"].pk,
            assignee_id=people["handler_other"].pk,
        )
    assert (err.value.message, err.value.fields) == (
        "handler_other is not a member of 计费结算部.",
        {"assignee": "not in the lead department"},
    )


# --- after a failed form the address is a GET address ---------------------------------------------


def test_reloading_or_switching_language_after_a_failed_action_lands_on_the_case(web, cases, people):
    c = cases.make(Status.INVESTIGATING)
    web.force_login(people["handler"])
    failed = post(web, c, "note", {"text": "  "})
    assert failed.status_code == 400
    again = web.get(f"/cases/{c.pk}/do/note/")  # the address the failed form was rendered at
    assert (again.status_code, again["Location"]) == (302, f"/cases/{c.pk}/?do=note#actions")
    switched = web.post("/i18n/setlang/", {"language": "zh-hans", "next": f"/cases/{c.pk}/do/note/"})
    assert web.get(switched["Location"]).status_code == 302
    assert web.get(f"/cases/{c.pk}/do/nonsense/")["Location"] == f"/cases/{c.pk}/"
    assert web.get(f"/cases/{c.pk}/files/")["Location"] == f"/cases/{c.pk}/#evidence"
    assert web.put(f"/cases/{c.pk}/do/note/").status_code == 405


# --- no evidence on a finished case -------------------------------------------------------------------

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.mark.parametrize("status", [Status.CLOSED, Status.WITHDRAWN, Status.REJECTED])
def test_a_finished_case_offers_no_upload_and_the_service_refuses_one(
    web, cases, people, unchanged, unchanged_but_shown, status
):
    c = cases.make(status)
    web.force_login(people["supervisor"])
    assert 'data-action="upload"' not in web.get(page_url(c)).content.decode()
    with unchanged(), pytest.raises(InvalidTransition) as err:
        svc.attachment_add(
            actor=people["supervisor"], complaint_id=c.pk, name="a.png", content=io.BytesIO(PNG)
        )
    assert err.value.message == f"Case {c} is finished: no more evidence can be attached."
    upload = SimpleUploadedFile("a.png", PNG, content_type="image/png")
    with unchanged_but_shown(people["supervisor"]):
        response = web.post(f"/cases/{c.pk}/files/", {"upload-file": upload})
    assert response.status_code == 409
    assert err.value.message in response.content.decode()


def test_an_open_case_still_takes_evidence(web, cases, people):
    c = cases.make(Status.REPLIED)
    web.force_login(people["handler"])
    assert 'data-action="upload"' in web.get(page_url(c)).content.decode()
    svc.attachment_add(actor=people["handler"], complaint_id=c.pk, name="a.png", content=io.BytesIO(PNG))
    assert Attachment.objects.filter(complaint_id=c.pk).count() == 1


def test_the_customer_history_counts_beyond_the_rows_it_lists(cases, people):
    from tousu.complaints.selectors import customer_history

    visited = cases.make(Status.CLOSED)  # 5
    reopened = cases.make(Status.REOPENED)  # 2
    newest = cases.make(Status.INVESTIGATING)
    history = customer_history(actor=people["supervisor"], customer_id=newest.customer_id, limit=1)
    assert [c.pk for c in history.rows] == [newest.pk]
    assert (history.cases, history.open_cases, history.granted, history.satisfaction, history.visits) == (
        3,
        2,
        Decimal("0"),
        3.5,
        2,
    )
    assert visited.pk != reopened.pk


# --- the workspace: next step, action buttons, presence, related cases ---------------------------------


def next_step_text(html: str) -> str:
    section = re.search(r'<section class="next-step[^"]*" id="next-step".*?</section>', html, re.S).group(0)
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", section)).strip())


def test_the_next_step_names_who_must_do_what_by_when(web, cases, people, time_machine):
    time_machine.move_to("2026-06-01 10:00:00+08:00", tick=False)
    sla_bootstrap()
    c = cases.make(Status.DISPATCHED)
    clock = SlaClock.objects.filter(complaint_id=c.pk, state="running").order_by("due_at").first()
    due = timezone.localtime(clock.due_at).strftime("%Y-%m-%d %H:%M")
    assert clock.kind == "second_response"  # the first response was met at acceptance
    web.force_login(people["inspector"])
    text = next_step_text(web.get(page_url(c)).content.decode())
    assert text == f"Next step Start investigating — up to handler by {due} (Second response)"
    web.force_login(people["handler"])
    html = web.get(page_url(c)).content.decode()
    assert (
        next_step_text(html)
        == f"Next step Start investigating — you can do it now by {due} (Second response) Do it"
    )
    assert 'class="next-step yours"' in html
    assert (
        '<a class="button" href="?do=investigate#action-investigate" data-open-action="investigate">Do it</a>'
        in html
    )


def test_the_next_step_says_overdue_paused_or_finished(web, cases, people, time_machine):
    time_machine.move_to("2026-06-01 10:00:00+08:00", tick=False)
    sla_bootstrap()
    waiting = cases.make(Status.AWAITING_CUSTOMER)
    late = cases.make(Status.ACCEPTED)
    closed = cases.make(Status.CLOSED, fcr=True)
    web.force_login(people["supervisor"])
    assert next_step_text(web.get(page_url(waiting)).content.decode()) == (
        "Next step Wait for the customer's answer, then resume — up to the customer "
        "the time limits are paused meanwhile"
    )
    assert (
        next_step_text(web.get(page_url(closed)).content.decode())
        == "Next step Nothing: this case is finished."
    )
    time_machine.move_to("2026-07-01 10:00:00+08:00", tick=False)
    web.force_login(people["supervisor"])  # a month later: a new session
    html = web.get(page_url(late)).content.decode()
    assert 'class="next-step overdue"' in html
    assert "overdue since" in next_step_text(html)


def test_the_actions_are_buttons_and_one_form_is_open_at_a_time(web, cases, people):
    c = cases.make(Status.INVESTIGATING)
    web.force_login(people["handler"])
    html = web.get(page_url(c)).content.decode()
    buttons = re.findall(r'<li><a class="button secondary" href="\?do=([a-z-]+)#action-\1"', html)
    assert set(buttons) == offered(html)
    assert re.findall(r'<section class="action-panel" id="action-([a-z-]+)"[^>]*?(?<!hidden)>', html) == []
    opened = web.get(page_url(c), {"do": "plan"}).content.decode()
    assert re.findall(r'<section class="action-panel" id="action-([a-z-]+)"[^>]*?(?<!hidden)>', opened) == [
        "plan"
    ]
    assert 'aria-controls="action-plan" aria-expanded="true"' in opened
    # an action the user may not take is not opened by asking for it
    refused = web.get(page_url(c), {"do": "accept"}).content.decode()
    assert re.findall(r'<section class="action-panel" id="action-([a-z-]+)"[^>]*?(?<!hidden)>', refused) == []


def test_someone_else_with_the_case_open_is_named(web, cases, people):
    from django.core.cache import caches
    from django.test import Client

    caches["ratelimit"].clear()
    people["handler"].display_name = "刘洋"
    people["handler"].save(update_fields=["display_name"])
    c = cases.make(Status.INVESTIGATING)
    web.force_login(people["supervisor"])
    first = web.get(page_url(c)).content.decode()
    assert "also has this case open" not in first
    other_browser = Client(HTTP_ACCEPT_LANGUAGE="en")
    other_browser.force_login(people["handler"])
    seen_by_handler = other_browser.get(page_url(c)).content.decode()
    assert "supervisor also has this case open: agree who acts before you change it." in seen_by_handler
    poll = web.get(f"/cases/{c.pk}/presence/").content.decode()
    assert f'hx-get="/cases/{c.pk}/presence/" hx-trigger="every 15s"' in poll
    assert "刘洋 also has this case open: agree who acts before you change it." in poll
    other = cases.make(Status.INVESTIGATING)
    assert "also has" not in web.get(f"/cases/{other.pk}/presence/").content.decode()


def test_presence_forgets_who_left(people, time_machine):
    from django.core.cache import caches

    from tousu.web.views.case_workspace import PRESENCE_TTL, presence_touch

    caches["ratelimit"].clear()
    assert presence_touch(999, people["handler"], now=1000.0) == []
    assert presence_touch(999, people["supervisor"], now=1010.0) == ["handler"]
    assert presence_touch(999, people["supervisor"], now=1000.0 + PRESENCE_TTL + 1) == []


def test_presence_is_refused_outside_the_scope(web, cases, people):
    c = cases.make(Status.INVESTIGATING)
    web.force_login(people["handler_other"])
    assert web.get(f"/cases/{c.pk}/presence/").status_code == 403


def test_linking_and_unlinking_a_related_case(web, cases, people):
    from tousu.triage.models import CaseLink

    first = cases.make(Status.INVESTIGATING)
    second = cases.make(Status.INVESTIGATING, phone="13900002222")
    web.force_login(people["handler"])
    response = web.post(f"/cases/{second.pk}/links/", {"ticket": first.ticket_no.lower()})
    assert (response.status_code, response["Location"]) == (302, f"/cases/{second.pk}/#related")
    link = CaseLink.objects.get()
    assert (link.case_id, link.earlier_id, link.kind) == (second.pk, first.pk, "related")
    for case, other in ((second, first), (first, second)):
        event = last_event(case)
        assert (event.kind, event.actor_id, event.payload) == (
            "linked",
            people["handler"].pk,
            {"kind": "related", "other": other.pk, "other_ticket": other.ticket_no},
        )
    html = web.get(page_url(first)).content.decode()
    related = re.search(r'<section class="card" id="related".*?</section>', html, re.S).group(0)
    assert f'<a href="/cases/{second.pk}/">{second.ticket_no}</a>' in related
    assert "Related case (linked by staff)" in related
    assert "Case linked to" not in related
    removed = web.post(f"/cases/{first.pk}/links/{second.pk}/remove/")
    assert removed["Location"] == f"/cases/{first.pk}/#related"
    assert CaseLink.objects.count() == 0
    assert [last_event(first).kind, last_event(second).kind] == ["unlinked", "unlinked"]
    assert "No related case." in web.get(page_url(first)).content.decode()


@pytest.mark.parametrize(
    ("ticket", "message"),
    [
        ("TS19990101000001", "No case has the ticket number &#x27;TS19990101000001&#x27;."),
        ("self", "A case cannot be linked to itself."),
    ],
)
def test_a_refused_link_says_why_and_changes_nothing(web, cases, people, ticket, message, unchanged):
    c = cases.make(Status.INVESTIGATING)
    web.force_login(people["handler"])
    with unchanged():
        response = web.post(f"/cases/{c.pk}/links/", {"ticket": c.ticket_no if ticket == "self" else ticket})
    assert response.status_code == 302
    assert message in web.get(response["Location"]).content.decode()


def test_linking_twice_or_outside_the_scope_is_refused(web, cases, people, unchanged):
    from tousu.triage.services import triage_case_link

    first = cases.make(Status.INVESTIGATING)
    second = cases.make(Status.INVESTIGATING, phone="13900002222")
    triage_case_link(actor=people["handler"], complaint_id=second.pk, other_id=first.pk)
    web.force_login(people["handler"])
    with unchanged():
        again = web.post(f"/cases/{first.pk}/links/", {"ticket": second.ticket_no})
    assert (
        f"Cases {first.ticket_no} and {second.ticket_no} are already linked."
        in web.get(again["Location"]).content.decode()
    )
    web.force_login(people["handler_other"])
    with unchanged():
        assert web.post(f"/cases/{first.pk}/links/{second.pk}/remove/").status_code == 403
        assert web.post(f"/cases/{first.pk}/links/", {"ticket": second.ticket_no}).status_code == 403


def test_a_merged_duplicate_stays_linked(cases, people, unchanged):
    from tousu.triage.models import CaseLink
    from tousu.triage.services import triage_case_unlink

    first = cases.make(Status.INVESTIGATING)
    second = cases.make(Status.INVESTIGATING, phone="13900002222")
    CaseLink.objects.create(case=second, earlier=first, kind="merged", created_at=timezone.now())
    with unchanged(), pytest.raises(ValidationError) as err:
        triage_case_unlink(actor=people["supervisor"], complaint_id=first.pk, other_id=second.pk)
    assert err.value.message == "A merged duplicate stays linked to the case it was merged into."
