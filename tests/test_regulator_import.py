"""Regulator referrals imported from a CSV file: the service, its per-row report, and the page."""

from __future__ import annotations

import codecs
import csv
import io
from datetime import datetime
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import translation

from tests.conftest import PHONE_E164
from tousu.channels.regulator import COLUMNS, Outcome, RowResult, regulator_import, regulator_template_csv
from tousu.common.errors import PermissionDenied, ValidationError
from tousu.complaints.models import Complaint
from tousu.complaints.states import Status
from tousu.sla.defaults import sla_bootstrap
from tousu.sla.models import SlaClock

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
PAGE = "/regulator/import/"
TEMPLATE = "/regulator/template.csv"
HEADER = [c.chinese for c in COLUMNS]


@pytest.fixture(autouse=True)
def _keep_active_language():
    with translation.override(translation.get_language()):
        yield


def row(**changes: str) -> dict[str, str]:
    values = {
        "referral_no": "GXB-2026-0001",
        "received_at": "2026-03-02 09:30",
        "phone": "13812348000",
        "customer_name": "张三",
        "service_number": "13812348000",
        "category": "billing-wrong-charge",
        "business_type": "mobile",
        "level": "",
        "description": "用户申诉：3月账单被收取未订购的彩铃费30元。",
        "demand": "退还30元",
        "region": "",
    }
    values.update(changes)
    return values


def csv_bytes(
    rows: list[dict[str, str]], *, header: list[str] | None = None, encoding: str = "utf-8"
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    names = header or HEADER
    writer.writerow(names)
    keys = [c.key for c in COLUMNS]
    for values in rows:
        writer.writerow([values[k] for k in keys][: len(names)])
    return out.getvalue().encode(encoding)


# --- the service ----------------------------------------------------------------------------------


def test_a_referral_becomes_an_accepted_regulator_case(org, people):
    report = regulator_import(actor=people["supervisor"], data=csv_bytes([row()]))
    complaint = Complaint.objects.get()
    assert report.rows == [
        RowResult(2, "GXB-2026-0001", Outcome.IMPORTED, complaint.ticket_no or "", complaint.pk, "")
    ]
    assert (report.imported, report.duplicates, report.refused) == (1, 0, 0)
    assert complaint.status == Status.ACCEPTED
    assert complaint.channel == "regulator"
    assert complaint.external_id == "GXB-2026-0001"
    assert complaint.received_at == datetime(2026, 3, 2, 9, 30, tzinfo=SHANGHAI)
    assert complaint.customer.phone == PHONE_E164
    assert complaint.customer.name == "张三"
    assert complaint.category == org["wrong_charge"]
    assert complaint.business_type == "mobile"
    assert complaint.level == "dissatisfied"
    assert complaint.demand == "退还30元"
    assert complaint.registered_by == people["supervisor"]
    assert list(complaint.events.values_list("kind", flat=True)) == ["registered", "accepted"]


def test_the_regulator_time_limits_apply(org, people):
    sla_bootstrap()
    regulator_import(actor=people["supervisor"], data=csv_bytes([row()]))
    complaint = Complaint.objects.get()
    kinds = dict(SlaClock.objects.filter(complaint=complaint).values_list("kind", "state"))
    assert kinds["regulator_accept"] == "met"  # accepted at once
    assert kinds["regulator_answer"] == "running"


def test_importing_again_imports_nothing_twice(org, people):
    data = csv_bytes([row(), row(referral_no="GXB-2026-0002", phone="13912345678")])
    first = regulator_import(actor=people["supervisor"], data=data)
    tickets = {r.referral_no: r.ticket_no for r in first.rows}
    second = regulator_import(actor=people["manager"], data=data)
    assert [(r.line, r.referral_no, r.outcome, r.ticket_no) for r in second.rows] == [
        (2, "GXB-2026-0001", Outcome.DUPLICATE, tickets["GXB-2026-0001"]),
        (3, "GXB-2026-0002", Outcome.DUPLICATE, tickets["GXB-2026-0002"]),
    ]
    assert Complaint.objects.count() == 2


def test_a_referral_repeated_in_the_file_is_imported_once(org, people):
    report = regulator_import(actor=people["supervisor"], data=csv_bytes([row(), row(description="再次")]))
    assert [r.outcome for r in report.rows] == [Outcome.IMPORTED, Outcome.DUPLICATE]
    assert Complaint.objects.get().description == "用户申诉：3月账单被收取未订购的彩铃费30元。"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"phone": "12345"}, "'12345' is not a valid phone number."),
        ({"category": "no-such-code"}, "Unknown category code 'no-such-code'."),
        ({"category": "billing"}, "Choose a sub-category of '资费类'."),
        ({"received_at": "3月2日"}, "'3月2日' is not a date and time; write it like 2026-11-20 09:30."),
        ({"received_at": "2099-01-01 00:00"}, "The time received is in the future."),
        (
            {"business_type": "satellite"},
            "Unknown business type 'satellite'; use one of: mobile, fixed_line, broadband, data, "
            "value_added, iptv, other.",
        ),
        (
            {"level": "angry"},
            "Unknown level 'angry'; use one of: dissatisfied, very_dissatisfied, major, crisis.",
        ),
        ({"region": "mars"}, "Unknown region code 'mars'."),
        ({"description": " ", "phone": ""}, "Missing: 用户号码 (phone), 投诉内容 (description)."),
        ({"referral_no": "X" * 101}, "The referral number is longer than 100 characters."),
    ],
)
def test_a_bad_row_is_refused_with_its_reason_and_the_others_are_imported(org, people, changes, reason):
    data = csv_bytes([row(referral_no="OK-1"), {**row(referral_no="BAD-1"), **changes}])
    report = regulator_import(actor=people["supervisor"], data=data)
    assert report.rows[0].outcome == Outcome.IMPORTED
    refused = report.rows[1]
    assert (refused.line, refused.outcome, refused.ticket_no, refused.complaint_id, refused.reason) == (
        3,
        Outcome.REFUSED,
        "",
        None,
        reason,
    )
    assert list(Complaint.objects.values_list("external_id", flat=True)) == ["OK-1"]


def test_names_are_accepted_for_business_type_and_level(org, people):
    report = regulator_import(
        actor=people["supervisor"],
        data=csv_bytes(
            [
                row(referral_no="A", business_type="Broadband", level="Very dissatisfied"),
                row(referral_no="B", business_type="宽带", level="重大投诉", phone="13912345678"),
            ]
        ),
    )
    assert [r.outcome for r in report.rows] == [Outcome.IMPORTED, Outcome.IMPORTED]
    assert sorted(Complaint.objects.values_list("external_id", "business_type", "level")) == [
        ("A", "broadband", "very_dissatisfied"),
        ("B", "broadband", "major"),
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026/3/2 9:30", datetime(2026, 3, 2, 9, 30, tzinfo=SHANGHAI)),
        ("2026-03-02 09:30:15", datetime(2026, 3, 2, 9, 30, 15, tzinfo=SHANGHAI)),
        ("2026-03-02", datetime(2026, 3, 2, 0, 0, tzinfo=SHANGHAI)),
        ("2026-03-02T01:30:00Z", datetime(2026, 3, 2, 9, 30, tzinfo=SHANGHAI)),
    ],
)
def test_dates_as_spreadsheets_write_them(org, people, value, expected):
    regulator_import(actor=people["supervisor"], data=csv_bytes([row(received_at=value)]))
    assert Complaint.objects.get().received_at == expected


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"])
def test_excel_encodings_are_read(org, people, encoding):
    report = regulator_import(actor=people["supervisor"], data=csv_bytes([row()], encoding=encoding))
    assert report.imported == 1
    assert Complaint.objects.get().customer.name == "张三"


def test_english_keys_in_any_order_work_as_the_header(org, people):
    keys = [c.key for c in COLUMNS]
    values = row()
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(list(reversed(keys)))
    writer.writerow([values[k] for k in reversed(keys)])
    report = regulator_import(actor=people["supervisor"], data=out.getvalue().encode())
    assert report.imported == 1


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            [h for h in HEADER if h not in ("用户号码", "投诉内容")],
            "The header row is not right (missing columns: 用户号码 (phone), 投诉内容 (description)). "
            "Use the template's header.",
        ),
        (
            [*HEADER, "备注"],
            "The header row is not right (unknown columns: 备注). Use the template's header.",
        ),
        (
            [*HEADER, "phone"],
            "The header row is not right (columns given twice: 用户号码 (phone)). Use the template's header.",
        ),
    ],
)
def test_a_wrong_header_refuses_the_whole_file(org, people, unchanged, header, message):
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerow(["x"] * len(header))
    with unchanged(), pytest.raises(ValidationError) as refused:
        regulator_import(actor=people["supervisor"], data=out.getvalue().encode())
    assert refused.value.message == message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (codecs.BOM_UTF8 + ",".join(HEADER).encode() + b"\r\n\r\n", "The file has a header but no rows."),
        (
            b"\xff\xfe\x00\x00\x80",
            "The file is not text in UTF-8 or GB18030. Save it from Excel as “CSV UTF-8” and try again.",
        ),
    ],
)
def test_an_unreadable_file_is_refused(org, people, unchanged, data, message):
    with unchanged(), pytest.raises(ValidationError) as refused:
        regulator_import(actor=people["supervisor"], data=data)
    assert refused.value.message == message


def test_size_and_row_limits(org, people, settings, unchanged):
    settings.TOUSU_REGULATOR_CSV_MAX_ROWS = 2
    data = csv_bytes([row(referral_no=f"R{n}") for n in range(3)])
    with unchanged(), pytest.raises(ValidationError) as refused:
        regulator_import(actor=people["supervisor"], data=data)
    assert refused.value.message == "The file has more than 2 rows; split it into smaller files."
    settings.TOUSU_REGULATOR_CSV_MAX_BYTES = 1024
    with unchanged(), pytest.raises(ValidationError) as refused:
        regulator_import(actor=people["supervisor"], data=b"x" * 1025)
    assert refused.value.message == "The file is larger than 1 KB; split it into smaller files."


def test_a_row_longer_than_the_header_is_refused(org, people):
    data = csv_bytes([]) + ",".join([*row().values(), "多余"]).encode() + b"\r\n"
    report = regulator_import(actor=people["supervisor"], data=data)
    assert [(r.outcome, r.reason) for r in report.rows] == [
        (Outcome.REFUSED, "The row has more cells than the header.")
    ]


@pytest.mark.parametrize("persona", ["agent", "handler", "visitor", "inspector", "admin"])
def test_only_supervisors_and_managers_import(org, people, unchanged, persona):
    with unchanged(), pytest.raises(PermissionDenied):
        regulator_import(actor=people[persona], data=csv_bytes([row()]))


def test_the_template_imports_as_it_is(org, people):
    data = regulator_template_csv()
    assert data.startswith(codecs.BOM_UTF8)
    lines = data.decode("utf-8-sig").splitlines()
    assert lines[0] == ",".join(HEADER)
    assert len(lines) == 2
    report = regulator_import(actor=people["supervisor"], data=data)
    assert (report.imported, report.refused) == (1, 0)
    assert Complaint.objects.get().category == org["wrong_charge"]


# --- the page -------------------------------------------------------------------------------------


@pytest.fixture
def staff(client):
    def sign_in(user: Any) -> Any:
        client.force_login(user)
        client.cookies["django_language"] = "en"
        return client

    return sign_in


def upload(data: bytes) -> dict[str, Any]:
    return {"file": SimpleUploadedFile("referrals.csv", data, content_type="text/csv")}


def test_the_page_imports_and_reports_each_row(org, people, staff):
    web = staff(people["supervisor"])
    page = unescape(web.get(PAGE).content.decode())
    assert 'href="/regulator/template.csv"' in page
    assert "billing-wrong-charge" in page

    data = csv_bytes([row(), row(referral_no="GXB-2", phone="123")])
    response = web.post(PAGE, upload(data))
    assert (response.status_code, response["Location"]) == (302, f"{PAGE}?report=1")
    page = unescape(web.get(response["Location"]).content.decode())
    complaint = Complaint.objects.get()
    assert "1 imported, 0 already imported, 1 refused." in page
    assert f'<a href="/cases/{complaint.pk}/">{complaint.ticket_no}</a>' in page
    assert "'123' is not a valid phone number." in page


def test_a_refused_file_is_explained_on_the_page(org, people, staff, unchanged):
    web = staff(people["manager"])
    with unchanged():
        response = web.post(PAGE, upload(b"foo,bar\r\n1,2\r\n"))
    assert response.status_code == 400
    page = unescape(response.content.decode())
    assert "The header row is not right (unknown columns: foo, bar; missing columns:" in page


def test_the_template_downloads(org, people, staff):
    response = staff(people["supervisor"]).get(TEMPLATE)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="regulator-referrals-template.csv"'
    assert response.content.startswith(codecs.BOM_UTF8 + "转办编号,".encode())


@pytest.mark.parametrize("persona", ["agent", "handler", "auditor"])
def test_other_roles_get_403_and_no_link(org, people, staff, unchanged, persona):
    web = staff(people[persona])
    with unchanged():
        assert web.post(PAGE, upload(csv_bytes([row()]))).status_code == 403
    assert web.get(TEMPLATE).status_code == 403
    home = web.get("/", follow=True)
    assert home.status_code == 200
    assert 'href="/regulator/import/"' not in home.content.decode()


def test_the_navigation_links_the_page_for_supervisors(org, people, staff):
    web = staff(people["supervisor"])
    assert 'href="/regulator/import/"' in web.get("/", follow=True).content.decode()


def test_signed_out_visitors_are_sent_to_sign_in(db, client):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
