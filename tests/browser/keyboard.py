"""Keyboard steps shared by the browser tests."""

from __future__ import annotations

from typing import Any

TEST_PASSWORD = "pw-for-tests-only"
DEMO_PASSWORD = "netboard-demo"


def log_in(page: Any, base: str, username: str, password: str = TEST_PASSWORD) -> None:
    """Sign in by keyboard: the username box has the focus; Tab, password, Enter."""
    page.context.clear_cookies()
    page.goto(base + "/accounts/login/")
    page.wait_for_selector("#id_username:focus")  # (autofocus lands once the page has loaded)
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    page.keyboard.press("Enter")
    page.wait_for_url(base + "/")


def type_credentials(page: Any, username: str, password: str = TEST_PASSWORD) -> None:
    """On a login page: the username box has the focus; type, Tab, password, Enter, and wait
    for the page the sign-in leads to."""
    page.wait_for_selector("#id_username:focus")
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(password)
    with page.expect_navigation():
        page.keyboard.press("Enter")


def type_sign_in(
    page: Any, base: str, username: str, password: str = TEST_PASSWORD, next_path: str = ""
) -> None:
    """Open the login page (with ?next=) and sign in by keyboard, as log_in does, without
    expecting where it leads (a code page, a lockout, the page asked for)."""
    page.goto(base + "/accounts/login/" + (f"?next={next_path}" if next_path else ""))
    type_credentials(page, username, password)


def tab_out(page: Any) -> None:
    """Tab to the next field. A date input takes more than one Tab to leave in Chromium (its
    segments and calendar button), so press Tab until the focus is on another element."""
    page.evaluate("document.activeElement.dataset.tabFrom = '1'")
    for _ in range(4):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.tabFrom !== '1'"):
            page.evaluate(
                "document.querySelector('[data-tab-from]')?.removeAttribute('data-tab-from')"
            )
            return
    raise AssertionError("Tab did not leave the field")


def type_fields(page: Any, *values: str) -> None:
    """Type each value into the focused field, then Tab to the next ("" leaves one as it is)."""
    for value in values:
        if value:
            page.keyboard.type(value)
        tab_out(page)
