"""Browser tests: Playwright for Python driving Debian's Chromium (never a downloaded browser)
against pytest-django's live server.

The whole package is skipped, with a plain reason, when Chromium is not installed at
``/usr/bin/chromium`` (or ``$TOUSU_CHROMIUM``). Tests here need
``@pytest.mark.django_db(transaction=True)``: the live server reads the database from another thread.

Helpers: ``browser_page`` (a fresh headless Chromium profile, 1366×768), ``sign_in(page,
live_server, username)`` through the real sign-in form (the ``people`` personas have password
"pw"), and ``screenshot(page, name)`` saving ``test-artifacts/screenshots/<name>.png``.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("TOUSU_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1366, "height": 768}
HERE = Path(__file__).resolve().parent
SCREENSHOTS = HERE.parent.parent / "test-artifacts" / "screenshots"
SKIP_REASON = f"Chromium not found at {CHROMIUM}: browser tests skipped"
PASSWORD = "pw"  # the password of every persona of tests/conftest.py


def chromium_available() -> bool:
    return os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if chromium_available():
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(skip)


@pytest.fixture(scope="package", autouse=True)
def _allow_orm_beside_playwright() -> Iterator[None]:
    """Playwright's sync API keeps an event loop in the test thread while it runs; Django then
    takes the ORM calls of the tests (fixtures, database flush) for calls from async code and
    refuses them. They are not: allow them in this package only, while the driver runs."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        yield


@pytest.fixture(scope="package")
def playwright_driver() -> Iterator[Any]:
    if not chromium_available():
        pytest.skip(SKIP_REASON)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def browser_page(playwright_driver: Any) -> Iterator[Any]:
    """A page of a fresh headless Chromium (its own empty profile), 1366×768, English."""
    with tempfile.TemporaryDirectory(prefix="tousu-chromium-") as profile:
        context = playwright_driver.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport=VIEWPORT,
            locale="en-US",
            timezone_id="Asia/Shanghai",
        )
        context.set_default_timeout(15_000)
        try:
            page = context.pages[0] if context.pages else context.new_page()
            yield page
        finally:
            context.close()


def sign_in(page: Any, live_server: Any, username: str, password: str = PASSWORD) -> None:
    """Sign in through the real form, and wait until the start page has loaded."""
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("form button[type=submit]")
    if "/accounts/login/" in page.url:
        raise AssertionError(f"signing in as {username!r} failed: still on {page.url}")


def screenshot(page: Any, name: str, *, full_page: bool = False) -> Path:
    """Save what the window shows (or the whole page) as ``test-artifacts/screenshots/<name>.png``
    (git-ignored) and return the path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path
