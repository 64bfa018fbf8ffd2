"""What every page shows of the account, in a real Chromium: the sidebar on the password
and error pages, the whole e-mail address however long, and the favicon."""

import pytest
from playwright.sync_api import expect

from analytics.models import Role, User
from conftest import ARTIFACTS, log_in, open_page

pytestmark = pytest.mark.browser

LONG_EMAIL = "maximilian.alexander.featherstonehaugh-worthington@customer-success.example.com"


@pytest.fixture
def long_named(workspace):
    user = User.objects.create_user(
        username=LONG_EMAIL, email=LONG_EMAIL, password=f"{LONG_EMAIL.split('@')[0]}-password-1"
    )
    workspace.add_member(user, Role.ADMIN)
    return user


def test_password_page_keeps_the_sidebar_and_the_whole_email(
    chromium, live_server, transactional_db, long_named
):
    with open_page(chromium, live_server, shots="account-") as page:
        log_in(page, long_named)
        who = page.locator(".sidebar-footer .who")
        expect(who).to_have_text(f"{LONG_EMAIL} · admin")
        # Wrapped on several lines, not cut: nothing of it overflows its box.
        assert who.evaluate("e => e.scrollWidth <= e.clientWidth && e.clientHeight > 20")
        page.shot("groups-long-email")

        page.get_by_role("link", name="Password").click()
        page.wait_for_url("**/account/password")
        sidebar = page.locator(".sidebar")
        expect(sidebar.locator(".switcher .current")).to_have_text("Acme Analytics")
        expect(sidebar.get_by_role("link", name="Groups", exact=True)).to_be_visible()
        expect(sidebar.get_by_role("link", name="Settings")).to_be_visible()
        expect(who).to_have_text(f"{LONG_EMAIL} · admin")
        page.shot("password-change")

        icon = page.locator('link[rel="icon"]').get_attribute("href")
        response = page.request.get(live_server.url + icon)
        assert response.status == 200
        assert response.headers["content-type"].startswith("image/svg+xml")
        ico = page.request.get(live_server.url + "/favicon.ico")
        assert ico.status == 200 and ico.url.endswith("/static/groupsite/favicon.svg")
        page.set_content(f'<img src="{live_server.url}/favicon.ico" width="64" height="64">')
        expect(page.locator("img")).to_have_js_property("naturalWidth", 32)
        page.locator("img").screenshot(path=ARTIFACTS / "account-favicon.png")


def test_error_pages_keep_the_sidebar_for_a_signed_in_user(browser_page, alice, workspace, send):
    send.batch(
        {"type": "group", "userId": "ann", "groupId": "growth", "context": {"groupType": "team"}}
    )
    log_in(browser_page, alice)
    # A 404 is reported on the console, as it should be: a tab of its own keeps that
    # apart from the errors browser_page fails a test for.
    page = browser_page.context.new_page()
    response = page.goto(browser_page.url.split("/groups")[0] + "/groups/team/ghost")
    assert response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.get_by_text("No team with the key “ghost” in this workspace.")).to_be_visible()
    expect(page.locator(".sidebar .switcher .current")).to_have_text("Acme Analytics")
    page.screenshot(path=ARTIFACTS / "account-404-signed-in.png", full_page=True)
    page.get_by_role("link", name="People").click()
    page.wait_for_url("**/people")
    page.close()


def test_error_pages_for_a_visitor_not_logged_in(chromium, live_server, transactional_db):
    with open_page(chromium, live_server) as page:
        other = page.context.new_page()
        response = other.goto(live_server.url + "/nothing-here")
        assert response.status == 404
        expect(other.get_by_role("heading", name="Not found")).to_be_visible()
        expect(other.locator(".sidebar")).to_have_count(0)
        other.screenshot(path=ARTIFACTS / "account-404-visitor.png", full_page=True)
