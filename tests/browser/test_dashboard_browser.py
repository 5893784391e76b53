"""The supervisor dashboard in a real browser: sign in, see the counts, the panel refreshing itself."""

from __future__ import annotations

import pytest

from tests.browser.conftest import screenshot, sign_in
from tousu.complaints.states import Status
from tousu.sla.defaults import sla_bootstrap

pytestmark = pytest.mark.django_db(transaction=True)


def test_supervisor_signs_in_and_sees_the_dashboard(browser_page, live_server, people, cases):
    sla_bootstrap()
    registered = cases.make(Status.REGISTERED)
    cases.make(Status.REGISTERED, level="major")
    cases.make(Status.DISPATCHED)
    waiting = cases.make(Status.AWAITING_APPROVAL)
    cases.make(Status.CLOSED)
    page = browser_page
    page.clock.install()  # the page's timers wait for the test: "every 30s" runs when told to

    sign_in(page, live_server, "supervisor")

    assert page.url == f"{live_server.url}/dashboard/"  # supervisors start on their dashboard
    assert page.inner_text("h1") == "Supervisor dashboard"
    assert page.inner_text("#kpi-open .dash-num") == "4"
    assert page.inner_text("#kpi-due-soon .dash-num") == "2"  # both first responses (30 and 10 min)
    assert page.inner_text("#kpi-overdue .dash-num") == "0"
    assert page.inner_text("#kpi-escalated .dash-num") == "1"  # the major complaint
    assert page.inner_text("#kpi-approvals") == "1\napprovals waiting · 100.00 元"
    assert page.inner_text('#by-status td[data-key="registered"]') == "2"
    assert page.inner_text('#by-level td[data-key="major"]') == "1"
    assert page.get_attribute("#dashboard-panel", "hx-trigger") == "every 30s"
    approval_link = page.locator("#approvals table a").first
    assert approval_link.inner_text() == waiting.ticket_no
    assert approval_link.get_attribute("href") == f"/cases/{waiting.pk}/"
    shot = screenshot(page, "dashboard-supervisor")
    assert shot.stat().st_size > 10_000

    # htmx fetches the panel again and swaps it in place: a new case appears without a reload.
    cases.make(Status.REGISTERED)
    with page.expect_response(lambda r: r.url.endswith("/dashboard/panel/") and r.status == 200):
        page.clock.run_for(31_000)
    page.wait_for_function("document.querySelector('#kpi-open .dash-num').textContent === '5'")
    assert page.inner_text("#kpi-due-soon .dash-num") == "3"
    assert page.locator(f'a[href="/cases/{registered.pk}/"]').count() == 1


def test_an_agent_is_refused_the_dashboard(browser_page, live_server, people):
    page = browser_page
    sign_in(page, live_server, "agent")
    response = page.goto(f"{live_server.url}/dashboard/")
    assert response is not None
    assert response.status == 403
    assert "The dashboard is for supervisors and managers." in page.inner_text("main")
