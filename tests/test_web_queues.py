"""Queues: who sees which case in which queue, deadlines first, filters and search, pagination,
bulk assign/dispatch one case at a time, scope and escaping, and a fixed number of queries."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django import forms
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation

from tousu.accounts.models import ApprovalLimit, User
from tousu.accounts.roles import Role
from tousu.audit.models import AuditEvent
from tousu.common.errors import NotFound, PermissionDenied, ValidationError
from tousu.common.origin import Origin
from tousu.complaints import services as svc
from tousu.complaints.models import Complaint, ComplaintEvent, SavedView
from tousu.complaints.queues import (
    QUEUES,
    QueueFilters,
    capped_counts,
    complaint_queue,
    complaint_queue_counts,
    complaint_queue_page,
)
from tousu.complaints.search import description_q
from tousu.complaints.services.deadlines import sla_breach
from tousu.complaints.services.saved_views import (
    saved_view_create,
    saved_view_delete,
    saved_view_update,
    saved_views_for,
)
from tousu.complaints.states import Status
from tousu.sla.defaults import sla_bootstrap
from tousu.web.forms.widgets import FastSelect
from tousu.web.views import queues as queue_views

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=SH)  # a Monday
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}


@pytest.fixture(autouse=True)
def _keep_active_language():
    """Requests through LocaleMiddleware activate a language for the thread; put the old one back."""
    with translation.override(translation.get_language()):
        yield


@pytest.fixture
def clock_at(time_machine):
    def move(moment: datetime) -> None:
        time_machine.move_to(moment, tick=False)

    move(T0)
    return move


@pytest.fixture
def sla(org):
    sla_bootstrap()


@pytest.fixture
def world(sla, cases, org, people, clock_at) -> dict[str, Complaint]:
    """Ten cases, one minute apart from T0, covering every queue."""
    p, d = people, org["dept"]
    built: dict[str, Complaint] = {}

    def at(minute: int) -> None:
        clock_at(T0 + timedelta(minutes=minute))

    at(0)
    built["reg"] = cases.make(Status.REGISTERED)
    at(1)
    built["acc"] = cases.make(Status.ACCEPTED)
    at(2)
    built["disp"] = cases.make(Status.DISPATCHED)
    at(3)
    built["wait"] = cases.make(Status.AWAITING_CUSTOMER)
    at(4)
    built["appr"] = cases.make(Status.AWAITING_APPROVAL)  # 100 元 requested by the handler
    at(5)
    built["closed"] = cases.make(Status.CLOSED)
    at(6)
    other = cases.register(
        actor=p["agent_other"], category_id=org["outage"].pk, description="小区宽带断网两天"
    )
    svc.complaint_accept(actor=p["agent_other"], complaint_id=other.pk)
    svc.complaint_dispatch(actor=p["agent_other"], complaint_id=other.pk, lead_department_id=d["network"].pk)
    built["other"] = other
    at(7)
    built["major"] = cases.make(Status.ACCEPTED, level="major")  # escalated at once to level 2
    at(8)
    unb = cases.make(Status.ACCEPTED)
    svc.complaint_dispatch(actor=p["agent"], complaint_id=unb.pk, lead_department_id=d["billing"].pk)
    built["unb"] = unb
    at(9)
    big = cases.make(Status.PLAN_PROPOSED)
    svc.remedy_request(actor=p["handler"], complaint_id=big.pk, kind="compensation", amount="600")
    built["big"] = big
    at(10)
    return {k: Complaint.objects.get(pk=v.pk) for k, v in built.items()}


def names(world: dict[str, Complaint], qs: Any) -> set[str]:
    by_pk = {c.pk: k for k, c in world.items()}
    return {by_pk[pk] for pk in qs.values_list("pk", flat=True)}


ALL = {"reg", "acc", "disp", "wait", "appr", "closed", "other", "major", "unb", "big"}
OPEN_UNASSIGNED = {"reg", "acc", "major", "other", "unb"}
MEMBERSHIP: dict[str, dict[str, set[str]]] = {
    "agent": {
        "mine": {"reg", "acc", "major"},
        "department": set(),
        "unassigned": {"reg", "acc", "major", "unb"},
        "due_soon": {"reg"},
        "overdue": set(),
        "escalated": {"major"},
        "awaiting_customer": {"wait"},
        "approvals": set(),  # 50 元 limit
        "customer_to_identify": set(),
        "all": ALL - {"other"},
    },
    "agent_other": {
        "mine": set(),  # dispatched to network: no longer the agent's own
        "department": set(),
        "unassigned": {"other"},
        "due_soon": set(),
        "overdue": set(),
        "escalated": set(),
        "awaiting_customer": set(),
        "approvals": set(),
        "customer_to_identify": set(),
        "all": {"other"},
    },
    "handler": {
        "mine": {"disp", "wait", "appr", "big"},
        "department": {"disp", "wait", "appr", "unb", "big"},
        "unassigned": {"unb"},
        "due_soon": set(),
        "overdue": set(),
        "escalated": set(),
        "awaiting_customer": {"wait"},
        "approvals": set(),  # their own requests, above their limit anyway
        "customer_to_identify": set(),
        "all": {"disp", "wait", "appr", "closed", "unb", "big"},
    },
    "handler_other": {
        "mine": set(),
        "department": {"other"},
        "unassigned": {"other"},
        "due_soon": set(),
        "overdue": set(),
        "escalated": set(),
        "awaiting_customer": set(),
        "approvals": set(),
        "customer_to_identify": set(),
        "all": {"other"},
    },
    "supervisor": {
        "mine": set(),
        "department": set(),
        "unassigned": OPEN_UNASSIGNED,
        "due_soon": {"reg"},
        "overdue": set(),
        "escalated": {"major"},
        "awaiting_customer": {"wait"},
        "approvals": {"appr"},  # 600 元 is above the supervisor's 500
        "customer_to_identify": set(),
        "all": ALL,
    },
    "manager": {
        "mine": set(),
        "department": set(),
        "unassigned": OPEN_UNASSIGNED,
        "due_soon": {"reg"},
        "overdue": set(),
        "escalated": {"major"},
        "awaiting_customer": {"wait"},
        "approvals": {"appr", "big"},  # no upper limit
        "customer_to_identify": set(),
        "all": ALL,
    },
    "visitor": {
        "mine": set(),
        "department": set(),
        "unassigned": OPEN_UNASSIGNED,
        "due_soon": {"reg"},
        "overdue": set(),
        "escalated": {"major"},
        "awaiting_customer": {"wait"},
        "approvals": set(),  # may not decide remedies
        "customer_to_identify": set(),
        "all": ALL,
    },
    "inspector": {
        "mine": set(),
        "department": set(),
        "unassigned": OPEN_UNASSIGNED,
        "due_soon": {"reg"},
        "overdue": set(),
        "escalated": {"major"},
        "awaiting_customer": {"wait"},
        "approvals": set(),
        "customer_to_identify": set(),
        "all": ALL,
    },
}


class TestMembership:
    @pytest.mark.parametrize("persona", list(MEMBERSHIP))
    def test_each_queue_holds_exactly_its_cases(self, world, people, persona):
        actor = people[persona]
        got = {name: names(world, complaint_queue(actor=actor, name=name)) for name in QUEUES}
        assert got == MEMBERSHIP[persona]

    @pytest.mark.parametrize("persona", list(MEMBERSHIP))
    def test_the_tab_counts_match_the_queues(self, world, people, persona):
        counts = complaint_queue_counts(actor=people[persona])
        expected = {name: len(cases) for name, cases in MEMBERSHIP[persona].items()}
        expected["all"] = None  # not counted on every page view: it is every case in scope
        assert counts == expected

    def test_an_agent_keeps_a_case_assigned_to_them_in_their_department(self, world, people, org):
        svc.complaint_dispatch(
            actor=people["supervisor"],
            complaint_id=world["acc"].pk,
            lead_department_id=org["dept"]["customer_service"].pk,
            assignee_id=people["agent_other"].pk,
        )
        assert names(world, complaint_queue(actor=people["agent"], name="mine")) == {"reg", "major"}
        assert names(world, complaint_queue(actor=people["agent_other"], name="mine")) == {"acc"}
        assert names(world, complaint_queue(actor=people["agent_other"], name="department")) == {"acc"}
        assert names(world, complaint_queue(actor=people["supervisor"], name="department")) == {"acc"}

    def test_nobody_sees_their_own_remedy_request_to_approve(self, world, people):
        ApprovalLimit.objects.filter(role=Role.HANDLER).update(max_amount=Decimal(1000))
        assert names(world, complaint_queue(actor=people["handler"], name="approvals")) == set()
        ApprovalLimit.objects.filter(role=Role.AGENT).update(max_amount=Decimal(100))
        assert names(world, complaint_queue(actor=people["agent"], name="approvals")) == {"appr"}

    @pytest.mark.parametrize("persona", ["auditor", "admin"])
    def test_roles_without_cases_have_no_queues(self, world, people, persona):
        with pytest.raises(PermissionDenied):
            complaint_queue(actor=people[persona], name="all")
        with pytest.raises(PermissionDenied):
            complaint_queue_counts(actor=people[persona])

    def test_an_unknown_queue_is_not_found(self, people):
        with pytest.raises(NotFound):
            complaint_queue(actor=people["agent"], name="everything")


class TestDeadlines:
    @pytest.fixture
    def timed(self, sla, cases, clock_at):
        clock_at(T0)
        a = cases.register(level="dissatisfied")  # first response due T0+30min
        b = cases.register(level="very_dissatisfied")  # due T0+20min
        c = cases.make(Status.DISPATCHED)  # second response due T0+24h, reply T0+15d
        return {"a": a, "b": b, "c": c}

    def _queue(self, timed, people, name):
        return names(timed, complaint_queue(actor=people["supervisor"], name=name))

    def test_due_within_the_hour_and_overdue_follow_the_clock(self, timed, people, clock_at):
        assert self._queue(timed, people, "due_soon") == {"a", "b"}
        assert self._queue(timed, people, "overdue") == set()
        clock_at(T0 + timedelta(minutes=25))
        assert self._queue(timed, people, "due_soon") == {"a"}
        assert self._queue(timed, people, "overdue") == {"b"}  # past due, before any sweep
        assert sla_breach() == 1
        assert self._queue(timed, people, "overdue") == {"b"}  # breached and still not met
        assert self._queue(timed, people, "escalated") == {"b"}
        svc.complaint_accept(actor=people["agent"], complaint_id=timed["b"].pk)  # met late: ended
        assert self._queue(timed, people, "overdue") == set()
        clock_at(T0 + timedelta(hours=23, minutes=30))
        assert self._queue(timed, people, "due_soon") == {"c"}
        assert self._queue(timed, people, "overdue") == {"a"}

    def test_nearest_deadline_first_then_oldest_without_one(self, sla, cases, people, clock_at):
        clock_at(T0)
        first = cases.register(level="dissatisfied")  # due T0+30
        clock_at(T0 + timedelta(minutes=1))
        second = cases.register(level="very_dissatisfied")  # due T0+21
        clock_at(T0 + timedelta(minutes=2))
        third = cases.register(level="major")  # due T0+12
        clock_at(T0 + timedelta(minutes=3))
        accepted = cases.make(Status.ACCEPTED)  # reply due in 15 days
        clock_at(T0 + timedelta(minutes=4))
        closed_old = cases.make(Status.CLOSED, fcr=True)
        clock_at(T0 + timedelta(minutes=5))
        closed_new = cases.make(Status.CLOSED, fcr=True)
        qs = complaint_queue(actor=people["supervisor"], name="all")
        assert list(qs.values_list("pk", flat=True)) == [
            third.pk,
            second.pk,
            first.pk,
            accepted.pk,
            closed_old.pk,
            closed_new.pk,
        ]
        assert [c.next_due for c in qs] == [
            T0 + timedelta(minutes=12),
            T0 + timedelta(minutes=21),
            T0 + timedelta(minutes=30),
            T0 + timedelta(days=15, minutes=3),
            None,
            None,
        ]

    @pytest.fixture
    def missed(self, sla, cases, clock_at):
        """Two cases swept as breached, one overdue before any sweep, one running, one closed."""
        clock_at(T0)
        built = {
            "a": cases.register(level="dissatisfied"),  # first response due T0+30min
            "b": cases.register(level="very_dissatisfied"),  # due T0+20min
            "c": cases.make(Status.DISPATCHED),  # second response due T0+24h
            "closed": cases.make(Status.CLOSED, fcr=True),  # no deadline
        }
        clock_at(T0 + timedelta(minutes=1))
        built["d"] = cases.register(level="major")  # due T0+11min
        clock_at(T0 + timedelta(minutes=25))
        assert sla_breach() == 2  # b and d: missed, and still owed
        clock_at(T0 + timedelta(minutes=35))  # a is past due too, not swept yet
        return {k: Complaint.objects.get(pk=v.pk) for k, v in built.items()}

    @staticmethod
    def _order(cases: dict[str, Complaint], qs: Any) -> list[str]:
        """The cases' names in the queue's order (registered cases have no ticket number yet)."""
        by_pk = {c.pk: k for k, c in cases.items()}
        return [by_pk[pk] for pk in qs.values_list("pk", flat=True)]

    def test_most_overdue_first_swept_or_not_then_the_next_deadline_then_none(self, missed, people):
        m = missed
        qs = complaint_queue(actor=people["supervisor"], name="all")
        assert self._order(m, qs) == ["d", "b", "a", "c", "closed"]
        assert [c.next_due for c in qs] == [
            T0 + timedelta(minutes=11),
            T0 + timedelta(minutes=20),
            T0 + timedelta(minutes=30),
            T0 + timedelta(hours=24),
            None,
        ]
        overdue = complaint_queue(actor=people["supervisor"], name="overdue")
        assert self._order(m, overdue) == ["d", "b", "a"]

    def test_a_missed_deadline_met_late_no_longer_leads(self, missed, people):
        m = missed
        svc.complaint_accept(actor=people["agent"], complaint_id=m["d"].pk)  # reply due in 15 days
        qs = complaint_queue(actor=people["supervisor"], name="all")
        assert self._order(m, qs) == ["b", "a", "c", "d", "closed"]
        assert Complaint.objects.get(pk=m["d"].pk).next_due_at == T0 + timedelta(
            days=15, minutes=1
        )  # the reply, from registration

    @pytest.mark.parametrize(
        ("sort", "order"),
        [
            ("", ("d", "b", "a", "c", "closed")),
            ("deadline", ("d", "b", "a", "c", "closed")),
            ("-deadline", ("closed", "c", "a", "b", "d")),
            ("registered", ("a", "b", "c", "closed", "d")),
            ("-registered", ("d", "closed", "c", "b", "a")),
            ("ticket", ("c", "closed", "a", "b", "d")),  # no ticket number yet: last
            ("-ticket", ("d", "b", "a", "closed", "c")),
            ("nonsense", ("d", "b", "a", "c", "closed")),
        ],
    )
    def test_each_sort(self, missed, people, sort, order):
        qs = complaint_queue(actor=people["supervisor"], name="all", filters=QueueFilters(sort=sort))
        assert self._order(missed, qs) == list(order)

    def test_the_headers_sort_with_links_and_aria_sort_kept_in_the_address(self, missed, people, client):
        client.force_login(people["supervisor"])
        html = client.get("/queues/all/", **EN).content.decode()
        assert (
            '<th aria-sort="ascending"><a class="sort" href="?sort=-deadline">Next deadline</a></th>' in html
        )
        assert '<th><a class="sort" href="?sort=registered">Registered</a></th>' in html
        assert '<th><a class="sort" href="?sort=ticket">Ticket</a></th>' in html
        response = client.get("/queues/all/?sort=-registered&page=1&level=dissatisfied", **EN)
        html = response.content.decode()
        assert [r.case.pk for r in response.context["rows"]] == [missed[k].pk for k in ("closed", "c", "a")]
        assert (
            '<th aria-sort="descending"><a class="sort" href="?sort=registered&amp;level=dissatisfied">'
            "Registered</a></th>" in html
        )
        assert (
            '<th><a class="sort" href="?sort=deadline&amp;level=dissatisfied">Next deadline</a></th>' in html
        )
        assert '<input type="hidden" name="sort" value="-registered" id="id_sort">' in html
        # Applying filters keeps the order: the form posts it back and the address carries it.
        posted = client.post("/queues/all/", {"sort": "-registered", "level": "major", "q": ""})
        assert posted.status_code == 302
        assert posted["Location"] == "/queues/all/?sort=-registered&level=major"

    def test_the_page_shows_the_remaining_time_and_overdue_in_red(self, timed, people, client, clock_at):
        clock_at(T0 + timedelta(minutes=25))
        client.force_login(people["supervisor"])
        html = client.get("/queues/all/", **EN).content.decode()
        assert '11-23 10:20<br><span class="overdue">overdue 5min</span>' in html
        assert '11-23 10:30<br><span class="due-soon">5min</span>' in html
        assert '11-24 10:00<br><span class="">23h 35min</span>' in html


class TestFilters:
    @pytest.fixture
    def spread(self, sla, cases, org, people, clock_at):
        d = org["dept"]
        clock_at(datetime(2026, 11, 23, 10, 0, tzinfo=SH))
        one = cases.make(Status.ACCEPTED)
        clock_at(datetime(2026, 11, 24, 0, 30, tzinfo=SH))  # 23 Nov 16:30 UTC: a new local day
        two = cases.register(
            channel="web",
            level="major",
            phone="139 1234 5678",
            customer_name="李四",
            category_id=org["outage"].pk,
            description="小区宽带断网两天，无法办公",
            region_id=org["urban"].pk,
        )
        svc.complaint_accept(actor=people["agent"], complaint_id=two.pk)
        svc.complaint_dispatch(actor=people["agent"], complaint_id=two.pk, lead_department_id=d["network"].pk)
        clock_at(datetime(2026, 11, 25, 9, 0, tzinfo=SH))
        three = cases.register(service_number="13700001111", description="宽带 月租 多扣")
        return {"one": one, "two": two, "three": Complaint.objects.get(pk=three.pk)}

    def _find(self, spread, people, **filters):
        return names(
            spread, complaint_queue(actor=people["supervisor"], name="all", filters=QueueFilters(**filters))
        )

    @pytest.mark.parametrize(
        ("filters", "expected"),
        [
            ({}, {"one", "two", "three"}),
            ({"status": "accepted"}, {"one"}),
            ({"status": "registered"}, {"three"}),
            ({"level": "major"}, {"two"}),
            ({"channel": "web"}, {"two"}),
            ({"channel": "hotline"}, {"one", "three"}),
            ({"registered_from": date(2026, 11, 24)}, {"two", "three"}),
            ({"registered_to": date(2026, 11, 23)}, {"one"}),
            ({"registered_from": date(2026, 11, 24), "registered_to": date(2026, 11, 24)}, {"two"}),
            ({"status": "accepted", "level": "major"}, set()),
        ],
    )
    def test_each_filter(self, spread, people, filters, expected):
        assert self._find(spread, people, **filters) == expected

    def test_the_region(self, spread, people, org):
        assert self._find(spread, people, region_id=org["urban"].pk) == {"two"}

    def test_a_top_level_category_includes_its_sub_categories(self, spread, people, org):
        assert self._find(spread, people, category_id=org["network"].pk) == {"two"}
        assert self._find(spread, people, category_id=org["outage"].pk) == {"two"}
        assert self._find(spread, people, category_id=org["billing"].pk) == {"one", "three"}
        assert self._find(spread, people, category_id=org["wrong_charge"].pk) == {"one", "three"}

    def test_the_lead_department(self, spread, people, org):
        assert self._find(spread, people, department_id=org["dept"]["network"].pk) == {"two"}
        assert self._find(spread, people, department_id=org["dept"]["billing"].pk) == set()

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("TS20261123000001", {"one"}),  # exact ticket number
            ("ts20261123", {"one"}),  # its start, any case
            ("TS2026112", {"one", "two"}),  # 'two' was numbered on the 24th
            ("TS20261124000001", {"two"}),
            ("TS20261125", set()),  # 'three' is not accepted yet: no ticket
            ("13912345678", {"two"}),  # the customer's phone
            ("+86 139-1234-5678", {"two"}),
            ("139 1234 5678", {"two"}),
            ("13700001111", {"three"}),  # the service number
            ("13812348000", {"one", "three"}),  # the default customer's phone
            ("宽带", {"two", "three"}),  # words of the description
            ("宽带 断网", {"two"}),
            ("彩铃", {"one"}),
            ("1391234", set()),  # not a whole number: searched as words
        ],
    )
    def test_search(self, spread, people, text, expected):
        assert self._find(spread, people, q=text) == expected

    def test_the_page_applies_the_filters_from_the_query(self, spread, people, client, org):
        client.force_login(people["supervisor"])
        response = client.get(f"/queues/all/?category={org['network'].pk}&q=宽带", **EN)
        assert response.status_code == 200
        assert [r.case.pk for r in response.context["rows"]] == [spread["two"].pk]
        assert [str(m) for m in response.context["messages"]] == []

    def test_a_phone_search_is_posted_and_never_travels_in_the_address(self, spread, people, client, org):
        client.force_login(people["supervisor"])
        data = {"q": "139 1234 5678", "category": org["network"].pk, "status": "", "csrfmiddlewaretoken": "x"}
        response = client.post("/queues/all/", data, **EN)
        assert response.status_code == 302
        location = response["Location"]
        assert "1234" not in location
        assert location.startswith(f"/queues/all/?category={org['network'].pk}&qt=")
        page = client.get(location, **EN)
        assert [r.case.pk for r in page.context["rows"]] == [spread["two"].pk]
        assert 'value="139 1234 5678"' in page.content.decode()  # in the search box, not the address
        assert "1234" not in page.context["query"]  # the bulk form and page links keep the token
        # Words are not hidden: they stay in the address as before.
        words = client.post("/queues/all/", {"q": "宽带"}, **EN)
        assert words["Location"] == "/queues/all/?q=%E5%AE%BD%E5%B8%A6"

    def test_a_phone_number_in_the_address_is_ignored_with_a_message(self, spread, people, client):
        client.force_login(people["supervisor"])
        response = client.get("/queues/all/?q=13912345678", **EN)
        assert response.status_code == 200
        assert {r.case.pk for r in response.context["rows"]} == {p.pk for p in spread.values()}
        assert [str(m) for m in response.context["messages"]] == [
            "Search for a phone number with the search box: it is not taken from the address."
        ]
        assert 'value="13912345678"' not in response.content.decode()

    def test_a_search_token_of_another_session_finds_nothing_hidden(self, spread, people, client, org):
        client.force_login(people["supervisor"])
        location = client.post("/queues/all/", {"q": "13912345678"}, **EN)["Location"]
        other = Client()
        other.force_login(people["manager"])
        page = other.get(location, **EN)
        assert page.status_code == 200
        assert "13912345678" not in page.content.decode()
        assert {r.case.pk for r in page.context["rows"]} == {p.pk for p in spread.values()}

    def test_invalid_values_are_ignored_with_a_message(self, spread, people, client):
        client.force_login(people["supervisor"])
        response = client.get(
            "/queues/all/?status=bogus&category=abc&region=99999&registered_from=2026-13-45"
            "&level=major&size=500&page=x",
            **EN,
        )
        assert response.status_code == 200
        assert [r.case.pk for r in response.context["rows"]] == [spread["two"].pk]  # level still applies
        assert [str(m) for m in response.context["messages"]] == [
            "The filter “Status” was ignored: Select a valid choice. bogus is not one of the available choices.",
            "The filter “Category” was ignored: Select a valid choice. abc is not one of the available choices.",
            "The filter “Region” was ignored: Select a valid choice. 99999 is not one of the available choices.",
            "The filter “Registered from” was ignored: Enter a valid date.",
            "The filter “Per page” was ignored: Ensure this value is less than or equal to 100.",
        ]

    def test_an_end_before_the_start_is_ignored_with_a_message(self, spread, people, client):
        client.force_login(people["supervisor"])
        response = client.get("/queues/all/?registered_from=2026-11-25&registered_to=2026-11-23", **EN)
        assert [r.case.pk for r in response.context["rows"]] == [spread["three"].pk]  # the start applies
        assert [str(m) for m in response.context["messages"]] == [
            "The filter “Registered until” was ignored: The end date is before the start date."
        ]


class TestPage:
    def test_the_page_lists_the_queue_with_tabs_and_counts(self, world, people, client):
        client.force_login(people["handler"])
        response = client.get("/queues/department/", **EN)
        assert response.status_code == 200
        assert response.templates[0].name == "web/queues/queue.html"
        html = response.content.decode()
        tabs = re.findall(r'<a href="/queues/(\w+)/"[^>]*>[^<]+<span class="count">(\d+)</span>', html)
        assert tabs == [
            (name, str(len(cases))) for name, cases in MEMBERSHIP["handler"].items() if name != "all"
        ]
        assert '<a href="/queues/all/">All cases</a>' in html
        assert 'class="active" aria-current="page">My department <span class="count">5</span>' in html
        shown = [r.case.pk for r in response.context["rows"]]
        assert {world[k].pk for k in ("disp", "wait", "appr", "unb", "big")} == set(shown)
        assert len(shown) == 5
        assert "5 cases" in html
        disp = world["disp"]
        assert f'<a href="/cases/{disp.pk}/">{disp.ticket_no}</a>' in html
        assert '<span class="badge status-dispatched">Dispatched</span>' in html
        assert "张*" in html
        assert "138****8000" in html
        assert "13812348000" not in html  # masked
        assert "张三" not in html

    def test_a_handler_cannot_find_another_departments_case(self, world, people, client):
        client.force_login(people["handler"])
        other = world["other"]
        response = client.get(f"/queues/all/?q={other.ticket_no}", **EN)
        assert response.context["rows"] == []
        assert f"{other.ticket_no}</a>" not in response.content.decode()
        assert "No cases here." in response.content.decode()

    def test_pagination_counts(self, sla, cases, people, client, clock_at):
        for minute in range(23):
            clock_at(T0 + timedelta(minutes=minute))
            cases.register()
        client.force_login(people["agent"])
        first = client.get("/queues/mine/?size=10", **EN)
        page = first.context["page"]
        assert (page.paginator.count, page.paginator.num_pages, len(first.context["rows"])) == (23, 3, 10)
        html = first.content.decode()
        assert "23 cases · showing 1–10" in html
        assert "Page 1 of 3" in html
        assert 'href="?size=10&amp;page=2">Next</a>' in html
        last = client.get("/queues/mine/?size=10&page=3", **EN)
        assert len(last.context["rows"]) == 3
        assert "23 cases · showing 21–23" in last.content.decode()
        beyond = client.get("/queues/mine/?size=10&page=99", **EN)
        assert beyond.context["page"].number == 3
        default = client.get("/queues/mine/", **EN)
        assert len(default.context["rows"]) == 23
        assert default.context["page"].paginator.per_page == 25

    def test_a_description_with_a_script_is_shown_as_text(self, sla, cases, people, client):
        cases.register(description="<script>alert('x')</script>")
        client.force_login(people["agent"])
        html = client.get("/queues/mine/", **EN).content.decode()
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
        assert "<script>alert(" not in html

    @pytest.mark.parametrize("persona", ["auditor", "admin"])
    def test_roles_without_cases_get_403(self, world, people, client, persona, unchanged):
        client.force_login(people[persona])
        assert client.get("/queues/mine/", **EN).status_code == 403
        with unchanged():
            response = client.post(
                "/queues/mine/bulk/",
                {"action": "assign", "assignee": people["handler"].pk, "cases": [world["unb"].pk]},
            )
        assert response.status_code == 403

    def test_an_unknown_queue_is_404(self, people, client):
        client.force_login(people["agent"])
        assert client.get("/queues/everything/", **EN).status_code == 404

    def test_anonymous_visitors_sign_in_first(self, client):
        response = client.get("/queues/mine/")
        assert (response.status_code, response["Location"]) == (302, "/accounts/login/?next=/queues/mine/")

    def test_roles_that_cannot_dispatch_see_no_bulk_bar_and_may_not_post(
        self, world, people, client, unchanged
    ):
        client.force_login(people["inspector"])
        response = client.get("/queues/all/", **EN)
        assert response.context["bulk_form"] is None
        assert 'name="cases"' not in response.content.decode()
        with unchanged():
            response = client.post(
                "/queues/all/bulk/",
                {"action": "assign", "assignee": people["handler"].pk, "cases": [world["unb"].pk]},
                **EN,
            )
        assert response.status_code == 403

    def test_the_same_number_of_queries_for_5_and_50_rows(self, sla, cases, people, client, org, clock_at):
        clock_at(T0)
        for i in range(50):
            c = cases.register(
                level="major" if i % 3 else "dissatisfied",
                description=f"账单{i}：宽带月租多扣" if i % 10 == 0 else f"账单{i}：彩铃费用",
            )
            if i % 2:
                svc.complaint_accept(actor=people["agent"], complaint_id=c.pk)
                svc.complaint_dispatch(
                    actor=people["agent"],
                    complaint_id=c.pk,
                    lead_department_id=org["dept"]["billing"].pk,
                    assignee_id=people["handler"].pk,
                )
        client.force_login(people["supervisor"])
        counted = {}
        for words, rows in (("宽带", 5), ("账单", 50)):
            with CaptureQueriesContext(connection) as ctx:
                response = client.get(f"/queues/all/?size=50&q={words}", **EN)
            assert len(response.context["rows"]) == rows
            counted[rows] = [q["sql"] for q in ctx.captured_queries]
        # + 2: the triage flags of the page's rows (high risk; repeat/duplicate links); + 1: the
        # saved views beside the queues
        assert len(counted[5]) == len(counted[50]) == 14


def _events(c: Complaint) -> list[tuple[str, dict[str, Any]]]:
    return list(ComplaintEvent.objects.filter(complaint=c).order_by("id").values_list("kind", "payload"))


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


class TestBulk:
    @pytest.fixture
    def handler2(self, org) -> User:
        return User.objects.create_user(
            username="handler2", password="pw", role=Role.HANDLER, department=org["dept"]["billing"]
        )

    def test_dispatch_does_each_case_and_reports_the_one_refused(self, world, people, client, org):
        acc, major, reg = world["acc"], world["major"], world["reg"]
        before = {k: _events(world[k]) for k in ("acc", "major", "reg")}
        reg_row = Complaint.objects.filter(pk=reg.pk).values().get()
        client.force_login(people["agent"])
        response = client.post(
            "/queues/mine/bulk/?level=major",
            {
                "action": "dispatch",
                "department": org["dept"]["billing"].pk,
                "assignee": people["handler"].pk,
                "cases": [acc.pk, reg.pk, major.pk],
            },
            **EN,
        )
        assert (response.status_code, response["Location"]) == (302, "/queues/mine/?level=major")
        page = client.get(response["Location"], **EN)
        assert _messages(page) == [
            f"Dispatched 2 case(s): {acc.ticket_no}, {major.ticket_no}.",
            f"#{reg.pk} was not changed: Case #{reg.pk} is 'Registered' and cannot become 'Dispatched'.",
        ]
        for key in ("acc", "major"):
            c = Complaint.objects.get(pk=world[key].pk)
            assert (c.status, c.lead_department, c.assignee) == (
                "dispatched",
                org["dept"]["billing"],
                people["handler"],
            )
            new = _events(c)[len(before[key]) :]
            assert new == [
                (
                    "dispatched",
                    {
                        "lead_department": "billing",
                        "previous_lead_department_id": None,
                        "cooperating_departments": [],
                        "assignee": "handler",
                        "note": "",
                    },
                )
            ]
        assert _events(reg) == before["reg"]
        assert Complaint.objects.filter(pk=reg.pk).values().get() == reg_row

    def test_assign_skips_cases_outside_the_handlers_scope_and_closed_ones(
        self, world, people, client, handler2
    ):
        unb, other, closed = world["unb"], world["other"], world["closed"]
        before = {k: _events(world[k]) for k in ("unb", "other", "closed")}
        rows = {k: Complaint.objects.filter(pk=world[k].pk).values().get() for k in ("other", "closed")}
        client.force_login(people["handler"])
        response = client.post(
            "/queues/department/bulk/",
            {"action": "assign", "assignee": handler2.pk, "cases": [other.pk, unb.pk, closed.pk]},
            follow=True,
            **EN,
        )
        assert response.status_code == 200
        assert _messages(response) == [
            f"Assigned 1 case(s): {unb.ticket_no}.",
            f"#{other.pk} was not changed: No such case.",  # not even its ticket number is shown
            f"{closed.ticket_no} was not changed: Case {closed.ticket_no} is no longer open.",
        ]
        assert other.ticket_no not in response.content.decode()
        assert Complaint.objects.get(pk=unb.pk).assignee == handler2
        assert _events(unb)[len(before["unb"]) :] == [
            ("assigned", {"assignee": "handler2", "previous": None})
        ]
        for key in ("other", "closed"):
            assert _events(world[key]) == before[key]
            assert Complaint.objects.filter(pk=world[key].pk).values().get() == rows[key]

    def test_assign_to_someone_outside_the_lead_department_is_refused_per_case(
        self, world, people, client, handler2
    ):
        client.force_login(people["supervisor"])
        unb, other = world["unb"], world["other"]
        response = client.post(
            "/queues/unassigned/bulk/",
            {"action": "assign", "assignee": handler2.pk, "cases": [unb.pk, other.pk]},
            follow=True,
            **EN,
        )
        assert _messages(response) == [
            f"Assigned 1 case(s): {unb.ticket_no}.",
            f"{other.ticket_no} was not changed: handler2 is not a member of the lead department.",
        ]
        assert Complaint.objects.get(pk=other.pk).assignee is None

    def test_an_invalid_bulk_form_is_shown_again_with_its_errors(self, world, people, client, unchanged):
        client.force_login(people["agent"])
        with unchanged():
            response = client.post("/queues/mine/bulk/", {"action": "dispatch", "cases": []}, **EN)
        assert response.status_code == 400
        html = response.content.decode()
        assert "Select at least one case." in html
        assert "Choose the department to dispatch the cases to." in html
        with unchanged():
            response = client.post(
                "/queues/mine/bulk/", {"action": "assign", "cases": [world["acc"].pk, "x"]}, **EN
            )
        assert response.status_code == 400
        assert "The selection is not a list of cases." in response.content.decode()
        assert "Choose the person to assign the cases to." in response.content.decode()

    def test_the_ticks_are_kept_when_the_form_is_shown_again(self, world, people, client):
        client.force_login(people["agent"])
        response = client.post("/queues/mine/bulk/", {"action": "assign", "cases": [world["acc"].pk]}, **EN)
        assert response.status_code == 400
        assert f'value="{world["acc"].pk}" aria-label="Select {world["acc"].ticket_no}" checked>' in (
            response.content.decode()
        )

    def test_the_bulk_route_only_takes_posts(self, people, client):
        client.force_login(people["agent"])
        assert client.get("/queues/mine/bulk/").status_code == 405


def test_the_reserved_route_names_resolve_to_the_documented_paths():
    assert reverse("queue", kwargs={"name": "due_soon"}) == "/queues/due_soon/"
    assert reverse("queue-bulk", kwargs={"name": "mine"}) == "/queues/mine/bulk/"


class TestCappedCounts:
    """Counts stop at a cap: exact below it, "more than" above it (a million cases cost no more)."""

    def test_the_tab_counts_stop_one_past_the_cap(self, world, people):
        counts = complaint_queue_counts(actor=people["supervisor"], cap=2)
        exact = {name: len(cases) for name, cases in MEMBERSHIP["supervisor"].items()}
        assert counts == {name: None if name == "all" else min(n, 3) for name, n in exact.items()}

    def test_the_page_shows_a_count_above_the_cap_with_a_plus(self, world, people, client, monkeypatch):
        monkeypatch.setattr(queue_views, "TAB_COUNT_CAP", 2)
        client.force_login(people["agent"])
        html = client.get("/queues/awaiting_customer/", **EN).content.decode()
        tabs = dict(
            re.findall(r'<a href="/queues/(\w+)/"[^>]*>[^<]+<span class="count">([^<]+)</span>', html)
        )
        assert tabs == {
            "mine": "2+",  # 3 cases
            "department": "0",
            "unassigned": "2+",  # 4
            "due_soon": "1",
            "overdue": "0",
            "escalated": "1",
            "awaiting_customer": "1",
            "approvals": "0",
            "customer_to_identify": "0",
        }

    def test_a_queue_above_the_list_cap_says_more_and_pages_through_the_first(
        self, sla, cases, people, client, clock_at, monkeypatch
    ):
        monkeypatch.setattr(queue_views, "LIST_COUNT_CAP", 20)
        for minute in range(23):
            clock_at(T0 + timedelta(minutes=minute))
            cases.register()
        client.force_login(people["agent"])
        first = client.get("/queues/mine/?size=10", **EN)
        paginator = first.context["page"].paginator
        assert (paginator.count, paginator.more, paginator.num_pages) == (20, True, 2)
        html = first.content.decode()
        assert "more than 20 cases · showing 1–10" in html
        assert "Page 1 of 2 · narrow the filters to see beyond the first 20" in html
        last = client.get("/queues/mine/?size=10&page=9", **EN)
        assert last.context["page"].number == 2
        assert len(last.context["rows"]) == 10
        monkeypatch.setattr(queue_views, "LIST_COUNT_CAP", 23)
        exact = client.get("/queues/mine/?size=10", **EN)
        assert (exact.context["page"].paginator.count, exact.context["page"].paginator.more) == (23, False)
        assert "23 cases · showing 1–10" in exact.content.decode()

    def test_a_queue_that_cannot_hold_cases_costs_no_query(self, people):
        with CaptureQueriesContext(connection) as ctx:
            assert capped_counts({"none": Complaint.objects.filter(pk__in=[])}, 10) == {"none": 0}
        assert ctx.captured_queries == []


class TestDescriptionSearch:
    """Words of the description, Chinese included: every word must occur (case aside); on
    PostgreSQL the bigram index finds the candidates and the exact test keeps the answer exact."""

    @pytest.fixture
    def described(self, sla, cases, clock_at) -> dict[str, Complaint]:
        clock_at(T0)
        texts = {
            "bill": "用户反映账单中多收了5G套餐费用",
            "apart": "账单，单中有误",  # the bigrams of 账单中 without the word
            "card": "用户要求补办SIM卡",
            "wifi": "家里WiFi信号差",
            "quote": "客户说'账号'被盗",
        }
        return {key: cases.register(description=text) for key, text in texts.items()}

    def _find(self, described, people, text):
        qs = complaint_queue(actor=people["supervisor"], name="all", filters=QueueFilters(q=text))
        return names(described, qs)

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("账单", {"bill", "apart"}),
            ("账单中", {"bill"}),  # 账单 and 单中 apart do not make the word
            ("单中", {"bill", "apart"}),
            ("卡", {"card"}),  # one character, at the very end
            ("信", {"wifi"}),
            ("5g套餐", {"bill"}),  # any case
            ("wifi", {"wifi"}),
            ("WIFI 信号", {"wifi"}),
            ("账单 卡", set()),  # every word must occur
            ("账单，", {"apart"}),  # punctuation is part of the word
            ("'账号'", {"quote"}),
            ("'", {"quote"}),
            ("账户", set()),
        ],
    )
    def test_words(self, described, people, text, expected):
        assert self._find(described, people, text) == expected

    @pytest.mark.skipif(connection.vendor != "postgresql", reason="the bigram index is PostgreSQL's")
    def test_postgresql_answers_from_the_bigram_index(self, described, people):
        qs = Complaint.objects.filter(description_q("账单中 卡"))
        assert names(described, qs) == set()
        with connection.cursor() as cursor:  # only a bitmap scan left: of the index that answers it
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_indexscan = off")
            plan = qs.explain()
        assert "Bitmap Index Scan on complaint_description_bigram_idx" in plan


@pytest.mark.parametrize("value", [None, "", 2, "4", [3]])
@pytest.mark.parametrize("attrs", [None, {"id": "id_x", "class": "a&b", "required": True, "disabled": False}])
def test_the_fast_select_writes_what_djangos_select_writes(value, attrs):
    choices = [("", "Any"), (1, "a<b"), ("组", [(2, "x"), (3, 'y"z')]), (4, "四")]
    expected = forms.Select(choices=choices).render("f", value, attrs)
    assert FastSelect(choices=choices).render("f", value, attrs) == expected


@pytest.mark.parametrize("cap", [1, 2, 10])
def test_a_word_search_pages_the_same_cases_whether_its_matches_are_few_or_many(
    sla, cases, people, clock_at, cap
):
    """Few matches (at most ``cap``): read by id; many: the queue walked with the exact test."""
    clock_at(T0)
    texts = ["账单有误", "宽带断网", "账单多收", "账单中心", "信号差"]
    made = [
        cases.register(description=text, level="major" if i % 2 else "dissatisfied")
        for i, text in enumerate(texts)
    ]
    filters = QueueFilters(q="账单")
    page = complaint_queue_page(actor=people["supervisor"], name="all", filters=filters, now=T0, cap=cap)
    expected = list(complaint_queue(actor=people["supervisor"], name="all", filters=filters, now=T0))
    assert {c.pk for c in expected} == {made[0].pk, made[2].pk, made[3].pk}
    assert [c.pk for c in page.cases] == [c.pk for c in expected]
    assert page.known_count == min(3, cap + 1)
    assert (
        complaint_queue_page(
            actor=people["supervisor"], name="all", filters=QueueFilters(q="TS2026"), now=T0, cap=cap
        ).known_count
        is None
    )  # a ticket number: counted the ordinary way


class TestSavedViews:
    """Saved views: one's own, shared with one's team; changed only by the owner or a supervisor of
    the team, through the services; a refused change leaves every table as it was."""

    WEB = Origin(via="web", ip="127.0.0.1")

    @pytest.fixture
    def mine(self, people):
        return saved_view_create(
            actor=people["agent"],
            name="  Major   today ",
            queue="unassigned",
            query="level=major&page=3&qt=abc&sort=-registered&q=13812348000&size=50&bogus=1",
            origin=self.WEB,
        )

    @pytest.fixture
    def team(self, people):
        return saved_view_create(
            actor=people["agent"], name="Team overdue", queue="overdue", query="channel=hotline", shared=True
        )

    def test_a_view_keeps_filters_and_order_but_no_page_token_or_phone(self, mine, people):
        view = SavedView.objects.get(pk=mine.pk)
        assert (view.name, view.queue, view.query) == (
            "Major today",
            "unassigned",
            "level=major&sort=-registered&size=50",
        )
        assert (view.owner, view.department, view.updated_by, view.updated_via) == (
            people["agent"],
            None,
            people["agent"],
            "web",
        )

    def test_own_views_for_the_owner_shared_ones_for_the_team(self, mine, team, people):
        assert [v.name for v in saved_views_for(people["agent"])] == ["Major today", "Team overdue"]
        assert [v.name for v in saved_views_for(people["agent_other"])] == ["Team overdue"]
        assert [v.name for v in saved_views_for(people["supervisor"])] == ["Team overdue"]
        assert saved_views_for(people["handler"]) == []  # billing: another team
        assert saved_views_for(people["auditor"]) == []

    def test_the_owner_renames_refilters_and_unshares(self, team, people):
        saved_view_update(
            actor=people["agent"],
            view_id=team.pk,
            name="Mine now",
            queue="mine",
            query="sort=ticket",
            shared=False,
        )
        view = SavedView.objects.get(pk=team.pk)
        assert (view.name, view.queue, view.query, view.department_id) == (
            "Mine now",
            "mine",
            "sort=ticket",
            None,
        )
        assert saved_views_for(people["agent_other"]) == []

    def test_a_supervisor_of_the_team_edits_and_deletes_a_shared_view(self, team, people):
        saved_view_update(
            actor=people["supervisor"], view_id=team.pk, query="sort=-deadline", origin=self.WEB
        )
        view = SavedView.objects.get(pk=team.pk)
        assert (view.query, view.owner, view.updated_by, view.updated_via) == (
            "sort=-deadline",
            people["agent"],
            people["supervisor"],
            "web",
        )
        saved_view_delete(actor=people["supervisor"], view_id=team.pk, origin=self.WEB)
        assert not SavedView.objects.filter(pk=team.pk).exists()
        audit = AuditEvent.objects.get(object_type="saved_view")
        assert (audit.actor, audit.kind, audit.object_id, audit.payload["name"]) == (
            people["supervisor"],
            "config.changed",
            str(team.pk),
            "Team overdue",
        )

    @pytest.mark.parametrize(
        ("persona", "view", "error"),
        [
            ("agent_other", "team", PermissionDenied),  # in the team, not the owner nor a supervisor
            ("supervisor", "mine", NotFound),  # not shared: not even seen
            ("handler", "team", NotFound),  # another team
            ("manager", "team", NotFound),  # a supervisor, of another team
            ("auditor", "team", PermissionDenied),  # reads no cases
        ],
    )
    def test_others_may_not_change_or_delete(self, mine, team, people, unchanged, persona, view, error):
        target = {"mine": mine, "team": team}[view]
        with unchanged(), pytest.raises(error):
            saved_view_update(actor=people[persona], view_id=target.pk, name="x", query="level=crisis")
        with unchanged(), pytest.raises(error):
            saved_view_delete(actor=people[persona], view_id=target.pk)

    def test_only_the_owner_shares_or_unshares(self, team, people, unchanged):
        with unchanged(), pytest.raises(PermissionDenied):
            saved_view_update(actor=people["supervisor"], view_id=team.pk, query="level=major", shared=False)

    @pytest.mark.parametrize(
        ("fields", "message"),
        [
            ({"name": " "}, "Give the view a name."),
            ({"name": "x" * 61}, "A view's name has at most 60 characters."),
            ({"name": "Major today"}, "A view named “Major today” already exists."),
            ({"queue": "everything"}, "No such queue: everything."),
            ({"query": "q=" + "字" * 200}, "These filters are too long to save."),
        ],
    )
    def test_bad_input_is_refused_and_nothing_is_written(self, mine, people, unchanged, fields, message):
        given = {"name": "Another", "queue": "mine", "query": "", **fields}
        with translation.override("en"), unchanged(), pytest.raises(ValidationError) as refused:
            saved_view_create(actor=people["agent"], **given)
        assert refused.value.message == message

    def test_sharing_needs_a_department(self, people, org, unchanged):
        people["agent"].department = None
        people["agent"].save(update_fields=["department"])
        with unchanged(), pytest.raises(ValidationError):
            saved_view_create(actor=people["agent"], name="x", queue="mine", query="", shared=True)

    def test_the_page_saves_lists_and_opens_a_view(self, world, people, client):
        client.force_login(people["agent"])
        posted = client.post(
            "/queues/all/views/?level=major&sort=-registered&page=2", {"name": "Majors", "shared": "on"}
        )
        assert posted.status_code == 302
        assert posted["Location"] == "/queues/all/?level=major&sort=-registered&page=2"
        view = SavedView.objects.get()
        assert (view.name, view.queue, view.query, view.department_id) == (
            "Majors",
            "all",
            "level=major&sort=-registered",
            people["agent"].department_id,
        )
        html = client.get("/queues/all/?level=major&sort=-registered", **EN).content.decode()
        assert (
            '<a href="/queues/all/?level=major&amp;sort=-registered" aria-current="page" class="active">Majors</a>'
            in html
        )
        assert f'action="/queues/all/views/{view.pk}/delete/?level=major&amp;sort=-registered"' in html
        other = client.get("/queues/mine/", **EN).content.decode()
        assert '<a href="/queues/all/?level=major&amp;sort=-registered">Majors</a>' in other
        # A team member sees it, marked as the team's, and gets no buttons to change it.
        client.force_login(people["agent_other"])
        html = client.get("/queues/mine/", **EN).content.decode()
        assert (
            '<a href="/queues/all/?level=major&amp;sort=-registered">Majors</a> <span class="muted">(team · agent)</span>'
            in html
        )
        assert f"/views/{view.pk}/delete/" not in html

    def test_the_page_refuses_a_team_members_change_and_keeps_the_view(
        self, world, people, client, unchanged
    ):
        view = saved_view_create(
            actor=people["agent"], name="Majors", queue="all", query="level=major", shared=True
        )
        client.force_login(people["agent_other"])
        with unchanged():
            assert client.post(f"/queues/all/views/{view.pk}/delete/").status_code == 403
            assert client.post(f"/queues/mine/views/{view.pk}/update/?level=crisis").status_code == 403
        client.force_login(people["handler"])
        with unchanged():
            assert client.post(f"/queues/all/views/{view.pk}/delete/").status_code == 404

    def test_the_supervisor_updates_a_shared_view_from_the_page(self, world, people, client):
        view = saved_view_create(
            actor=people["agent"], name="Majors", queue="all", query="level=major", shared=True
        )
        client.force_login(people["supervisor"])
        response = client.post(f"/queues/overdue/views/{view.pk}/update/?sort=-deadline&page=4")
        assert response.status_code == 302
        view = SavedView.objects.get(pk=view.pk)
        assert (view.queue, view.query, view.updated_by) == (
            "overdue",
            "sort=-deadline",
            people["supervisor"],
        )

    def test_a_bad_name_shows_the_page_again_with_the_error(self, world, people, client, unchanged):
        saved_view_create(actor=people["agent"], name="Majors", queue="all", query="")
        client.force_login(people["agent"])
        with unchanged():
            response = client.post("/queues/all/views/?level=major", {"name": "Majors"}, **EN)
        assert response.status_code == 400
        assert "A view named “Majors” already exists." in response.content.decode()
        with unchanged():
            assert client.post("/queues/all/views/", {"name": ""}, **EN).status_code == 400
