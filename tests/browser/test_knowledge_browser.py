"""The knowledge base and the reply composer in Chromium: a handler writes the formal reply from a
template (a template the case lacks a field for is refused on the page), previews exactly what the
customer receives with its SMS count, sends it; the knowledge pages and the composer have no WCAG
2.1 A/AA violations found by axe-core."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import screenshot, sign_in
from tests.browser.test_reports_browser import violations
from tousu.complaints.models import Reply
from tousu.complaints.states import Status
from tousu.knowledge.models import Article, ReplyTemplate
from tousu.knowledge.starter import starter_load

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_handler_replies_from_a_template(browser_page, live_server, cases, people):
    starter_load()
    c = cases.make(Status.PLAN_PROPOSED)
    plan_sms = ReplyTemplate.objects.get(code="plan-sms")
    refund_sms = ReplyTemplate.objects.get(code="refund-sms")
    page = browser_page
    sign_in(page, live_server, "handler")
    page.goto(f"{live_server.url}/cases/{c.pk}/")
    page.wait_for_selector("#composer-form")

    page.select_option("#composer-template", str(refund_sms.pk))
    page.click("#composer-insert")
    page.wait_for_selector("#composer-error")
    assert "({amount})" in page.inner_text("#composer-error")
    assert page.input_value("#composer-text") == ""

    page.select_option("#composer-template", str(plan_sms.pk))
    page.click("#composer-insert")
    expect(page.locator("#composer-text")).not_to_have_value("")
    text = page.input_value("#composer-text")
    assert text.startswith("张三您好，您的投诉处理方案已确定")
    assert c.ticket_no in text
    page.check("input[name=mode][value=reply]")
    page.select_option("#composer-channel", "sms")
    page.type("#composer-text", " ")  # the live count follows typing
    assert " SMS" in page.inner_text("#composer-count")
    page.click("#composer-preview-button")
    page.wait_for_selector("#preview-text")
    expected = f"【Tousu 客服】关于投诉 {c.ticket_no}：{text}"
    assert page.inner_text("#preview-text") == expected
    assert page.inner_text("#preview-sms").endswith("2 SMS (67 characters per SMS)") == (len(expected) > 70)
    assert violations(page) == []
    screenshot(page, "knowledge-composer", full_page=True)
    with page.expect_navigation():
        page.click("#composer-send")
    reply = Reply.objects.get(complaint=c)
    assert (reply.content, reply.channel) == (text, "sms")
    c.refresh_from_db()
    assert c.status == Status.REPLIED


def test_the_knowledge_pages_pass_axe(browser_page, live_server, people, org):
    starter_load()
    page = browser_page
    sign_in(page, live_server, "supervisor")
    page.goto(f"{live_server.url}/kb/?q=tjbh")
    assert "停机保号收费标准" in page.inner_text("#kb-results-title + ol")
    assert violations(page) == []
    article = Article.objects.get(external_ref="kb-005")
    page.goto(f"{live_server.url}/kb/{article.pk}/")
    assert page.locator("#kb-history tbody tr").count() == 1
    assert violations(page) == []
    screenshot(page, "knowledge-article", full_page=True)
