"""Under the Content Security Policy, in a real browser: the pages' behaviour (static tousu.js,
htmx) works and the browser reports no violation; the customer page blacklists and merges."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import screenshot, sign_in
from tests.browser.test_reports_browser import violations as axe_violations
from tousu.complaints.models import SavedView
from tousu.complaints.states import Status
from tousu.customers.models import Customer

pytestmark = pytest.mark.django_db(transaction=True)


def watch_csp(page: Any) -> list[str]:
    """Collects the console's Content Security Policy complaints."""
    seen: list[str] = []
    page.on(
        "console",
        lambda message: seen.append(message.text) if "Content Security Policy" in message.text else None,
    )
    return seen


def test_the_staff_pages_work_under_the_policy(browser_page, live_server, people, cases):
    cases.make(Status.ACCEPTED)
    cases.make(Status.ACCEPTED, description="另一个投诉")
    page = browser_page
    violations = watch_csp(page)
    sign_in(page, live_server, "supervisor")

    page.goto(f"{live_server.url}/queues/all/")
    page.check("input[data-check-all]")  # the "select all" box (was an inline onclick)
    boxes = page.locator("#bulk input[name=cases]")
    assert boxes.count() == 2
    assert all(boxes.nth(i).is_checked() for i in range(2))

    page.goto(f"{live_server.url}/register/")
    with page.expect_response(lambda r: "/register/lookup/" in r.url and r.request.method == "POST"):
        page.fill("#id_phone", "13812348000")
    page.wait_for_selector("#customer-card h2.customer-name")
    assert "13812348000" not in page.url

    # The language switch submits itself (was an inline onchange).
    with page.expect_navigation():
        page.select_option("select[name=language]", "zh-hans")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert violations == []


def test_a_supervisor_blacklists_and_merges_on_the_customer_page(browser_page, live_server, people, cases):
    a = cases.make(Status.ACCEPTED, phone="13812348000")
    b = cases.make(Status.ACCEPTED, phone="13912340000", customer_name="李四")
    page = browser_page
    violations = watch_csp(page)
    sign_in(page, live_server, "supervisor")
    page.goto(f"{live_server.url}/cases/{b.pk}/")
    with page.expect_navigation():
        page.click(f'a[href="/customers/{b.customer_id}/"]')

    page.fill("#id_reason", "多次辱骂坐席")
    with page.expect_navigation():
        page.click("button[name=blacklisted][value='1']")
    assert "多次辱骂坐席" in page.inner_text("#blacklist-state")

    page.fill("#id_found_by", a.ticket_no)
    with page.expect_navigation():
        page.click("#merge-title ~ form button[type=submit]")
    assert "138****8000" in page.inner_text("#merge-candidate")
    screenshot(page, "customer-merge-candidate", full_page=True)
    with page.expect_navigation():
        page.click("#merge-candidate button[type=submit]")
    assert page.url == f"{live_server.url}/customers/{a.customer_id}/"
    assert Customer.objects.get(pk=b.customer_id).merged_into_id == a.customer_id
    assert violations == []


def test_a_supervisor_sorts_a_queue_and_saves_it_as_a_team_view(browser_page, live_server, people, cases):
    first = cases.make(Status.ACCEPTED)
    second = cases.make(Status.ACCEPTED, description="另一个投诉")
    page = browser_page
    csp = watch_csp(page)
    sign_in(page, live_server, "supervisor")
    page.goto(f"{live_server.url}/queues/all/")
    assert page.get_attribute("th[aria-sort]", "aria-sort") == "ascending"
    with page.expect_navigation():
        page.click("th a.sort >> text=Registered")
    with page.expect_navigation():
        page.click("th a.sort >> text=Registered")  # again: the reverse order
    assert page.url == f"{live_server.url}/queues/all/?sort=-registered"
    assert page.get_attribute("th[aria-sort]", "aria-sort") == "descending"
    tickets = page.locator("table.queue tbody td:nth-child(2) a").all_inner_texts()
    assert tickets == [second.ticket_no, first.ticket_no]
    page.fill("#id_name", "Newest first")
    page.check("#id_shared")
    with page.expect_navigation():
        page.click("button:has-text('Save this view')")
    view = SavedView.objects.get()
    assert (view.query, view.department_id) == ("sort=-registered", people["supervisor"].department_id)
    assert page.inner_text(".saved-views a[aria-current=page]") == "Newest first"
    assert axe_violations(page) == []
    screenshot(page, "queue-saved-view", full_page=True)
    assert csp == []
