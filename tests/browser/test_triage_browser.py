"""The triage pages in Chromium: the "to classify" queue (accepting a suggestion) and a major
incident's page, with no WCAG 2.1 A/AA violations found by axe-core."""

from __future__ import annotations

import pytest

from tests.browser.conftest import screenshot, sign_in
from tests.browser.test_reports_browser import violations
from tousu.common.origin import EMAIL
from tousu.complaints import services as svc
from tousu.triage.models import Classification, Incident, Outcome
from tousu.triage.services import triage_clusters, triage_intake

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _settings(settings):
    settings.TOUSU_TRIAGE_LAG_SECONDS = 0
    settings.TOUSU_TRIAGE_AUTO_CONFIDENCE = 101
    settings.TOUSU_TRIAGE_CLUSTER_SIZE = 3
    settings.TOUSU_TRIAGE_CLUSTER_MINUTES = 30


def test_a_supervisor_classifies_from_the_queue_and_reads_an_incident(
    browser_page, live_server, people, cases, org
):
    queued = cases.register(
        actor=None,
        origin=EMAIL,
        channel="email",
        phone="",
        email="kh@example.com",
        description="家里宽带断网三天了，光猫红灯一直闪，要求尽快修复",
        demand="",
    )
    triage_intake()
    for i in range(3):
        c = cases.register(
            phone=f"1380000{i:04d}",
            category_id=org["outage"].pk,
            region_id=org["urban"].pk,
            description="小区宽带全部断网",
        )
        svc.complaint_accept(actor=people["agent"], complaint_id=c.pk)
    triage_clusters()
    incident = Incident.objects.get()

    page = browser_page
    sign_in(page, live_server, "supervisor")
    page.goto(f"{live_server.url}/queues/to-classify/")
    assert page.locator("table.to-classify tbody tr").count() == 1
    assert violations(page) == []
    screenshot(page, "triage-to-classify", full_page=True)
    with page.expect_navigation():
        page.click(f"#classify-{queued.pk} button[name=accept]")
    assert "No case waits to be classified." in page.inner_text("table.to-classify")
    assert Classification.objects.get(complaint=queued).outcome == Outcome.CONFIRMED

    page.goto(f"{live_server.url}/incidents/{incident.pk}/")
    assert page.inner_text("#incident-count") == "3"
    assert violations(page) == []
    screenshot(page, "triage-incident", full_page=True)

    page.goto(f"{live_server.url}/incidents/")
    assert violations(page) == []
    page.goto(f"{live_server.url}/dashboard/")
    assert page.locator("#open-incidents tbody tr, #open-incidents tr").count() >= 2
    assert violations(page) == []
