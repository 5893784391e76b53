"""The registration page's category picker in Chromium (issue 11, point 6): a synonym finds its
categories (扣费 → 错收, 高额账单), ↑/↓ move through them and Enter picks one, the focus stays in the
box (an ARIA 1.2 combobox with aria-activedescendant), and axe-core finds no WCAG 2.1 A/AA
violation with the list open or closed."""

from __future__ import annotations

import pytest

from tests.browser.conftest import sign_in
from tests.browser.test_case_flow_browser import use_english
from tests.browser.test_reports_browser import violations
from tousu.complaints.models import Category, CategorySynonym

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_picker_finds_synonyms_and_works_from_the_keyboard(browser_page, live_server, people, org):
    huge = Category.objects.create(
        code="billing-huge-bill", name="高额账单", parent=org["billing"], sort_order=1
    )
    CategorySynonym.objects.create(category=org["wrong_charge"], word="扣费")
    CategorySynonym.objects.create(category=huge, word="扣费")
    page = browser_page
    use_english(page, live_server)
    sign_in(page, live_server, "agent")
    page.goto(f"{live_server.url}/register/")

    box = page.get_by_role("combobox", name="Find a category")
    assert box.get_attribute("aria-expanded") == "false"
    with page.expect_response(lambda r: "/categories/" in r.url and "q=" in r.url):
        box.press_sequentially("扣费")
    options = page.locator("#category-suggestions [role=option]")
    options.nth(1).wait_for()
    assert options.all_inner_texts() == [
        "资费类 › 错收 billing-wrong-charge",
        "资费类 › 高额账单 billing-huge-bill",
    ]
    assert box.get_attribute("aria-expanded") == "true"
    assert violations(page) == []

    box.press("ArrowDown")
    assert box.get_attribute("aria-activedescendant") == f"category-option-{org['wrong_charge'].pk}"
    box.press("ArrowDown")
    assert box.get_attribute("aria-activedescendant") == f"category-option-{huge.pk}"
    assert options.nth(1).get_attribute("aria-selected") == "true"
    assert options.nth(0).get_attribute("aria-selected") == "false"
    box.press("ArrowDown")  # wraps round to the first
    assert box.get_attribute("aria-activedescendant") == f"category-option-{org['wrong_charge'].pk}"
    box.press("ArrowUp")
    assert box.get_attribute("aria-activedescendant") == f"category-option-{huge.pk}"

    with page.expect_response(lambda r: "/register/lookup/" in r.url):  # the customer card rechecks
        box.press("Enter")
    assert page.input_value("#id_category") == str(huge.pk)
    assert box.input_value() == "资费类 › 高额账单"
    assert box.get_attribute("aria-expanded") == "false"
    assert box.get_attribute("aria-activedescendant") is None
    assert page.evaluate("document.activeElement.id") == "category-q"  # the focus stayed in the box
    assert page.url == f"{live_server.url}/register/"  # Enter did not submit the form
    assert violations(page) == []

    # Escape closes the list; typing again clears the choice, so what is shown is what is sent.
    with page.expect_response(lambda r: "/categories/" in r.url and "q=" in r.url):
        box.fill("")
        box.press_sequentially("错")
    options.first.wait_for()
    assert page.input_value("#id_category") == ""
    box.press("Escape")
    assert box.get_attribute("aria-expanded") == "false"
    assert options.count() == 0
