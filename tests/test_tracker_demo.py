"""The tracker demo page in a real Chromium: click identify, group and track, then find
the result in Groupsite. Under the dashboard's Content-Security-Policy, which
``browser_page`` turns into test failures."""

import pytest
from conftest import log_in
from playwright.sync_api import expect

from analytics.models import Event, Group, Membership, Person

pytestmark = pytest.mark.browser


def test_send_calls_from_the_demo_page_and_find_them_in_groups(browser_page, alice, workspace):
    page = browser_page
    log_in(page, alice)
    page.visit("/settings/api-keys")
    expect(page.locator("#snippet-browser")).to_contain_text(workspace.write_key)
    page.shot("tracker-settings-snippet")
    page.get_by_role("link", name="tracker demo").click()
    page.wait_for_url("**/tracker-demo")
    log = page.locator("#demo-log")

    page.get_by_role("button", name="Identify").click()
    expect(log.locator("li").first).to_contain_text("identify demo_user_1")
    expect(log.locator("li").first).to_contain_text("1 stored")

    page.get_by_role("button", name="Group", exact=True).click()
    expect(log.locator("li").first).to_contain_text("group company acme-corp")
    page.get_by_label("Type").select_option("team")
    page.get_by_label("Key").fill("growth")
    page.locator("#demo-group-name").fill("Growth")
    page.get_by_role("button", name="Group", exact=True).click()
    expect(log.locator("li").first).to_contain_text("group team growth")

    page.get_by_role("button", name="Track").click()
    expect(log.locator("li").first).to_contain_text("in company=acme-corp, team=growth")
    expect(log.locator("li").first).to_contain_text("1 stored")
    state = page.locator("#demo-state")
    expect(state).to_contain_text("demo_user_1")
    expect(state.get_by_role("link", name="growth")).to_be_visible()
    page.shot("tracker-demo")

    person = Person.objects.get(workspace=workspace, user_id="demo_user_1")
    assert person.traits == {"name": "Ada Lovelace", "email": "ada@acme-corp.example"}
    acme = Group.objects.get(key="acme-corp")
    assert acme.properties == {"name": "Acme Corporation"}
    assert Membership.objects.filter(person=person).count() == 2
    feature_used = Event.objects.get(name="feature_used")
    assert feature_used.properties == {"feature": "ai_chart"}
    assert {feature_used.group_0, feature_used.group_1} == {acme, Group.objects.get(key="growth")}

    state.get_by_role("link", name="acme-corp").click()
    page.wait_for_url("**/groups/company/acme-corp")
    expect(page.get_by_role("heading", name="Acme Corporation")).to_be_visible()
    expect(page.locator("#members-table")).to_contain_text("Ada Lovelace")
    expect(page.locator("#timeline")).to_contain_text("feature_used")
    page.shot("tracker-demo-group")

    page.go_back()
    page.wait_for_url("**/tracker-demo")
    page.get_by_role("button", name="Reset").click()
    expect(state.locator('[data-state="userId"]')).to_have_text("anonymous")
    expect(state.locator('[data-state="groups"]')).to_have_text("none")


def test_the_demo_links_to_a_group_whose_key_a_browser_would_rewrite(browser_page, alice, workspace):
    page = browser_page
    log_in(page, alice)
    page.visit("/tracker-demo")
    page.get_by_label("Key").fill("acme/../~2F")
    page.locator("#demo-group-name").fill("Odd Key Inc")
    page.get_by_role("button", name="Group", exact=True).click()
    expect(page.locator("#demo-log li").first).to_contain_text("1 stored")
    page.locator("#demo-state").get_by_role("link", name="acme/../~2F").click()
    expect(page.get_by_role("heading", name="Odd Key Inc")).to_be_visible()
    assert Group.objects.get(workspace=workspace).key == "acme/../~2F"
