"""What every page shows of the account, in a real Chromium: the sidebar on the password
pages, the whole e-mail address however long, and the favicon."""

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
