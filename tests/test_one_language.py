"""One language at a time (issue 11, point 7): categories and departments by their English names in
the English UI, a language switcher naming each language in itself, full-width colons in Chinese,
and staff display names, not logins, on the timeline."""

from __future__ import annotations

import re

import pytest
from django.utils import translation

from tousu.accounts.models import Department
from tousu.complaints import services as svc
from tousu.complaints.models import Category
from tousu.complaints.states import Status
from tousu.customers.services import customer_blacklist

pytestmark = pytest.mark.django_db

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
ENGLISH = {
    "customer_service": "Customer service",
    "billing": "Billing",
    "network": "Network operations",
    "legal": "Legal affairs",
    "management": "General management",
    "billing-wrong-charge": "Wrong charge",
    "network-outage": "Network outage",
}


@pytest.fixture(autouse=True)
def _keep_active_language():
    with translation.override(translation.get_language()):
        yield


@pytest.fixture
def english_names(org):
    for code, name_en in ENGLISH.items():
        Department.objects.filter(code=code).update(name_en=name_en)
        Category.objects.filter(code=code).update(name_en=name_en)
    Category.objects.filter(code="billing").update(name_en="Charges")
    Category.objects.filter(code="network").update(name_en="Network")


def _chinese_names() -> set[str]:
    return set(Department.objects.values_list("name", flat=True)) | set(
        Category.objects.values_list("name", flat=True)
    )


def test_the_english_queue_page_names_categories_and_departments_in_english(
    client, cases, people, english_names, org
):
    c = cases.make(Status.DISPATCHED, category_id=org["outage"].pk)
    client.force_login(people["supervisor"])
    html = client.get("/queues/all/", **EN).content.decode()
    assert f'<option value="{org["outage"].pk}">Network › Network outage</option>' in html
    assert f'<option value="{org["dept"]["billing"].pk}">Billing</option>' in html
    assert [name for name in _chinese_names() if name in html] == []
    assert c.pk in [row.case.pk for row in client.get("/queues/all/", **EN).context["rows"]]


def test_the_chinese_queue_page_keeps_the_chinese_names(client, people, english_names, org):
    client.force_login(people["supervisor"])
    html = client.get("/queues/all/", **ZH).content.decode()
    assert f'<option value="{org["outage"].pk}">网络类 › 网络中断</option>' in html
    assert "Network outage" not in html


def test_the_english_case_page_names_the_category_and_department_in_english(
    client, cases, people, english_names
):
    c = cases.make(Status.DISPATCHED)
    client.force_login(people["supervisor"])
    html = client.get(f"/cases/{c.pk}/", **EN).content.decode()
    assert "Charges › Wrong charge" in html
    assert "<dt>Lead department</dt><dd>Billing</dd>" in html
    assert [name for name in ("资费类", "错收", "计费结算部") if name in html] == []


def test_the_english_registration_page_offers_english_category_names_only(client, people, english_names, org):
    client.force_login(people["agent"])
    html = client.get("/register/", **EN).content.decode()
    assert f'<option value="{org["wrong_charge"].pk}">Wrong charge</option>' in html
    assert "错收" not in html


def test_a_name_without_an_english_one_falls_back_to_chinese(org):
    with translation.override("en"):
        assert str(org["wrong_charge"]) == "资费类 › 错收"
        assert str(org["dept"]["billing"]) == "计费结算部"


def test_the_language_switcher_names_each_language_in_itself(client, people):
    client.force_login(people["agent"])
    for headers in (EN, ZH):
        html = client.get("/queues/all/", **headers).content.decode()
        options = re.findall(r'<option value="(zh-hans|en)" lang="[^"]+"[^>]*>([^<]+)</option>', html)
        assert options == [("zh-hans", "简体中文"), ("en", "English")]
    portal = client.get("/portal/", **EN).content.decode()
    assert re.findall(
        r'<button type="submit" name="language" value="[^"]+" lang="[^"]+"[^>]*>([^<]+)</button>', portal
    ) == [
        "简体中文",
        "English",
    ]


def test_the_timeline_names_staff_by_their_display_names(client, cases, people, org):
    people["handler"].display_name = "刘洋"
    people["handler"].save(update_fields=["display_name"])
    people["supervisor"].display_name = "孙丽"
    people["supervisor"].save(update_fields=["display_name"])
    c = cases.make(Status.PLAN_PROPOSED)  # the handler proposes the plan and is its responsible person
    svc.complaint_assign(actor=people["supervisor"], complaint_id=c.pk, assignee_id=None)
    client.force_login(people["supervisor"])
    html = client.get(f"/cases/{c.pk}/", **EN).content.decode()
    assert "<dt>Responsible person</dt><dd>刘洋</dd>" in html
    assert "<dt>Previous assignee</dt><dd>刘洋</dd>" in html
    timeline = html.split('id="timeline"', 1)[1].split("</section>", 1)[0]
    assert ">handler<" not in timeline
    assert "· handler<" not in timeline
    assert '<span class="muted">· 孙丽</span>' in timeline


def test_chinese_pages_use_full_width_colons(client, cases, people):
    c = cases.make(Status.REGISTERED)
    customer_blacklist(
        actor=people["supervisor"], customer_id=c.customer_id, blacklisted=True, reason="辱骂坐席"
    )
    client.force_login(people["supervisor"])
    html = client.get(f"/customers/{c.customer_id}/", **ZH).content.decode()
    assert "已列入黑名单：辱骂坐席" in html
    assert "已列入黑名单: " not in html


def test_automatic_reasons_are_shown_in_the_readers_language(client, cases, people, org):
    from tousu.sla.defaults import sla_bootstrap

    sla_bootstrap()
    with translation.override("zh-hans"):  # written while Chinese was active: the text is Chinese
        c = cases.register(level="major")
    event = c.events.get(kind="escalated")
    assert event.payload["trigger"] == "level_major"
    assert "升级" in event.payload["reason"]  # Chinese text, as it was written
    client.force_login(people["supervisor"])
    english = client.get(f"/cases/{c.pk}/", **EN).content.decode()
    assert "<dt>Reason</dt><dd>Major complaint complaints are escalated at once.</dd>" in english
    assert event.payload["reason"] not in english
    chinese = client.get(f"/cases/{c.pk}/", **ZH).content.decode()
    assert f"<dd>{event.payload['reason']}</dd>" in chinese


def test_an_old_sla_breach_reason_is_rendered_from_its_trigger(client, cases, people):
    from tousu.complaints.models import ComplaintEvent

    c = cases.make(Status.DISPATCHED)
    ComplaintEvent.objects.create(
        complaint=c,
        created_at=c.registered_at,
        kind="escalated",
        actor_label="worker",
        via="worker",
        payload={
            "from_level": 0,
            "to_level": 1,
            "reason": "超时未处理：答复客户。",
            "trigger": "sla_breach:reply",
        },
    )
    client.force_login(people["supervisor"])
    html = client.get(f"/cases/{c.pk}/", **EN).content.decode()
    assert (
        "<dt>Reason</dt><dd>Deadline missed: Reply to the customer.</dd><dt>From</dt><dd>Not escalated</dd>"
        "<dt>To</dt><dd>Supervisor</dd><dt>Because of</dt><dd>a missed time limit</dd>"
    ) in html
    assert "超时未处理" not in html


def test_a_persons_reason_is_kept_as_typed(client, cases, people):
    c = cases.make(Status.DISPATCHED)
    svc.complaint_escalate(actor=people["supervisor"], complaint_id=c.pk, reason="客户情绪激动")
    client.force_login(people["supervisor"])
    assert "<dt>Reason</dt><dd>客户情绪激动</dd>" in client.get(f"/cases/{c.pk}/", **EN).content.decode()
