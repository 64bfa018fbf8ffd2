"""A support engineer looks a person up in Django's admin, in a real Chromium."""

import pytest
from playwright.sync_api import expect

from analytics.models import User

pytestmark = pytest.mark.browser


def test_support_finds_a_person_and_their_events_read_only(browser_page, workspace, send, company):
    send.batch(
        {"type": "identify", "userId": "ann",
         "traits": {"name": "Ann Lee", "email": "ann@acme.io"}},
        {"type": "group", "userId": "ann", "groupId": "acme", "traits": {"name": "Acme"}},
        {"type": "track", "userId": "ann", "event": "Report Viewed"},
    )
    User.objects.create_superuser("root@example.com", "root@example.com", "root-password-1")
    page = browser_page
    page.visit("/admin/")
    page.fill("#id_username", "root@example.com")
    page.fill("#id_password", "root-password-1")
    page.click("input[type=submit]")
    expect(page.get_by_role("link", name="People", exact=True)).to_be_visible()
    page.shot("admin-index")

    page.get_by_role("link", name="People", exact=True).click()
    page.fill("#searchbar", "ann")
    page.press("#searchbar", "Enter")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Ann Lee")
    expect(rows.first).to_contain_text("Acme Analytics")
    expect(page.get_by_role("link", name="Add person")).to_have_count(0)
    page.shot("admin-people")

    rows.first.get_by_role("link").first.click()
    expect(page.get_by_role("heading", name="View person")).to_be_visible()
    expect(page.get_by_role("button", name="Save")).to_have_count(0)
    expect(page.get_by_role("link", name="Delete")).to_have_count(0)
    page.shot("admin-person")
