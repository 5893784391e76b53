"""Each role's day in Chromium, from where it lands (issue 11, points 1 and 2).

The billing handler finds a case in the inbox (the badge in the header counts it), opens it and
proposes a plan on the case page, and marks the item read; the supervisor approves a remedy within
their 500 元 limit from the approvals list and sees one above it marked "Needs the manager", which
the manager then approves; the return-visit specialist calls a customer from the 待回访 queue and
records a satisfied return visit on the call screen. The inbox and every home pass axe-core's
WCAG 2.1 A/AA rules. After the fixtures (built through the services) everything is a click.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.browser.conftest import screenshot, sign_in
from tests.browser.test_case_flow_browser import propose_plan, switch_user, use_english
from tousu.complaints import services as svc
from tousu.complaints.models import Complaint, Remedy, ReturnVisit
from tousu.complaints.states import Status
from tousu.notifications.models import Notification
from tousu.notifications.services import outbox_dispatch
from tousu.sla.defaults import sla_bootstrap

pytestmark = pytest.mark.django_db(transaction=True)
WCAG_AA = {"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}}


def violations(page: Any) -> list[str]:
    results = Axe().run(page, options=WCAG_AA)
    assert len(results.response["passes"]) >= 10  # axe really ran its rules on the page
    return [f"{v['id']}: {[n['target'] for n in v['nodes']][:3]}" for v in results.response["violations"]]


def message(page: Any) -> str:
    return str(page.locator(".alert").first.inner_text()).strip()


def test_each_role_starts_its_day_from_its_home(browser_page, live_server, people, cases):
    sla_bootstrap()
    handler = people["handler"]
    investigating = cases.make(Status.INVESTIGATING)
    remedies = {}
    for amount in ("300", "800"):
        case = cases.make(Status.PLAN_PROPOSED)
        remedies[amount] = svc.remedy_request(
            actor=handler, complaint_id=case.pk, kind="compensation", amount=amount
        )
    replied = cases.make(Status.REPLIED)
    outbox_dispatch()
    unread = Notification.objects.filter(recipient_user=handler, read_at__isnull=True).count()
    assert unread == 4  # "assigned to you", one per case dispatched to the handler

    page = browser_page
    use_english(page, live_server)

    # 1. The handler lands on their work, sees the badge, finds the case in the inbox.
    sign_in(page, live_server, "handler")
    assert page.url == f"{live_server.url}/work/"
    assert page.locator("h1").inner_text() == "My work"
    page.locator("#inbox-badge .count").wait_for()
    assert page.locator("#inbox-badge .count").inner_text() == "4"
    assert violations(page) == []
    screenshot(page, "home-handler", full_page=True)

    with page.expect_navigation():
        page.locator("header.top a.inbox-link").click()
    assert page.url == f"{live_server.url}/inbox/"
    assert page.locator("table.inbox tr.unread").count() == 4
    assert violations(page) == []
    screenshot(page, "inbox", full_page=True)
    with page.expect_navigation():
        page.locator("table.inbox").get_by_role("link", name=investigating.ticket_no).first.click()
    assert re.search(rf"/cases/{investigating.pk}/$", page.url)
    propose_plan(page, "退还错收的彩铃费并取消业务。")
    assert Complaint.objects.get(pk=investigating.pk).status == Status.PLAN_PROPOSED

    # … and marks that item read: three left, the badge follows.
    page.goto(f"{live_server.url}/inbox/")
    row = page.locator("table.inbox tr.unread", has=page.get_by_role("link", name=investigating.ticket_no))
    with page.expect_navigation():
        row.get_by_role("button", name="Mark read").click()
    assert page.locator("table.inbox tr.unread").count() == 3
    page.locator("#inbox-badge .count").wait_for()
    assert page.locator("#inbox-badge .count").inner_text() == "3"
    assert Notification.objects.filter(recipient_user=handler, read_at__isnull=True).count() == 3

    # 2. The supervisor approves within the limit; above it, the manager decides.
    switch_user(page, live_server, "supervisor")
    with page.expect_navigation():
        page.locator("header.top nav").get_by_role("link", name="Approvals").click()
    assert page.url == f"{live_server.url}/approvals/"
    within = page.locator(f"#remedy-{remedies['300'].pk}")
    above = page.locator(f"#remedy-{remedies['800'].pk}")
    assert "Within your limit" in within.inner_text()
    assert "Needs the manager" in above.inner_text()
    assert above.get_by_role("button", name="Approve").count() == 0
    assert violations(page) == []
    screenshot(page, "home-approvals", full_page=True)
    within.get_by_label("Decision note").fill("同意补偿300元。")
    with page.expect_navigation():
        within.get_by_role("button", name="Approve").click()
    assert message(page).endswith("Remedy approved.")
    assert page.locator(f"#remedy-{remedies['300'].pk}").count() == 0
    assert Remedy.objects.get(pk=remedies["800"].pk).status == "requested"

    switch_user(page, live_server, "manager")
    page.goto(f"{live_server.url}/approvals/")
    above = page.locator(f"#remedy-{remedies['800'].pk}")
    assert "Within your limit" in above.inner_text()
    with page.expect_navigation():
        above.get_by_role("button", name="Approve").click()
    assert message(page).endswith("Remedy approved.")
    assert [r.status for r in Remedy.objects.filter(pk__in=[r.pk for r in remedies.values()])] == [
        "approved",
        "approved",
    ]

    # 3. The return-visit specialist lands on 待回访 and calls the customer.
    switch_user(page, live_server, "visitor")
    assert page.url == f"{live_server.url}/return-visits/"
    assert violations(page) == []
    screenshot(page, "home-return-visits", full_page=True)
    with page.expect_navigation():
        page.get_by_role("link", name=f"Call about {replied.ticket_no}").click()
    assert "经核查已退还30元。" in page.locator(".call-script").inner_text()
    assert violations(page) == []
    screenshot(page, "home-return-visit-call", full_page=True)
    form = page.locator("#form-return-visit")
    form.locator("fieldset", has_text="Customer reached").get_by_label("Yes").check()
    form.locator("fieldset", has_text="Problem resolved").get_by_label("Yes").check()
    form.get_by_label("4 · satisfied").check()
    form.get_by_label("Comments").fill("客户表示满意。")
    with page.expect_navigation():
        form.get_by_role("button", name="Record the return visit").click()
    assert page.url == f"{live_server.url}/return-visits/"
    assert message(page) == f"{replied.ticket_no} · Return visit recorded: the customer is satisfied."
    visit = ReturnVisit.objects.get(complaint=replied)
    assert (visit.reached, visit.resolved, visit.satisfaction, visit.comment) == (
        True,
        True,
        4,
        "客户表示满意。",
    )
    assert Complaint.objects.get(pk=replied.pk).status == Status.RETURN_VISIT
    assert page.get_by_text("No return visits are due.").is_visible()
