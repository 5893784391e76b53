"""The report pages in Chromium: figures, charts and the drill-down, and no WCAG 2.1 A/AA
violations found by axe-core (shipped by the axe-playwright-python package, no network)."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.browser.conftest import screenshot, sign_in
from tousu.analytics.services import analytics_consume
from tousu.complaints.states import Status
from tousu.sla.defaults import sla_bootstrap

pytestmark = pytest.mark.django_db(transaction=True)
WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def violations(page) -> list[str]:
    results = Axe().run(page, options=WCAG_AA)
    assert len(results.response["passes"]) >= 10  # axe really ran its rules on the page
    return [f"{v['id']}: {[n['target'] for n in v['nodes']][:3]}" for v in results.response["violations"]]


def test_a_manager_reads_the_report_drills_down_and_finds_no_accessibility_violation(
    browser_page, live_server, people, cases, org
):
    sla_bootstrap()
    cases.make(Status.CLOSED)
    cases.make(Status.ACCEPTED, phone="13900000031", channel="regulator", category_id=org["outage"].pk)
    while analytics_consume():
        pass
    page = browser_page
    sign_in(page, live_server, "manager")

    page.goto(f"{live_server.url}/reports/")
    assert page.inner_text("#kpi-complaints td.num a") == "2"
    assert page.locator("svg.chart").count() == 4
    assert violations(page) == []
    screenshot(page, "reports-month", full_page=True)

    with page.expect_navigation():
        page.click("#kpi-complaints td.num a")
    assert page.inner_text("#case-count") == "2"
    assert violations(page) == []

    page.goto(f"{live_server.url}/reports/causes/")
    assert page.locator("#phrases tbody tr").count() >= 1
    assert violations(page) == []

    page.goto(f"{live_server.url}/reports/regulator/")
    assert page.locator("#groups tbody tr").count() == 3
    assert violations(page) == []


def test_a_manager_subscribes_to_the_monthly_report_with_no_accessibility_violation(
    browser_page, live_server, people
):
    from tousu.analytics.models import ReportSubscription

    people["manager"].email = "boss@example.com"
    people["manager"].save(update_fields=["email"])
    page = browser_page
    sign_in(page, live_server, "manager")

    page.goto(f"{live_server.url}/reports/subscriptions/")
    assert violations(page) == []
    page.check('input[name="frequency"][value="month"]')
    with page.expect_navigation():
        page.click('#subscriptions button[type="submit"]')
    assert page.locator("#subscription-saved").count() == 1
    assert page.is_checked('input[name="frequency"][value="month"]')
    assert list(ReportSubscription.objects.values_list("user__username", "frequency")) == [
        ("manager", "month")
    ]
    assert violations(page) == []
