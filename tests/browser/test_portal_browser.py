"""The customer portal in a real browser (issue 5, part 3): a customer files a complaint on a phone,
follows a case with the code sent by SMS (read from the queued notification, as the phone would
show it), answers a request for information, withdraws a complaint, and answers the return-visit
survey dissatisfied, which reopens the case. No sign-in: the portal is public."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.browser.conftest import screenshot
from tests.conftest import PHONE, PHONE_E164
from tousu.common.links import survey_token
from tousu.common.ratelimit import ratelimit_reset
from tousu.complaints.models import Attachment, Complaint
from tousu.complaints.states import Status
from tousu.notifications.models import Notification

pytestmark = pytest.mark.django_db(transaction=True)

PHONE_VIEWPORT = {"width": 375, "height": 667}
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 200
SCRIPT = '<script>alert("x")</script>'


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    ratelimit_reset()
    yield
    ratelimit_reset()


def use_phone(page: Any) -> None:
    page.set_viewport_size(PHONE_VIEWPORT)


def no_sideways_scrolling(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE_VIEWPORT["width"], f"the page is {width}px wide on a 375px screen"


def sms_code() -> str:
    body = Notification.objects.filter(template="otp", address=PHONE_E164).latest("id").clear_body()
    found = re.search(r"\b(\d{6})\b", body)
    assert found, body
    return found.group(1)


def follow(page: Any, live_server: Any, ticket_no: str) -> None:
    """Ask for a code with the ticket number and phone, then type the code from the SMS."""
    page.goto(f"{live_server.url}/portal/track/")
    page.fill("input[name=ticket_no]", ticket_no)
    page.fill("input[name=phone]", PHONE)
    with page.expect_navigation():
        page.get_by_role("button", name="Send me a code").click()
    assert page.url == f"{live_server.url}/portal/track/code/"
    page.fill("input[name=code]", sms_code())
    with page.expect_navigation():
        page.get_by_role("button", name="Open my complaint").click()
    assert page.url == f"{live_server.url}/portal/case/{ticket_no}/"


def test_a_customer_files_a_complaint_on_a_phone_in_chinese(browser_page, live_server, org):
    page = browser_page
    use_phone(page)
    page.goto(f"{live_server.url}/portal/")
    assert page.locator("html").get_attribute("lang") == "en"  # the browser asked for English
    with page.expect_navigation():
        page.get_by_role("button", name="简体中文").click()
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert page.inner_text("h1") == "我们能帮您什么？"
    no_sideways_scrolling(page)

    with page.expect_navigation():
        page.get_by_role("link", name="我要投诉").first.click()
    assert page.inner_text("h1") == "我要投诉"
    page.get_by_label("您的姓名").fill("王五")
    page.get_by_label("手机号码").fill("139 1234 5678")
    page.get_by_label("业务类型").select_option(label="宽带")
    page.get_by_label("投诉类别").select_option(label="网络中断")
    page.get_by_label("发生了什么？").fill(f"宽带从昨晚起断网。{SCRIPT}")
    page.get_by_label("您希望我们怎么处理？").fill("尽快修复")
    page.get_by_label("短信").check()
    page.set_input_files(
        "input[name=attachments]", files=[{"name": "modem.png", "mimeType": "image/png", "buffer": PNG}]
    )
    no_sideways_scrolling(page)
    screenshot(page, "portal-file-phone", full_page=True)

    with page.expect_navigation():
        page.get_by_role("button", name="提交投诉").click()
    assert page.inner_text("h1") == "投诉已提交"
    shown = page.locator("#ticket-no").inner_text().strip()
    complaint = Complaint.objects.get()
    assert shown == complaint.ticket_no
    assert complaint.status == Status.ACCEPTED
    assert complaint.channel == "web"
    assert complaint.description == f"宽带从昨晚起断网。{SCRIPT}"
    assert list(Attachment.objects.values_list("original_name", flat=True)) == ["modem.png"]
    assert "已上传 1 个文件。" in page.inner_text("main")
    no_sideways_scrolling(page)
    screenshot(page, "portal-filed-phone")

    # The filing browser sees its case at once; the script is shown as text.
    with page.expect_navigation():
        page.get_by_role("link", name="查看投诉").click()
    assert page.locator("#case-status").inner_text() == "已受理"
    assert SCRIPT in page.locator("dl.facts").inner_text()


def test_a_form_with_mistakes_keeps_what_was_typed_and_says_what_is_wrong(browser_page, live_server, org):
    page = browser_page
    use_phone(page)
    page.goto(f"{live_server.url}/portal/file/")
    page.get_by_label("Your name").fill("王五")
    page.get_by_label("Mobile phone number").fill("12345")
    page.get_by_label("What happened?").fill("断网")
    page.get_by_role("radio", name="E-mail").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Send my complaint").click()
    errors = page.locator(".errorlist").all_inner_texts()
    assert "'12345' is not a valid phone number." in errors
    assert "Give your e-mail address to get our answer by e-mail." in errors
    assert page.get_by_label("What happened?").input_value() == "断网"
    no_sideways_scrolling(page)
    screenshot(page, "portal-file-errors-phone", full_page=True)
    assert Complaint.objects.count() == 0


def test_a_customer_follows_a_case_answers_and_withdraws_it(browser_page, live_server, cases):
    complaint = cases.make(Status.AWAITING_CUSTOMER)
    page = browser_page
    follow(page, live_server, complaint.ticket_no)
    assert page.locator("#case-status").inner_text() == "Waiting for information from you"
    assert "请提供账单截图" in page.locator("#timeline").inner_text()
    assert "计费结算部" not in page.content()
    screenshot(page, "portal-case-desktop", full_page=True)

    page.get_by_label("Your answer").fill("截图已通过邮件发送。")
    with page.expect_navigation():
        page.get_by_role("button", name="Send my answer").click()
    assert page.locator("#case-status").inner_text() == "Being handled"
    complaint.refresh_from_db()
    assert complaint.status == Status.INVESTIGATING

    with page.expect_navigation():
        page.get_by_role("link", name="Withdraw this complaint").click()
    assert page.inner_text("h1") == f"Withdraw the complaint {complaint.ticket_no}?"
    complaint.refresh_from_db()
    assert complaint.status == Status.INVESTIGATING  # nothing happens before the confirmation
    page.get_by_label("Why do you withdraw it? (optional)").fill("问题已自行解决")
    with page.expect_navigation():
        page.get_by_role("button", name="Yes, withdraw it").click()
    assert page.locator(".alert-success").inner_text() == "Your complaint has been withdrawn."
    assert page.locator("#case-status").inner_text() == "Withdrawn"
    assert page.get_by_role("link", name="Withdraw this complaint").count() == 0
    complaint.refresh_from_db()
    assert complaint.status == Status.WITHDRAWN
    assert complaint.events.latest("id").payload == {"reason": "问题已自行解决", "via": "portal"}


def test_a_wrong_code_is_refused_on_the_page(browser_page, live_server, cases):
    complaint = cases.make(Status.ACCEPTED)
    page = browser_page
    use_phone(page)
    page.goto(f"{live_server.url}/portal/track/")
    page.fill("input[name=ticket_no]", complaint.ticket_no)
    page.fill("input[name=phone]", PHONE)
    with page.expect_navigation():
        page.get_by_role("button", name="Send me a code").click()
    wrong = "000000" if sms_code() != "000000" else "111111"
    page.fill("input[name=code]", wrong)
    with page.expect_navigation():
        page.get_by_role("button", name="Open my complaint").click()
    assert page.locator(".errorlist").inner_text() == "The code is not correct. Check the SMS and try again."
    no_sideways_scrolling(page)
    screenshot(page, "portal-code-wrong-phone")
    page.goto(f"{live_server.url}/portal/case/{complaint.ticket_no}/")
    assert page.url.startswith(f"{live_server.url}/portal/track/")


def test_a_dissatisfied_survey_answer_reopens_the_case(browser_page, live_server, cases):
    complaint = cases.make(Status.REPLIED)
    page = browser_page
    use_phone(page)
    url = f"{live_server.url}/portal/survey/{survey_token(complaint.pk)}/"
    page.goto(url)
    assert page.locator("#survey-ticket").inner_text() == complaint.ticket_no
    page.get_by_label("No").check()
    page.get_by_label("2", exact=True).check()
    page.get_by_label("Anything else you want to tell us? (optional)").fill("还在扣费")
    no_sideways_scrolling(page)
    screenshot(page, "portal-survey-phone", full_page=True)
    with page.expect_navigation():
        page.get_by_role("button", name="Send my answer").click()
    assert f"Your complaint {complaint.ticket_no} has been reopened" in page.locator("#message").inner_text()
    complaint.refresh_from_db()
    assert (complaint.status, complaint.escalation_level) == (Status.REOPENED, 1)

    page.goto(url)
    assert page.inner_text("h1") == "Thank you, we already have your answer"
    page.goto(f"{live_server.url}/portal/survey/forged-token/")
    assert page.inner_text("h1") == "This link does not work"
