"""The supervisor dashboard: exact counts of open cases, deadlines, breaches, escalations and
approvals built through the real services and the SLA sweep; refused to non-supervisors; a fixed
number of queries whatever the amount of data; the htmx panel that refreshes itself."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from tousu.analytics.dashboard import DASHBOARD_QUERIES, dashboard_summary
from tousu.complaints.services.deadlines import sla_sweep
from tousu.complaints.states import Status
from tousu.sla.defaults import sla_bootstrap

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=SH)  # a Monday, 10:00 in Shanghai
DASHBOARD = "/dashboard/"
PANEL = "/dashboard/panel/"


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


@pytest.fixture(autouse=True)
def _keep_active_language():
    """Requests through LocaleMiddleware activate a language for the thread; put the old one back."""
    with translation.override(translation.get_language()):
        yield


@pytest.fixture
def client():
    """Pages in English, so assertions read the same whatever the default language."""
    return Client(HTTP_ACCEPT_LANGUAGE="en")


@pytest.fixture
def clock_at(time_machine):
    def move(moment: datetime) -> None:
        time_machine.move_to(moment, tick=False)

    return move


@pytest.fixture
def day(org, cases, clock_at) -> dict[str, object]:
    """A Sunday and a Monday morning at the desk, walked through the services and the sweep:

    Sunday 08:00  b registered, accepted and dispatched to billing (second response due Mon 08:00)
    Sunday 23:00  y registered (first response due 23:30)
    Sunday 23:45  sweep: y's first response missed (yesterday's breach, escalated yesterday)
    Monday 08:00  a registered (due 08:30); m2 registered as major (escalated to 2, due 08:10)
    Monday 09:00  sweep: a (20 元), m2 (50 元, escalated to 3), b (20 元, billing) missed; a and b escalated
    Monday 09:20  o registered (due 09:50, not swept yet)
    Monday 10:00  d registered (due 10:30); m registered as major (escalated to 2, due 10:10);
                  p waits for approval of a 100 元 compensation; z closed; r not accepted
    """
    sla_bootstrap()
    clock_at(at(2026, 11, 22, 8, 0))
    b = cases.make(Status.DISPATCHED)
    clock_at(at(2026, 11, 22, 23, 0))
    y = cases.make(Status.REGISTERED)
    clock_at(at(2026, 11, 22, 23, 45))
    sla_sweep()
    clock_at(at(2026, 11, 23, 8, 0))
    a = cases.make(Status.REGISTERED)
    m2 = cases.make(Status.REGISTERED, level="major")
    clock_at(at(2026, 11, 23, 9, 0))
    sla_sweep()
    clock_at(at(2026, 11, 23, 9, 20))
    o = cases.make(Status.REGISTERED)
    clock_at(T0)
    d = cases.make(Status.REGISTERED)
    m = cases.make(Status.REGISTERED, level="major")
    p = cases.make(Status.AWAITING_APPROVAL)
    z = cases.make(Status.CLOSED)
    r = cases.make(Status.REJECTED)
    return {"b": b, "y": y, "a": a, "m2": m2, "o": o, "d": d, "m": m, "p": p, "z": z, "r": r}


def tallies(rows) -> dict[str, int]:
    return {row.key: row.count for row in rows}


class TestSummary:
    def test_counts_open_cases_by_status_level_department_and_escalation(self, day, people, org):
        board = dashboard_summary(actor=people["supervisor"])
        assert board.open_total == 8
        assert tallies(board.by_status) == {
            "registered": 6,
            "accepted": 0,
            "dispatched": 1,
            "investigating": 0,
            "awaiting_customer": 0,
            "plan_proposed": 0,
            "awaiting_approval": 1,
            "replied": 0,
            "return_visit": 0,
            "reopened": 0,
        }
        assert tallies(board.by_level) == {"dissatisfied": 6, "very_dissatisfied": 0, "major": 2, "crisis": 0}
        billing = org["dept"]["billing"]
        assert [(d.department_id, d.name, d.count) for d in board.by_department] == [
            (billing.pk, "计费结算部", 2),
            (None, "Not dispatched yet", 6),
        ]
        assert tallies(board.escalated_by_level) == {"1": 3, "2": 1, "3": 1}
        assert board.escalated_total == 5
        assert board.escalations_today == 5  # a, b, m2 twice, m; y's was yesterday

    def test_lists_what_is_due_within_the_hour_and_what_is_overdue(self, day, people):
        board = dashboard_summary(actor=people["supervisor"])
        assert board.due_soon_total == 2
        assert [(i.complaint_id, i.clock_label, i.due_at) for i in board.due_soon] == [
            (day["m"].pk, "First response", at(2026, 11, 23, 10, 10)),
            (day["d"].pk, "First response", at(2026, 11, 23, 10, 30)),
        ]
        assert [int(i.remaining.total_seconds()) for i in board.due_soon] == [600, 1800]
        assert board.overdue_total == 5
        assert [(i.complaint_id, i.clock_label, i.due_at) for i in board.overdue] == [
            (day["y"].pk, "First response", at(2026, 11, 22, 23, 30)),
            (day["b"].pk, "Second response", at(2026, 11, 23, 8, 0)),
            (day["m2"].pk, "First response", at(2026, 11, 23, 8, 10)),
            (day["a"].pk, "First response", at(2026, 11, 23, 8, 30)),
            (day["o"].pk, "First response", at(2026, 11, 23, 9, 50)),
        ]
        assert [i.department for i in board.overdue] == ["", "计费结算部", "", "", ""]

    def test_sums_todays_breaches_and_penalties_per_department(self, day, people, org):
        board = dashboard_summary(actor=people["supervisor"])
        assert board.breaches_today == 3
        assert board.penalties_today == Decimal("90.00")
        assert [(b.department_id, b.name, b.breaches, b.penalty) for b in board.breaches_by_department] == [
            (org["dept"]["customer_service"].pk, "客户服务部", 2, Decimal("70.00")),
            (org["dept"]["billing"].pk, "计费结算部", 1, Decimal("20.00")),
        ]

    def test_lists_remedies_waiting_for_approval_with_their_amounts(self, day, people):
        board = dashboard_summary(actor=people["supervisor"])
        assert (board.approvals_cases, board.approvals_remedies, board.approvals_amount) == (
            1,
            1,
            Decimal("100.00"),
        )
        [item] = board.approvals
        assert (item.complaint_id, item.ticket_no, item.kind_label, item.amount, item.requested_by) == (
            day["p"].pk,
            day["p"].ticket_no,
            "Compensation",
            Decimal("100.00"),
            "handler",
        )

    def test_the_local_day_starts_at_midnight_in_shanghai(self, day, people, clock_at):
        clock_at(at(2026, 11, 24, 0, 0))  # Tuesday: Monday's breaches and escalations are yesterday's
        board = dashboard_summary(actor=people["supervisor"])
        assert (board.breaches_today, board.penalties_today, board.breaches_by_department) == (
            0,
            Decimal(0),
            [],
        )
        assert board.escalations_today == 0
        assert board.day_start == at(2026, 11, 24, 0, 0)

    def test_an_empty_system_shows_zeros(self, people):
        board = dashboard_summary(actor=people["manager"])
        assert (board.open_total, board.due_soon_total, board.overdue_total) == (0, 0, 0)
        assert (board.breaches_today, board.escalations_today, board.approvals_remedies) == (0, 0, 0)
        assert board.by_department == []
        assert str(board.approvals_amount) == "0.00"


def _numbers(html: str, section: str) -> dict[str, str]:
    """``data-key`` → the number shown, inside one section of the page."""
    part = html.split(f'id="{section}"', 1)[1].split("</section>", 1)[0]
    return dict(re.findall(r'data-key="([^"]+)">(\d+)<', part))


class TestPage:
    def test_shows_the_counts_with_links_to_queues_and_cases(self, client, day, people, org):
        client.force_login(people["supervisor"])
        response = client.get(DASHBOARD)
        assert response.status_code == 200
        assert response.templates[0].name == "web/dashboard/page.html"
        html = response.content.decode()
        assert '<span class="dash-num">8</span> open cases' in html
        assert '<span class="dash-num">2</span> due within the hour' in html
        assert '<span class="dash-num">5</span> overdue' in html
        assert '<span class="dash-num">3</span> breaches today · 90.00 元' in html
        assert '<span class="dash-num">5</span> escalated · 5 escalations today' in html
        assert '<span class="dash-num">1</span> approvals waiting · 100.00 元' in html
        assert _numbers(html, "by-status")["registered"] == "6"
        assert _numbers(html, "by-status")["awaiting_approval"] == "1"
        assert _numbers(html, "by-level") == {
            "dissatisfied": "6",
            "very_dissatisfied": "0",
            "major": "2",
            "crisis": "0",
            "1": "3",
            "2": "1",
            "3": "1",
        }
        billing = org["dept"]["billing"].pk
        assert _numbers(html, "by-department") == {str(billing): "2", "none": "6"}
        for name in ("all", "due_soon", "overdue", "escalated", "approvals"):
            assert f'href="{reverse("queue", kwargs={"name": name})}"' in html
        assert f'href="{reverse("queue", kwargs={"name": "all"})}?department={billing}"' in html
        assert f'href="{reverse("queue", kwargs={"name": "all"})}?status=registered"' in html
        for key in ("d", "m", "y", "b", "m2", "a", "o", "p"):
            assert f'href="{reverse("case", kwargs={"pk": day[key].pk})}"' in html
        for key in ("z", "r"):
            assert f'href="{reverse("case", kwargs={"pk": day[key].pk})}"' not in html
        assert (
            f'<tr data-key="{billing}"><td><a href="/queues/all/?department={billing}">计费结算部</a></td><td class="num">1</td><td class="num">20.00</td></tr>'
            in html
        )
        assert '<span class="nowrap">11-23 10:10</span><br>10min' in html
        assert '<span class="nowrap">11-22 23:30</span><br>overdue 10h 30min' in html

    def test_the_panel_refreshes_itself_every_30_seconds(self, client, day, people):
        client.force_login(people["manager"])
        html = client.get(DASHBOARD).content.decode()
        assert (
            '<div id="dashboard-panel" class="dashboard" hx-get="/dashboard/panel/" '
            'hx-trigger="every 30s" hx-swap="outerHTML">'
        ) in html
        response = client.get(PANEL, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        assert response.templates[0].name == "web/dashboard/_panel.html"
        fragment = response.content.decode()
        assert fragment.lstrip().startswith('<div id="dashboard-panel"')
        assert "<html" not in fragment
        assert '<span class="dash-num">8</span> open cases' in fragment
        assert response["Cache-Control"] == "max-age=0, no-cache, no-store, must-revalidate, private"

    def test_the_panel_follows_new_data(self, client, day, people, cases):
        client.force_login(people["supervisor"])
        cases.make(Status.REGISTERED)  # due 10:30, like d
        fragment = client.get(PANEL, HTTP_HX_REQUEST="true").content.decode()
        assert '<span class="dash-num">9</span> open cases' in fragment
        assert '<span class="dash-num">3</span> due within the hour' in fragment

    def test_nav_links_to_the_dashboard_for_supervisors_only(self, client, people):
        client.force_login(people["supervisor"])
        assert '<a href="/dashboard/">Dashboard</a>' in client.get(DASHBOARD).content.decode()

    @pytest.mark.parametrize(
        "persona", ["agent", "agent_other", "handler", "handler_other", "visitor", "inspector"]
    )
    @pytest.mark.parametrize("url", [DASHBOARD, PANEL])
    def test_is_refused_to_those_who_do_not_supervise(self, client, day, people, persona, url, unchanged):
        client.force_login(people[persona])
        with unchanged():
            response = client.get(url)
        assert response.status_code == 403
        html = response.content.decode()
        assert "The dashboard is for supervisors and managers." in html
        assert "open cases" not in html

    def test_htmx_refusal_is_a_fragment(self, client, people):
        client.force_login(people["handler"])
        response = client.get(PANEL, HTTP_HX_REQUEST="true")
        assert response.status_code == 403
        assert response.content.decode().strip() == (
            '<div class="alert alert-error" role="alert">The dashboard is for supervisors and managers.</div>'
        )

    def test_anonymous_visitors_are_sent_to_sign_in(self, client):
        response = client.get(DASHBOARD)
        assert (response.status_code, response["Location"]) == (302, "/accounts/login/?next=/dashboard/")

    def test_an_expired_session_reloads_the_page_from_the_panel(self, client):
        response = client.get(PANEL, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        assert response["HX-Refresh"] == "true"

    def test_only_get_is_allowed(self, client, people):
        client.force_login(people["supervisor"])
        assert client.post(DASHBOARD).status_code == 405


class TestQueryCount:
    def test_the_summary_runs_a_fixed_number_of_queries(self, org, cases, people, clock_at):
        sla_bootstrap()
        clock_at(at(2026, 11, 23, 8, 0))
        supervisor = people["supervisor"]

        def count() -> int:
            with CaptureQueriesContext(connection) as ctx:
                dashboard_summary(actor=supervisor)
            return len(ctx.captured_queries)

        empty = count()
        for _ in range(3):
            cases.make(Status.REGISTERED)
        cases.make(Status.AWAITING_APPROVAL)
        few = count()
        for _ in range(12):
            cases.make(Status.REGISTERED)
            cases.make(Status.REGISTERED, level="major")
        for _ in range(12):
            cases.make(Status.AWAITING_APPROVAL)
        clock_at(at(2026, 11, 23, 8, 25))  # the major cases are overdue, the others due soon
        sla_sweep()
        many = count()
        assert empty == few == many == DASHBOARD_QUERIES

    def test_the_page_runs_the_same_number_of_queries_whatever_the_data(
        self, client, org, cases, people, clock_at
    ):
        sla_bootstrap()
        clock_at(at(2026, 11, 23, 8, 0))
        client.force_login(people["supervisor"])

        def count() -> int:
            with CaptureQueriesContext(connection) as ctx:
                assert client.get(PANEL, HTTP_HX_REQUEST="true").status_code == 200
            return len(ctx.captured_queries)

        cases.make(Status.REGISTERED)
        few = count()
        for _ in range(15):
            cases.make(Status.REGISTERED, level="major")
            cases.make(Status.AWAITING_APPROVAL)
        clock_at(at(2026, 11, 23, 8, 15))
        sla_sweep()
        many = count()
        assert few == many
