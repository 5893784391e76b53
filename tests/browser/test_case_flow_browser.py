"""A complaint's whole life in a real browser, through the pages only (issue 4).

The agent registers a hotline complaint and dispatches it; the billing handler investigates, plans
and asks for a 300 元 compensation above their own limit; the supervisor approves it; the handler
replies; a dissatisfied return visit reopens and escalates the case; the handler works it again; a
satisfied return visit follows and the return-visit specialist closes the case. Every step is a
click or typing in Chromium; after the fixtures and ``sla_bootstrap`` no service is called. A
handler of another department gets the 403 page for the case and none of its data.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, screenshot, sign_in
from tests.browser.test_reports_browser import violations
from tests.conftest import PHONE
from tousu.complaints import services as svc
from tousu.complaints.models import Complaint, ComplaintEvent
from tousu.complaints.states import Status
from tousu.sla.defaults import sla_bootstrap

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT = '<script>alert("x")</script>'
DESCRIPTION = f"用户反映3月账单被重复收取彩铃费用，从未订购。备注：{SCRIPT} 请核实。"
DEMAND = "退还多收的30元，并赔偿300元。"


# --- helpers: what a person does on the pages ---------------------------------------------------


def use_english(page: Any, live_server: Any) -> None:
    """The UI speaks Chinese by default: set the cookie the language selector sets, for English."""
    page.context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])


def sign_out(page: Any) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name="Sign out").click()
    assert "/accounts/login/" in page.url


def switch_user(page: Any, live_server: Any, username: str) -> None:
    sign_out(page)
    sign_in(page, live_server, username)


def field(scope: Any, label: str) -> Any:
    """The form control labelled exactly ``label`` (Django may add a colon to the label)."""
    return scope.get_by_label(re.compile(rf"^\s*{re.escape(label)}:?\s*$"))


def fact(page: Any, label: str) -> str:
    """The value shown beside ``label`` in the case's facts."""
    dd = page.locator(
        f"xpath=//dl[contains(@class, 'facts')]//dt[normalize-space()='{label}']/following-sibling::dd[1]"
    )
    return str(dd.inner_text()).strip()


def open_action(page: Any, slug: str) -> Any:
    """Press the action's button on the case page and return its form (the only one open)."""
    page.locator(f'.action-buttons [data-open-action="{slug}"]').click()
    form = page.locator(f"#form-{slug}")
    form.wait_for(state="visible")
    return form


def submit(page: Any, form: Any, *, button: str | None = None) -> str:
    """Press the form's button, wait for the case page to come back, return its success message."""
    target = form.get_by_role("button", name=button) if button else form.locator("button[type=submit]")
    with page.expect_navigation():
        target.click()
    assert re.search(r"/cases/\d+/$", page.url), f"not back on the case page: {page.url}"
    assert page.locator("#case-error").count() == 0, page.locator("#case-error").inner_text()
    assert page.locator(".errorlist").count() == 0, page.locator(".errorlist").first.inner_text()
    return str(page.locator(".alert-success").first.inner_text())


def investigate(page: Any, note: str) -> None:
    form = open_action(page, "investigate")
    field(form, "Note").fill(note)
    assert "is being investigated" in submit(page, form)
    assert fact(page, "Status") == "Investigating"


def propose_plan(page: Any, measures: str) -> None:
    form = open_action(page, "plan")
    field(form, "Resolution kind").select_option(label="Fixed at once")
    field(form, "Measures").fill(measures)
    deadline = timezone.localtime(timezone.now() + timedelta(days=2)).replace(hour=17, minute=0)
    field(form, "Deadline").fill(deadline.strftime("%Y-%m-%dT%H:%M"))
    assert "Resolution plan recorded" in submit(page, form)
    assert fact(page, "Status") == "Plan proposed"


def reply_to_customer(page: Any, content: str) -> None:
    form = open_action(page, "reply")
    field(form, "Reply channel").select_option(label="SMS")
    field(form, "Reply").fill(content)
    assert submit(page, form) == "Reply recorded; the customer is told."
    assert fact(page, "Status") == "Replied"


def record_return_visit(page: Any, *, resolved: bool, satisfaction: int, comment: str) -> str:
    form = open_action(page, "return-visit")
    form.get_by_role("radio", name="Yes").check()
    field(form, "Problem resolved").select_option(label="Yes" if resolved else "No")
    field(form, "Satisfaction (1–5)").select_option(str(satisfaction))
    field(form, "Comment").fill(comment)
    return submit(page, form)


def timeline(page: Any) -> list[str]:
    """The case's events, oldest first, each as "<what> <status change> · <who>" (time left out)."""
    heads = page.locator("#timeline li.event .event-head").all_inner_texts()
    return [re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d ", "", " ".join(h.split())) for h in heads]


# --- the flow -----------------------------------------------------------------------------------


def test_a_complaint_from_the_hotline_to_closing(browser_page, live_server, people, org):
    sla_bootstrap()
    page = browser_page
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    use_english(page, live_server)

    # 1. The agent takes the call and registers the complaint.
    sign_in(page, live_server, "agent")
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_role("link", name="Register a complaint").click()
    page.wait_for_url(f"{live_server.url}/register/")
    assert page.inner_text("h1") == "Register a complaint"

    phone = field(page, "Caller's number")
    with page.expect_response(lambda r: "/register/lookup/" in r.url and r.status == 200):
        phone.press_sequentially(PHONE)
    card = page.locator("#customer-card")
    card.get_by_text("New customer").wait_for()
    field(page, "Customer name").fill("张三")

    picker = page.get_by_role("combobox", name="Find a category")
    picker.press_sequentially("错收")
    suggestion = page.locator("#category-suggestions").get_by_role("option", name=re.compile("错收"))
    with page.expect_response(lambda r: "/register/lookup/" in r.url):  # the card rechecks repeats
        suggestion.click()
    page.wait_for_function(f"document.querySelector('#id_category').value === '{org['wrong_charge'].pk}'")
    assert "错收" in page.get_by_role("combobox", name="Find a category").input_value()

    field(page, "Channel").select_option(label="Hotline")
    field(page, "Description").fill(DESCRIPTION)
    field(page, "Customer's demand").fill(DEMAND)
    field(page, "Preferred reply channel").select_option(label="SMS")
    shot = screenshot(page, "register-form-with-customer-card")
    assert shot.stat().st_size > 10_000

    with page.expect_navigation():
        page.get_by_role("button", name="Register", exact=True).click()
    assert page.inner_text("h1") == "Complaint registered"
    ticket = page.locator(".ticket-no").inner_text().strip()
    assert ticket
    assert SCRIPT in page.locator("dd.description").inner_text()  # shown as text, not run

    # 2. The agent opens the case and dispatches it to billing, to the handler.
    with page.expect_navigation():
        page.get_by_role("link", name="Open the case").click()
    case_url = page.url
    assert re.fullmatch(rf"{re.escape(live_server.url)}/cases/\d+/", case_url)
    assert page.locator("h1").inner_text().startswith(f"Case {ticket}")
    assert fact(page, "Status") == "Accepted"
    assert fact(page, "Channel") == "Hotline"
    form = open_action(page, "dispatch")
    field(form, "Lead department").select_option(label="计费结算部")
    field(form, "Assignee").select_option(label=str(people["handler"]))
    field(form, "Note").fill("请计费结算部核查彩铃扣费。")
    assert submit(page, form) == f"Case {ticket} dispatched."
    assert fact(page, "Status") == "Dispatched"
    assert fact(page, "Lead department") == "计费结算部"
    assert fact(page, "Assignee") == str(people["handler"])

    # 3. A handler of another department is refused the case, and sees none of it.
    switch_user(page, live_server, "handler_other")
    response = page.goto(case_url)
    assert response is not None
    assert response.status == 403
    assert page.inner_text("h1") == "Not allowed"
    html = page.content()
    for secret in (ticket, "彩铃", "张三", "张*", PHONE, "138****8000", "计费结算部核查", "错收"):
        assert secret not in html, f"the 403 page shows {secret!r}"
    assert page.locator("#form-investigate, #timeline, #customer").count() == 0

    # 4. The billing handler finds the case in their queue, investigates, plans, asks for 300 元.
    switch_user(page, live_server, "handler")
    assert page.url == f"{live_server.url}/work/"  # the handler's home; their queue from there
    page.goto(f"{live_server.url}/queues/mine/")
    link = page.locator("table.queue").get_by_role("link", name=ticket)
    assert link.count() == 1
    screenshot(page, "queue-mine-handler")
    with page.expect_navigation():
        link.click()
    assert page.url == case_url
    investigate(page, "已调取3月话单。")
    propose_plan(page, "退还重复收取的彩铃费并取消彩铃业务。")
    form = open_action(page, "remedy")
    field(form, "Remedy").select_option(label="Compensation")
    field(form, "Amount (元)").fill("300")
    field(form, "Description").fill("重复扣费给用户造成困扰，补偿300元。")
    assert submit(page, form) == "Remedy requested; it waits for approval."
    assert fact(page, "Status") == "Awaiting remedy approval"
    remedies = page.locator("#remedies")
    assert "Compensation 300.00 元" in remedies.inner_text()
    assert "Awaiting approval" in remedies.inner_text()
    # Above the handler's 50 元 limit, and their own request: no way to approve it.
    assert page.get_by_role("button", name="Approve").count() == 0
    assert page.locator('form[data-action="decide"]').count() == 0

    # 5. The supervisor sees the request on the dashboard and approves it.
    switch_user(page, live_server, "supervisor")
    assert page.url == f"{live_server.url}/dashboard/"
    approval = page.locator("#approvals table").get_by_role("link", name=ticket)
    screenshot(page, "dashboard-supervisor-with-approval")
    with page.expect_navigation():
        approval.click()
    assert page.url == case_url
    decide = page.locator('form[data-action="decide"]')
    assert decide.count() == 1
    approve = decide.get_by_role("button", name="Approve")
    assert approve.is_visible()
    screenshot(page, "case-page-supervisor-approval")
    field(decide, "Decision note").fill("同意补偿300元。")
    assert submit(page, decide, button="Approve") == "Remedy approved."
    assert fact(page, "Status") == "Plan proposed"
    assert "Approved" in page.locator("#remedies").inner_text()
    assert page.get_by_role("button", name="Approve").count() == 0

    # 6. The handler replies to the customer.
    switch_user(page, live_server, "handler")
    page.goto(case_url)
    reply_to_customer(page, "经核查，已退还重复收取的彩铃费，并补偿300元。")

    # 7. The return visit finds the customer dissatisfied: the case reopens, one level up.
    switch_user(page, live_server, "visitor")
    page.goto(case_url)
    message = record_return_visit(page, resolved=False, satisfaction=2, comment="用户表示仍被扣费。")
    assert message == (
        "Return visit recorded: the customer is not satisfied; the case is reopened and escalated."
    )
    assert fact(page, "Status") == "Reopened"
    assert fact(page, "Escalation level") == "Supervisor"  # level 1
    assert "Escalated: Supervisor" in page.locator("h1").inner_text()
    assert fact(page, "Times reopened") == "1"
    assert Complaint.objects.get(ticket_no=ticket).escalation_level == 1  # read only

    # 8. The handler works the case again.
    switch_user(page, live_server, "handler")
    page.goto(case_url)
    assert fact(page, "Status") == "Reopened"
    investigate(page, "再次核查：4月仍有扣费，系统退订未生效。")
    propose_plan(page, "人工退订彩铃并退还4月费用。")
    reply_to_customer(page, "已人工退订彩铃并退还4月费用，之后不会再扣费。")

    # 9. A satisfied return visit, and the specialist closes the case.
    switch_user(page, live_server, "visitor")
    page.goto(case_url)
    message = record_return_visit(page, resolved=True, satisfaction=5, comment="用户满意。")
    assert message == "Return visit recorded: the customer is satisfied."
    assert fact(page, "Status") == "Return visit done"
    form = open_action(page, "close")
    field(form, "Note").fill("回访满意，结案。")
    assert submit(page, form) == f"Case {ticket} closed."
    assert fact(page, "Status") == "Closed"
    assert page.locator("h1 .badge.status-closed").inner_text() == "Closed"

    # The timeline tells the story in order: what happened, the status change, who did it.
    assert timeline(page) == [
        "Registered · agent",
        "Accepted Registered → Accepted · agent",
        "Dispatched Accepted → Dispatched · agent",
        "Status changed Dispatched → Investigating · handler",
        "Resolution plan proposed Investigating → Plan proposed · handler",
        "Remedy requested Plan proposed → Awaiting remedy approval · handler",
        "Remedy approved Awaiting remedy approval → Plan proposed · supervisor",
        "Replied to the customer Plan proposed → Replied · handler",
        "Return visit Replied → Return visit done · visitor",
        "Reopened Return visit done → Reopened · visitor",
        "Escalated · visitor",
        "Status changed Reopened → Investigating · handler",
        "Resolution plan proposed Investigating → Plan proposed · handler",
        "Replied to the customer Plan proposed → Replied · handler",
        "Return visit Replied → Return visit done · visitor",
        "Closed Return visit done → Closed · visitor",
    ]
    escalated = page.locator("#timeline li.event.kind-escalated")
    assert "Supervisor" in escalated.inner_text()  # to level 1
    assert "dissatisfied at the return visit" in escalated.inner_text()

    # The description is shown as literal text, and nothing ran from it.
    complaint_text = page.locator(
        "section.card", has=page.get_by_role("heading", name="Complaint", exact=True)
    )
    assert SCRIPT in complaint_text.locator("p.case-text").first.inner_text()
    assert "重复收取彩铃费用" in complaint_text.inner_text()
    assert DEMAND in complaint_text.inner_text()
    assert page.get_by_text(SCRIPT, exact=False).first.is_visible()
    assert page.locator("script", has_text='alert("x")').count() == 0  # no element made of it
    assert dialogs == []
    shot = screenshot(page, "case-page-closed", full_page=True)
    assert shot.stat().st_size > 10_000


# --- the workspace ------------------------------------------------------------------------------------


def test_the_case_workspace_in_a_browser(browser_page, playwright_driver, live_server, people, org, cases):
    """The next step, the action buttons (one form at a time), the assignee list that follows the
    department, a double-clicked note written once, related cases, the customer's history and the
    warning that someone else has the case open; no WCAG 2.1 A/AA violation on the way."""
    sla_bootstrap()
    earlier = cases.make(Status.CLOSED)  # the customer's history: a satisfied return visit
    c = cases.make(Status.ACCEPTED)
    page = browser_page
    use_english(page, live_server)
    sign_in(page, live_server, "agent")
    case_url = f"{live_server.url}/cases/{c.pk}/"
    page.goto(case_url)
    assert "Dispatch the case to the department that solves it" in page.inner_text("#next-step")
    assert "you can do it now" in page.inner_text("#next-step")
    assert page.locator(".action-panel:visible").count() == 0
    assert violations(page) == []

    # One form at a time; the assignee list follows the department chosen.
    form = open_action(page, "dispatch")
    assert page.locator(".action-panel:visible").count() == 1
    assert "do=dispatch" in page.url
    with page.expect_response(lambda r: "/assignees/" in r.url and r.status == 200):
        field(form, "Lead department").select_option(label="网络运维部")
    options = field(form, "Assignee").locator("option").all_inner_texts()
    assert options == ["—", str(people["handler_other"])]
    with page.expect_response(lambda r: "/assignees/" in r.url and r.status == 200):
        field(form, "Lead department").select_option(label="计费结算部")
    assert field(form, "Assignee").locator("option").all_inner_texts() == ["—", str(people["handler"])]
    assert violations(page) == []
    screenshot(page, "case-workspace-dispatch")

    # A double click on "Internal note" writes one note.
    form = open_action(page, "note")
    field(form, "Internal note").fill("客户来电催办。")
    assert page.locator(".action-panel:visible").count() == 1
    form.get_by_role("button", name="Internal note").dblclick()  # two submits of one form
    page.locator(".alert-success, .alert-info").first.wait_for()
    assert page.url.startswith(case_url)
    assert ComplaintEvent.objects.filter(complaint_id=c.pk, kind="note_added").count() == 1

    # Link the customer's earlier case; it shows under related cases.
    page.locator("#id_link_ticket").fill(earlier.ticket_no)
    with page.expect_navigation():
        page.locator("#form-link").get_by_role("button", name="Link").click()
    assert earlier.ticket_no in page.inner_text("#related")
    history = page.inner_text("#customer-history")
    assert earlier.ticket_no in history
    assert "5.0 / 5" in history

    # Someone else opens the case: the agent's page warns within a poll.
    second = playwright_driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    other = second.new_context(locale="en-US", timezone_id="Asia/Shanghai")
    other.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
    other_page = other.new_page()
    sign_in(other_page, live_server, "supervisor")
    other_page.goto(case_url)
    assert "agent also has this case open" in other_page.inner_text("#case-presence")
    page.locator("#case-presence .alert").wait_for(timeout=20_000)
    assert "supervisor also has this case open" in page.inner_text("#case-presence")
    assert violations(page) == []
    screenshot(page, "case-workspace", full_page=True)
    second.close()
    svc.complaint_note(actor=people["agent"], complaint_id=c.pk, text="ok")  # the case still takes notes
