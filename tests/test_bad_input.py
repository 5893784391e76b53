"""Bad input anywhere is refused with a clear message and changes nothing (issue 9, points 11, 15)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tousu.common.errors import ValidationError
from tousu.common.phone import normalize_phone
from tousu.complaints import services as svc
from tousu.complaints.models import ResolutionPlan
from tousu.complaints.states import Status

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("raw", ["+86 138 0013 8000 ext 99", "13800138000 x12", "138-0013-8000 ext. 5"])
def test_a_phone_number_with_an_extension_is_refused(raw):
    with pytest.raises(ValidationError) as err:
        normalize_phone(raw, field="phone")
    assert err.value.message == f"'{raw}' has an extension; give the phone number without it."
    assert err.value.fields == {"phone": "has an extension"}


def test_a_phone_number_without_an_extension_still_parses():
    assert normalize_phone("+86 138 0013 8000") == "+8613800138000"


def test_a_plan_deadline_beyond_a_year_is_refused(cases, people, unchanged):
    c = cases.make(Status.INVESTIGATING)
    base = {
        "actor": people["handler"],
        "complaint_id": c.pk,
        "kind": "immediate",
        "measures": "退还错收的30元",
        "responsible_id": people["handler"].pk,
    }
    for deadline in (datetime(9999, 12, 31, tzinfo=UTC), timezone.now() + timedelta(days=367)):
        with unchanged(), pytest.raises(ValidationError) as err:
            svc.complaint_propose_plan(**base, deadline=deadline)
        assert err.value.message == "The plan's deadline must be within 366 days from now."
        assert err.value.fields == {"deadline": "too far ahead"}
    svc.complaint_propose_plan(**base, deadline=timezone.now() + timedelta(days=365))
    assert ResolutionPlan.objects.filter(complaint=c).count() == 1


# --- NUL characters (point 11) ---------------------------------------------------------------------

NUL_MESSAGE = "Text must not contain NUL characters."


@pytest.fixture
def staff(client, people):
    client.force_login(people["agent"])
    client.cookies["django_language"] = "en"
    return client


def test_nul_in_a_query_string_is_a_400_with_a_message(staff):
    response = staff.get("/categories/?q=%00")
    assert response.status_code == 400
    assert NUL_MESSAGE in response.content.decode()


def test_nul_in_a_path_is_a_400_with_a_message(client, db):
    client.cookies["django_language"] = "en"
    response = client.get("/portal/case/TS%00/")
    assert response.status_code == 400
    assert NUL_MESSAGE in response.content.decode()


def test_nul_in_a_form_value_is_a_400_and_registers_nothing(staff, org, unchanged):
    with unchanged():
        response = staff.post(
            "/register/",
            {
                "channel": "hotline",
                "phone": "13812348000",
                "customer_name": "张\x00三",
                "business_type": "mobile",
                "category": org["wrong_charge"].pk,
                "level": "dissatisfied",
                "description": "用户反映3月账单被收取30元彩铃费用。",
                "preferred_reply_channel": "sms",
            },
        )
    assert response.status_code == 400
    assert NUL_MESSAGE in response.content.decode()


def test_nul_under_the_api_is_tmf_json(client, db):
    response = client.get("/tmf-api/troubleTicket/v4/troubleTicket?externalId=%00", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid",
        "reason": "Invalid request",
        "message": NUL_MESSAGE,
        "status": "400",
        "@type": "Error",
    }


def test_nul_in_an_api_json_body_is_a_400_and_creates_nothing(client, org, unchanged):
    from tousu.api.keys import apikey_create

    _key, token = apikey_create(name="app", channel="app", scope="write")
    body = (
        '{"description":"bad\\u0000text","severity":"dissatisfied","ticketType":"billing-wrong-charge",'
        '"relatedParty":[{"role":"customer","name":"x","phone":"13900001111"}],'
        '"tousu":{"businessType":"data"}}'
    )
    with unchanged():
        response = client.post(
            "/tmf-api/troubleTicket/v4/troubleTicket",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_ACCEPT_LANGUAGE="en",
        )
    assert response.status_code == 400
    assert response.json()["message"] == NUL_MESSAGE


def test_a_regulator_row_with_nul_is_refused_and_the_others_are_imported(org, people):
    import csv
    import io

    from tousu.channels.regulator import COLUMNS, Outcome, regulator_import
    from tousu.complaints.models import Complaint

    def row(referral_no: str, description: str) -> list[str]:
        values = {
            "referral_no": referral_no,
            "received_at": timezone.localtime().strftime("%Y-%m-%d %H:%M"),
            "phone": "13812348000",
            "category": "billing-wrong-charge",
            "business_type": "mobile",
            "description": description,
        }
        return [values.get(c.key, "") for c in COLUMNS]

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c.chinese for c in COLUMNS])
    writer.writerow(row("GXB-1", "第一条"))
    writer.writerow(row("GXB-\x002", "第二\x00条"))
    writer.writerow(row("GXB-3", "第三条"))
    report = regulator_import(actor=people["supervisor"], data=out.getvalue().encode())
    assert [(r.line, r.referral_no, r.outcome, r.reason) for r in report.rows] == [
        (2, "GXB-1", Outcome.IMPORTED, ""),
        (
            3,
            "GXB-2",
            Outcome.REFUSED,
            "The row contains a NUL character (a damaged file?); correct it and import it again.",
        ),
        (4, "GXB-3", Outcome.IMPORTED, ""),
    ]
    assert sorted(Complaint.objects.values_list("external_id", flat=True)) == ["GXB-1", "GXB-3"]
