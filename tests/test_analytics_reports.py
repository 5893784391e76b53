"""The report pages and exports: exact figures from the rollups, the drill-down giving the same
count, handlers limited to their department, real .xlsx files, clear refusals."""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import translation
from openpyxl import load_workbook

from tousu.analytics.models import SubscriberCount
from tousu.analytics.reports import key_phrases
from tousu.analytics.services import analytics_consume
from tousu.complaints import services as svc
from tousu.complaints.states import Status

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 23, 10, 0, tzinfo=SH)
MONTH = "period=month&date=2026-11-01"


@pytest.fixture(autouse=True)
def _keep_active_language():
    with translation.override(translation.get_language()):
        yield


@pytest.fixture
def data(cases, org, people, time_machine):
    """Four accepted cases in November 2026 (billing ×3, network ×1), one closed; one in October."""
    time_machine.move_to(datetime(2026, 10, 20, 10, 0, tzinfo=SH), tick=False)
    cases.make(Status.ACCEPTED, phone="13900000020", description="宽带经常掉线，晚上无法上网。")
    time_machine.move_to(T0, tick=False)
    closed = cases.make(Status.CLOSED, description="彩铃扣费从未订购，要求退费。")
    cases.make(Status.DISPATCHED, phone="13900000021", description="彩铃扣费不明，要求退费。")
    other = cases.make(
        Status.ACCEPTED,
        phone="13900000022",
        category_id=org["outage"].pk,
        description="宽带掉线严重，彩铃扣费。",
    )
    svc.complaint_dispatch(
        actor=people["agent"], complaint_id=other.pk, lead_department_id=org["dept"]["network"].pk
    )
    cases.make(Status.ACCEPTED, phone="13900000023", channel="regulator", description="彩铃扣费投诉到管局。")
    SubscriberCount.objects.create(region=org["urban"], month=date(2026, 11, 1), subscribers=20_000)
    while analytics_consume():
        pass
    return {"closed": closed, "network_case": other}


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def figure(html: str, code: str) -> str:
    match = re.search(rf'id="kpi-{code}".*?data-value="([^"]*)"', html, re.S)
    assert match, code
    return match.group(1)


def test_the_monthly_report_shows_exact_figures_with_comparisons(data, people):
    response = client_for(people["manager"]).get(f"/reports/?{MONTH}")
    html = response.content.decode()

    assert response.status_code == 200
    assert figure(html, "complaints") == "4.0"
    assert figure(html, "per_10k") == "2.0"  # 4 ÷ 20,000 × 10,000
    assert figure(html, "appeal_rate") == "50.0"  # 1 referral ÷ 20,000 × 1,000,000
    assert figure(html, "fcr") == "0.0"  # the closed case was dispatched
    assert figure(html, "satisfaction") == "100.0"
    for period in ("2026年11月", "2026年10月", "2025年11月"):  # this month, the previous, last year's
        assert period in html
    assert html.count('<svg class="chart"') == 4  # trend, categories, channels, regions
    assert "<script" not in html.split("</head>")[1]  # no inline script in the page body


def test_every_figure_drills_down_to_as_many_cases(data, people):
    client = client_for(people["manager"])
    html = client.get(f"/reports/?{MONTH}").content.decode()
    causes = client.get(f"/reports/causes/?{MONTH}").content.decode()
    counts = re.findall(
        r'<a href="/reports/cases/\?([^"]+)">(\d+)</a>', html + causes
    )  # every count in the tables
    assert len(counts) >= 12
    for query, value in counts:
        page = client.get("/reports/cases/?" + query.replace("&amp;", "&")).content.decode()
        assert re.search(r'id="case-count">(\d+)<', page).group(1) == value, query
    drill = client.get(f"/reports/cases/?{MONTH}&fact=accepted").content.decode()
    assert re.search(r'id="case-count">(\d+)<', drill).group(1) == "4" == figure(html, "complaints")[:-2]


def test_a_handler_sees_only_their_department(data, people, org):
    client = client_for(people["handler"])  # billing
    html = client.get(f"/reports/?{MONTH}&department_id={org['dept']['network'].pk}").content.decode()
    assert figure(html, "complaints") == "2.0"  # the two cases led by billing; the filter is overridden

    page = client.get(f"/reports/cases/?{MONTH}&fact=accepted&department_id={org['dept']['network'].pk}")
    assert data["network_case"].ticket_no not in page.content.decode()
    assert re.search(r'id="case-count">(\d+)<', page.content.decode()).group(1) == "2"


@pytest.mark.parametrize("persona", ["agent", "visitor", "auditor", "inspector"])
def test_reports_are_refused_to_other_roles(data, people, persona):
    assert client_for(people[persona]).get(f"/reports/?{MONTH}").status_code == 403
    assert client_for(people[persona]).get(f"/reports/cases/?{MONTH}").status_code == 403


def test_bad_input_gets_a_clear_refusal(data, people):
    client = client_for(people["manager"])
    for query in ("period=fortnight", "date=2026-13-01", "channel=pigeon", "region_id=abc", "fact=nothing"):
        response = client.get(f"/reports/cases/?{query}")
        assert response.status_code == 400, query
        assert "Traceback" not in response.content.decode()


def test_the_report_exports_as_a_real_spreadsheet(data, people):
    response = client_for(people["manager"]).get(f"/reports/?{MONTH}&format=xlsx")
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    wb = load_workbook(io.BytesIO(response.content))

    assert wb.sheetnames[:3] == ["说明", "指标", "趋势"]
    kpis = wb["指标"]
    assert [c.value for c in kpis[1]] == ["指标", "单位", "本期", "上期", "去年同期", "环比变化"]
    assert kpis.freeze_panes == "B2"
    assert (kpis["A2"].value, kpis["C2"].value, kpis["D2"].value) == ("投诉量", 4, 1)
    assert kpis["C2"].number_format == "#,##0.00"
    groups = wb["管局三类"]
    assert [groups.cell(row=r, column=2).value for r in range(2, 5)] == [4, 0, 0]


def test_the_drill_down_exports_its_cases(data, people):
    response = client_for(people["manager"]).get(f"/reports/cases/?{MONTH}&fact=accepted&format=xlsx")
    wb = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    ws = wb["工单"]
    assert ws.max_row == 5  # header + 4 cases
    assert ws["A1"].value == "工单号"
    assert ws.freeze_panes == "B2"


def test_the_regulator_report_has_the_three_groups(data, people):
    html = client_for(people["supervisor"]).get("/reports/regulator/?date=2026-11-15").content.decode()
    assert "2026年第4季度" in html
    for group in ("service", "marketing_billing", "network_security"):
        assert f'id="group-{group}"' in html


def test_rising_phrases_link_to_the_cases_that_contain_them(data, people):
    client = client_for(people["manager"])
    assert 'id="phrases"' not in client.get(f"/reports/?{MONTH}").content.decode()  # rollups only there
    html = client.get(f"/reports/causes/?{MONTH}").content.decode()
    section = html.split('id="phrases"')[1].split("</section>")[0]
    assert "彩铃" in section
    page = client.get(f"/reports/cases/?{MONTH}&fact=accepted&q=彩铃").content.decode()
    assert re.search(r'id="case-count">(\d+)<', page).group(1) == "4"


def test_key_phrases_are_extracted_offline():
    assert "彩铃" in key_phrases(["彩铃扣费从未订购", "彩铃扣费不明"])
