"""The registration page's suggestion (htmx endpoint, query count, refusals) and the record of
what the agent chose beside what was suggested."""

from __future__ import annotations

from html import unescape

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tousu.complaints.events import EventKind
from tousu.complaints.models import Complaint, ComplaintEvent
from tousu.triage.models import Classification, Outcome

pytestmark = pytest.mark.django_db
SUGGEST = "/register/suggest/"
REGISTER = "/register/"
EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
OUTAGE = "家里宽带断网三天了，光猫红灯一直闪，这是第三次报修了"


def test_suggestion_names_category_level_department_risk_and_why(client, people, org):
    client.force_login(people["agent"])
    client.get(REGISTER)  # session and language settled, as on the page
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(SUGGEST, {"description": OUTAGE, "demand": "尽快修复"}, **EN)
    assert response.status_code == 200
    # session, user, the active model version, the leaf, the routing rules
    assert len(ctx.captured_queries) == 5, [q["sql"] for q in ctx.captured_queries]
    html = unescape(response.content.decode())
    assert 'id="triage-suggestion"' in html
    assert "网络类 › 网络中断" in html
    assert "lead department 网络运维部" in html
    assert "High escalation risk" in html
    assert "再次投诉/多次报修 → 重复投诉" in html
    assert 'name="suggested_category" value="network-outage"' in html
    assert 'name="suggested_level" value="very_dissatisfied"' in html
    assert 'name="suggested_version" value="shipped"' in html


def test_too_short_a_text_suggests_nothing(client, people, org):
    client.force_login(people["agent"])
    response = client.post(SUGGEST, {"description": "没", "demand": ""})
    assert response.status_code == 200
    assert "suggested_category" not in response.content.decode()


def test_suggestion_is_for_registering_roles_only(client, people, org):
    client.force_login(people["inspector"])
    assert client.post(SUGGEST, {"description": OUTAGE}).status_code == 403
    client.logout()
    assert client.post(SUGGEST, {"description": OUTAGE}).status_code == 302  # to sign in
    client.force_login(people["agent"])
    assert client.get(SUGGEST).status_code == 405


def test_registration_page_asks_for_suggestions(client, people, org):
    client.force_login(people["agent"])
    html = client.get(REGISTER).content.decode()
    assert 'hx-post="/register/suggest/"' in html
    assert 'id="triage-suggestion"' in html


def _form(org, **changes):
    data = {
        "channel": "hotline",
        "phone": "139 1234 5678",
        "customer_name": "李四",
        "service_number": "13912345678",
        "category": org["outage"].pk,
        "level": "dissatisfied",
        "business_type": "broadband",
        "description": OUTAGE,
        "demand": "尽快修复",
        "preferred_reply_channel": "sms",
        "fcr_reply": "",
        "suggested_category": "network-outage",
        "suggested_level": "very_dissatisfied",
        "suggested_risk": "0.97",
        "suggested_confidence": "0.55",
        "suggested_version": "shipped",
    }
    data.update(changes)
    return data


def test_what_the_agent_chose_is_recorded_beside_the_suggestion(client, people, org):
    client.force_login(people["agent"])
    response = client.post(REGISTER, _form(org))
    assert response.status_code == 302
    case = Complaint.objects.get()
    row = Classification.objects.get(complaint=case)
    assert (
        row.outcome,
        row.subcategory,
        row.level,
        row.chosen_category,
        row.chosen_level,
        row.decided_by,
    ) == (
        Outcome.CORRECTED,
        "network-outage",
        "very_dissatisfied",
        "network-outage",
        "dissatisfied",
        people["agent"],
    )
    event = ComplaintEvent.objects.get(complaint=case, kind=EventKind.CLASSIFIED)
    assert event.payload == {
        "model_version": "shipped",
        "suggested": "network-outage",
        "suggested_level": "very_dissatisfied",
        "escalation_risk": 0.97,
        "confidence": 0.55,
        "chosen": "network-outage",
        "chosen_level": "dissatisfied",
        "outcome": "corrected",
    }


def test_agreeing_with_the_suggestion_is_a_confirmation(client, people, org):
    client.force_login(people["agent"])
    client.post(REGISTER, _form(org, level="very_dissatisfied"))
    assert Classification.objects.get().outcome == Outcome.CONFIRMED


@pytest.mark.parametrize(
    "bad",
    [
        {"suggested_category": ""},
        {"suggested_level": "furious"},
        {"suggested_risk": "2"},
        {"suggested_confidence": "x"},
    ],
)
def test_a_missing_or_forged_suggestion_records_nothing_but_registers(client, people, org, bad):
    client.force_login(people["agent"])
    assert client.post(REGISTER, _form(org, **bad)).status_code == 302
    case = Complaint.objects.get()
    assert not Classification.objects.exists()
    assert not ComplaintEvent.objects.filter(complaint=case, kind=EventKind.CLASSIFIED).exists()
