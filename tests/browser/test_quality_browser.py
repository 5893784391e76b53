"""The quality loop in Chromium: an inspector lands on the queue, scores a picked case beside its
timeline, the agent reads the score and appeals, a supervisor grants the appeal; axe-core finds no
WCAG 2.1 A/AA violation on any of these pages."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
import time_machine
from django.utils import timezone

from tests.browser.conftest import screenshot, sign_in
from tests.browser.test_reports_browser import violations
from tousu.complaints.states import Status
from tousu.quality import services as q
from tousu.quality.models import Inspection, InspectionStatus
from tousu.quality.selectors import local_zone, week_of

pytestmark = pytest.mark.django_db(transaction=True)


def _sign_out_and_in(page, live_server, username: str) -> None:
    page.context.clear_cookies()
    sign_in(page, live_server, username)


def test_inspection_appeal_and_decision(browser_page, live_server, people, cases):
    q.quality_defaults_install()
    last_week = week_of(timezone.localdate(timezone.now(), local_zone())) - timedelta(days=7)
    with time_machine.travel(
        datetime.combine(last_week + timedelta(days=2), time(10), tzinfo=local_zone()), tick=False
    ):
        case = cases.make(Status.CLOSED, fcr=True)
    pick = q.sampling_run(week_start=last_week, actor=people["inspector"]).run.picks.get()
    assert pick.complaint_id == case.pk

    page = browser_page
    sign_in(page, live_server, "inspector")
    assert page.url.endswith("/quality/")  # the inspector lands on the queue
    assert page.locator("table.quality-queue tbody tr").count() == 1
    assert violations(page) == []
    with page.expect_navigation():
        page.click(f"#pick-{pick.pk} a")
    assert "已当场解释并退费。" in page.inner_text("main")  # the message to the customer, beside the card
    assert violations(page) == []
    screenshot(page, "quality-inspect", full_page=True)
    for code in ("greeting", "listening", "timeliness", "reply", "follow_up", "privacy", "promise"):
        page.check(f"input[name=c_{code}][value=yes]")
    page.check("input[name=c_policy][value=no]")
    page.fill("#id_comments", "未核实账单即承诺退费")
    with page.expect_navigation():
        page.click("#scorecard button[type=submit]")
    assert page.inner_text("#final-score") == "75.0"
    assert violations(page) == []
    inspection = Inspection.objects.get()

    _sign_out_and_in(page, live_server, "agent")
    page.goto(f"{live_server.url}/quality/mine/")
    assert violations(page) == []
    with page.expect_navigation():
        page.click(f"a[href='/quality/inspections/{inspection.pk}/']")
    page.fill("#id_reason", "已核实账单，见通话录音")
    with page.expect_navigation():
        page.click("#appeal-form button[type=submit]")
    assert page.inner_text("#inspection-status") == "Appealed"
    assert violations(page) == []

    _sign_out_and_in(page, live_server, "supervisor")
    page.goto(f"{live_server.url}/quality/")
    with page.expect_navigation():
        page.click(f"table.quality-appeals a[href='/quality/inspections/{inspection.pk}/']")
    assert violations(page) == []
    page.check("input[name=decision][value=grant]")
    page.fill("#id_score", "95")
    page.fill("#id_note", "录音证实已核实账单")
    with page.expect_navigation():
        page.click("#decide-form button[type=submit]")
    assert page.inner_text("#final-score") == "95.0"
    assert violations(page) == []
    screenshot(page, "quality-decided", full_page=True)
    inspection.refresh_from_db()
    assert (inspection.status, str(inspection.score), str(inspection.final_score)) == (
        InspectionStatus.AMENDED,
        "75.0",
        "95.0",
    )

    page.goto(f"{live_server.url}/quality/team/?period=month")
    assert violations(page) == []
    page.goto(f"{live_server.url}/quality/rules/")
    assert violations(page) == []
    page.goto(f"{live_server.url}/quality/scorecards/")
    assert page.locator("h1").inner_text() in ("Scorecards", "评分表")
    assert violations(page) == []
    page.goto(f"{live_server.url}/quality/calibration/")
    assert violations(page) == []
