"""Triage where staff see it: the "to classify" queue page, the risk and repeat flags on the queue
rows and the case page, the duplicate merge button, the major incident pages and their dashboard
panel. Denied paths change nothing."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import PHONE
from tousu.audit.models import AuditEvent
from tousu.common.origin import EMAIL, PORTAL
from tousu.complaints import services as svc
from tousu.complaints.events import EventKind
from tousu.complaints.models import Complaint, ComplaintEvent, Reply
from tousu.complaints.states import Status
from tousu.triage.models import CaseLink, Classification, Incident, LinkKind, Outcome
from tousu.triage.services import triage_clusters, triage_intake

OUTAGE_TEXT = "家里宽带断网三天了，光猫红灯一直闪，要求尽快修复"
CHARGE = "用户反映3月账单被收取30元彩铃费用，从未订购。"
REPLY = "经核查为光缆故障，已于今日修复，给您带来不便深表歉意。"


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.TOUSU_TRIAGE_LAG_SECONDS = 0
    settings.TOUSU_TRIAGE_AUTO_CONFIDENCE = 101  # never sure enough: every case waits for staff
    settings.TOUSU_TRIAGE_ESCALATION_RISK = 85
    settings.TOUSU_TRIAGE_REPEAT_DAYS = 30
    settings.TOUSU_TRIAGE_DUPLICATE_MINUTES = 10
    settings.TOUSU_TRIAGE_CLUSTER_SIZE = 3
    settings.TOUSU_TRIAGE_CLUSTER_MINUTES = 30
    settings.TOUSU_TRIAGE_CRISIS_SIZE = 5


@pytest.fixture
def web(client):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def _email_case(cases, text: str, phone: str = "") -> Complaint:
    return cases.register(
        actor=None,
        origin=EMAIL,
        channel="email",
        phone=phone,
        email="kh@example.com",
        description=text,
        demand="",
    )


def _queued(cases, text: str = OUTAGE_TEXT, phone: str = "") -> tuple[Complaint, Classification]:
    case = _email_case(cases, text, phone)
    triage_intake()
    row = Classification.objects.get(complaint=case)
    assert row.outcome == Outcome.QUEUED
    return case, row


def _nav(html: str) -> str:
    match = re.search(r"<nav[^>]*>(.*?)</nav>", html, re.S)
    assert match
    return match.group(1)


# -- 1. the "to classify" queue -------------------------------------------------------------------
class TestToClassify:
    def test_the_page_shows_the_suggestion_confidence_and_explanation(self, web, cases, people, org):
        case, row = _queued(cases)
        web.force_login(people["supervisor"])
        html = web.get("/queues/to-classify/").content.decode()
        assert f'id="classify-{case.pk}"' in html
        assert row.subcategory == "network-outage"
        assert "网络类 › 网络中断" in html  # the suggested leaf, by name
        assert f"{row.confidence:.2f}" in html
        assert row.explanation
        assert row.explanation in html
        assert f'<option value="{org["outage"].pk}" selected>' in html
        assert f'<option value="{row.level}" selected>' in html

    def test_accepting_the_suggestion_classifies_the_case(self, web, cases, people, org):
        case, row = _queued(cases)
        web.force_login(people["supervisor"])
        response = web.post(f"/queues/to-classify/{case.pk}/", {"accept": "1"})
        assert response.status_code == 302
        assert response["Location"] == "/queues/to-classify/"
        row.refresh_from_db()
        assert (row.outcome, row.chosen_category, row.chosen_level, row.decided_by) == (
            Outcome.CONFIRMED,
            "network-outage",
            row.level,
            people["supervisor"],
        )
        case.refresh_from_db()
        assert case.category_id == org["outage"].pk
        assert (
            ComplaintEvent.objects.get(complaint=case, kind=EventKind.CLASSIFIED).actor
            == people["supervisor"]
        )
        page = web.get("/queues/to-classify/").content.decode()
        assert f'id="classify-{case.pk}"' not in page
        assert "No case waits to be classified." in page

    def test_choosing_another_category_and_level_is_a_correction(self, web, cases, people, org):
        case, row = _queued(cases)
        web.force_login(people["manager"])
        response = web.post(
            f"/queues/to-classify/{case.pk}/",
            {"category": org["wrong_charge"].pk, "level": "very_dissatisfied"},
        )
        assert response.status_code == 302
        row.refresh_from_db()
        assert (row.outcome, row.chosen_category, row.chosen_level) == (
            Outcome.CORRECTED,
            "billing-wrong-charge",
            "very_dissatisfied",
        )
        case.refresh_from_db()
        assert (case.category_id, case.level) == (org["wrong_charge"].pk, "very_dissatisfied")

    def test_a_bad_choice_says_why_and_changes_nothing(self, web, cases, people, unchanged):
        case, _row = _queued(cases)
        web.force_login(people["supervisor"])
        with unchanged():
            response = web.post(f"/queues/to-classify/{case.pk}/", {"category": "999999", "level": "major"})
            assert response.status_code == 302
        assert "No such category." in web.get("/queues/to-classify/").content.decode()
        with unchanged():
            web.post(f"/queues/to-classify/{case.pk}/", {"category": "", "level": "nonsense"})

    @pytest.mark.parametrize("role", ["inspector", "visitor", "auditor", "admin"])
    def test_roles_that_may_not_classify_get_403_and_nothing_changes(
        self, web, cases, people, role, unchanged
    ):
        case, _row = _queued(cases)
        web.force_login(people[role])
        with unchanged():
            assert web.get("/queues/to-classify/").status_code == 403
            assert web.post(f"/queues/to-classify/{case.pk}/", {"accept": "1"}).status_code == 403
        assert "/queues/to-classify/" not in _nav(web.get("/", follow=True).content.decode())

    def test_a_case_outside_the_scope_is_not_found(self, web, cases, people, unchanged):
        case, _row = _queued(cases)
        web.force_login(people["handler"])  # the billing department does not see an undispatched case
        assert f'id="classify-{case.pk}"' not in web.get("/queues/to-classify/").content.decode()
        with unchanged():
            assert web.post(f"/queues/to-classify/{case.pk}/", {"accept": "1"}).status_code == 404

    def test_the_nav_links_it_for_roles_that_classify(self, web, people):
        for role in ("agent", "handler", "supervisor", "manager"):
            web.force_login(people[role])
            assert 'href="/queues/to-classify/"' in _nav(web.get("/queues/mine/").content.decode()), role

    def test_the_same_number_of_queries_for_1_and_6_cases(self, web, cases, people):
        web.force_login(people["supervisor"])
        _queued(cases, phone="13800000001")
        with CaptureQueriesContext(connection) as one:
            assert web.get("/queues/to-classify/").status_code == 200
        for i in range(5):
            _queued(cases, phone=f"1380000010{i}")
        with CaptureQueriesContext(connection) as six:
            response = web.get("/queues/to-classify/")
        assert len(response.context["items"]) == 6
        assert len(one.captured_queries) == len(six.captured_queries)


# -- 2. risk, repeat and duplicate flags --------------------------------------------------------------
class TestFlags:
    def test_repeat_and_risk_flags_on_the_queue_and_the_case_page(self, web, cases, people):
        first = cases.make(Status.ACCEPTED)
        second = _email_case(cases, "彩铃又扣了我30块，上个月就说过了，要求退款", phone=PHONE)
        triage_intake()
        row = Classification.objects.get(complaint=second)
        assert row.escalation_risk >= 0.85  # a repeat is an escalation risk
        web.force_login(people["supervisor"])
        queue = web.get("/queues/all/").content.decode()
        repeat_link = f'<a class="badge warn repeat-flag" href="/cases/{first.pk}/">Repeat complaint · {first.ticket_no}</a>'
        assert queue.count(repeat_link) == 1  # on the second case's row only
        assert queue.count("High escalation risk") == 1
        page = web.get(f"/cases/{second.pk}/").content.decode()
        assert repeat_link in page
        assert 'id="repeat-of"' in page
        assert 'id="risk-explanation"' in page
        assert row.explanation in page
        earlier = web.get(f"/cases/{first.pk}/").content.decode()
        assert "repeat-flag" not in earlier
        assert "risk-flag" not in earlier

    def test_a_duplicate_is_offered_and_merged_from_the_case_page(self, web, cases, people, unchanged):
        first = cases.register(actor=None, origin=PORTAL, channel="web", description=CHARGE, accept=True)
        again = cases.register(
            actor=None, origin=EMAIL, channel="email", description=CHARGE + " ", accept=True
        )
        triage_intake()
        assert CaseLink.objects.get(case=again).kind == LinkKind.DUPLICATE

        web.force_login(people["inspector"])  # sees the case, may not withdraw it
        page = web.get(f"/cases/{again.pk}/").content.decode()
        assert 'id="duplicate-offer"' in page
        assert "Merge into the first case" not in page
        with unchanged():
            assert web.post(f"/cases/{again.pk}/merge-duplicate/").status_code == 403

        web.force_login(people["supervisor"])
        page = web.get(f"/cases/{again.pk}/").content.decode()
        assert f'action="/cases/{again.pk}/merge-duplicate/"' in page
        with unchanged():  # the first case is not a duplicate
            assert web.post(f"/cases/{first.pk}/merge-duplicate/").status_code == 404
        response = web.post(f"/cases/{again.pk}/merge-duplicate/")
        assert response.status_code == 302
        assert response["Location"] == f"/cases/{again.pk}/"
        assert Complaint.objects.get(pk=again.pk).status == Status.WITHDRAWN
        assert CaseLink.objects.get(case=again).kind == LinkKind.MERGED
        assert AuditEvent.objects.get(field="merged_into").payload == {"merged_into": first.pk}
        page = web.get(f"/cases/{again.pk}/").content.decode()
        assert "Merge into the first case" not in page
        assert 'id="duplicate-offer"' not in page


# -- 3. major incidents ---------------------------------------------------------------------------------
def _incident(cases, org, people, n: int = 3) -> tuple[Incident, list[Complaint]]:
    children = [
        svc.complaint_accept(
            actor=people["agent"],
            complaint_id=cases.register(
                phone=f"1380000{i:04d}",
                category_id=org["outage"].pk,
                region_id=org["urban"].pk,
                description=OUTAGE_TEXT,
            ).pk,
        )
        for i in range(n)
    ]
    triage_clusters()
    return Incident.objects.get(), children


class TestIncidents:
    def test_list_page_and_incident_page(self, web, cases, org, people):
        incident, children = _incident(cases, org, people)
        web.force_login(people["manager"])
        listing = web.get("/incidents/").content.decode()
        assert f'<a href="/incidents/{incident.pk}/">广州市天河区 网络故障群体性投诉</a>' in listing
        assert '<td class="num">3</td>' in listing
        assert "<td>广州市天河区</td><td>网络类</td>" in listing
        page = web.get(f"/incidents/{incident.pk}/").content.decode()
        assert "广州市天河区" in page
        assert "Major complaint" in page
        assert "<dd>网络类</dd>" in page
        assert '<dd id="incident-count">3</dd>' in page
        for child in children:
            assert f'<a href="/cases/{child.pk}/">{child.ticket_no}</a>' in page
        assert f'action="/incidents/{incident.pk}/reply/"' in page
        assert f'action="/incidents/{incident.pk}/close/"' in page
        assert 'href="/incidents/"' in _nav(page)

    def test_reply_to_all_then_close(self, web, cases, org, people, unchanged):
        incident, children = _incident(cases, org, people)
        web.force_login(people["supervisor"])
        with unchanged():  # an empty reply sends nothing
            assert web.post(f"/incidents/{incident.pk}/reply/", {"content": "  "}).status_code == 302
        assert "Nothing was sent" in web.get(f"/incidents/{incident.pk}/").content.decode()
        response = web.post(f"/incidents/{incident.pk}/reply/", {"content": REPLY})
        assert response.status_code == 302
        assert response["Location"] == f"/incidents/{incident.pk}/"
        assert (
            "Replied to 3 case(s); 0 left as they were."
            in web.get(f"/incidents/{incident.pk}/").content.decode()
        )
        for child in children:
            assert Complaint.objects.get(pk=child.pk).status == Status.REPLIED
            assert Reply.objects.get(complaint=child).content == REPLY
        svc.return_visit_record(
            actor=people["visitor"], complaint_id=children[0].pk, reached=True, resolved=True, satisfaction=5
        )
        web.post(f"/incidents/{incident.pk}/close/", {"note": "故障已修复"})
        incident.refresh_from_db()
        assert incident.closed_at is not None
        assert [Complaint.objects.get(pk=c.pk).status for c in children] == [
            Status.CLOSED,
            Status.REPLIED,
            Status.REPLIED,
        ]
        page = web.get(f"/incidents/{incident.pk}/").content.decode()
        assert "Incident closed: 1 case(s) closed, 2 left open." in page
        assert "/reply/" not in page
        assert "/close/" not in page
        with unchanged():
            web.post(f"/incidents/{incident.pk}/close/")

    @pytest.mark.parametrize("role", ["agent", "handler", "visitor", "inspector", "auditor", "admin"])
    def test_other_roles_get_403_and_nothing_changes(self, web, cases, org, people, role, unchanged):
        incident, _children = _incident(cases, org, people)
        web.force_login(people[role])
        with unchanged():
            assert web.get("/incidents/").status_code == 403
            assert web.get(f"/incidents/{incident.pk}/").status_code == 403
            assert web.post(f"/incidents/{incident.pk}/reply/", {"content": REPLY}).status_code == 403
            assert web.post(f"/incidents/{incident.pk}/close/").status_code == 403
        assert 'href="/incidents/"' not in _nav(web.get("/", follow=True).content.decode())

    def test_an_unknown_incident_is_not_found(self, web, people, unchanged, org):
        web.force_login(people["supervisor"])
        with unchanged():
            assert web.get("/incidents/999/").status_code == 404
            assert web.post("/incidents/999/reply/", {"content": REPLY}).status_code == 404
            assert web.post("/incidents/999/close/").status_code == 404

    def test_the_dashboard_shows_the_open_incidents(self, web, cases, org, people):
        web.force_login(people["supervisor"])
        assert "No open major incident." in web.get("/dashboard/").content.decode()
        incident, _children = _incident(cases, org, people)
        for url in ("/dashboard/", "/dashboard/panel/"):
            html = web.get(url).content.decode()
            assert f'<a href="/incidents/{incident.pk}/">广州市天河区 网络故障群体性投诉</a>' in html
            assert '<td class="num">3</td>' in html
        incident.closed_at = incident.opened_at
        incident.save(update_fields=["closed_at"])
        assert "No open major incident." in web.get("/dashboard/").content.decode()


# -- 4. Chinese -----------------------------------------------------------------------------------------
def test_the_pages_speak_chinese(client, cases, org, people):
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"
    first = cases.make(Status.ACCEPTED)
    _email_case(cases, "彩铃又扣了我30块，上个月就说过了，要求退款", phone=PHONE)
    triage_intake()
    incident, _children = _incident(cases, org, people)
    client.force_login(people["supervisor"])
    queue = client.get("/queues/to-classify/").content.decode()
    assert "1 件工单等待确定分类和等级：模型把握不足。" in queue
    assert "接受建议" in queue
    assert f"重复投诉 · {first.ticket_no}" in queue
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "统一回复所有客户" in page
    assert "结束群体性投诉并结案其工单" in page
    assert "未结束的群体性投诉" in client.get("/dashboard/").content.decode()
