"""A person who mistypes their password too often is told so, and until when."""

import re

import pytest
from playwright.sync_api import expect

from conftest import ARTIFACTS

pytestmark = pytest.mark.browser


def test_locked_out_person_reads_until_when_logging_in_is_refused(
    browser_page, live_server, alice, settings
):
    settings.AXES_FAILURE_LIMIT = 3
    # The browser reports the page's 429 on the console, as it should: a tab of its own
    # keeps that apart from the errors browser_page fails a test for.
    page = browser_page.context.new_page()
    page.goto(f"{live_server.url}/login/")
    for attempt in range(3):
        page.fill("#id_username", alice.email)
        page.fill("#id_password", f"not-my-password-{attempt}")
        with page.expect_navigation() as navigation:
            page.click("button[type=submit]")
    assert navigation.value.status == 429
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Too many failed logins for this account or from this address.")
    expect(alert).to_have_text(re.compile(r"refused until \d\d:\d\d UTC \(in 1[45]\xa0minutes\)"))
    page.screenshot(path=ARTIFACTS / "login-locked-out.png", full_page=True)
    # The right password changes nothing until then.
    page.fill("#id_password", "alice-password-1")
    with page.expect_navigation() as navigation:
        page.click("button[type=submit]")
    assert navigation.value.status == 429
    expect(page.get_by_role("alert")).to_contain_text("even with the right password")
