"""The portal's case page in Chromium (issue 11, point 9): the question asked above the answer box,
the expected reply date, evidence added after filing, and no WCAG 2.1 A/AA violation (axe-core)."""

from __future__ import annotations

import pytest

from tests.browser.test_portal_browser import PNG, follow
from tests.browser.test_reports_browser import violations
from tousu.common.ratelimit import ratelimit_reset
from tousu.complaints.models import Attachment
from tousu.complaints.states import Status
from tousu.sla.defaults import sla_bootstrap

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    ratelimit_reset()
    yield
    ratelimit_reset()


def test_a_customer_reads_the_question_sees_the_reply_date_and_adds_evidence(
    browser_page, live_server, cases, tmp_path
):
    sla_bootstrap()
    complaint = cases.make(Status.AWAITING_CUSTOMER)
    page = browser_page
    follow(page, live_server, complaint.ticket_no)
    assert page.inner_text("#question") == "Our question: 请提供账单截图"
    assert page.locator("#expected-reply time").count() == 1
    assert violations(page) == []

    bill = tmp_path / "bill.png"
    bill.write_bytes(PNG)
    page.get_by_label("Add evidence (pictures, bills, recordings)").set_input_files(str(bill))
    with page.expect_navigation():
        page.get_by_role("button", name="Add to my complaint").click()
    assert page.locator(".alert-success").inner_text() == "Thank you: 1 file was added to your complaint."
    assert list(
        Attachment.objects.filter(complaint=complaint).values_list("original_name", "uploaded_by")
    ) == [("bill.png", None)]
    assert violations(page) == []
