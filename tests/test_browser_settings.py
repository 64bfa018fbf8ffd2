"""Journeys through the workspace settings in a real Chromium: group types, API keys,
members, and what each role may open."""

import json
import re
import urllib.error
import urllib.request
from urllib.parse import urljoin

import pytest
from playwright.sync_api import expect

from conftest import log_in
from journeys import expect_message, open_settings_tab, type_row, types_in_order

pytestmark = pytest.mark.browser


def log_out(page):
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login/")


def tab(plural, count):
    return re.compile(rf"^\s*{plural}\s+{count}\s*$")


def refused(page, path):
    """The status and the text of ``path`` opened in another tab of the same session.

    A refused page is meant to answer 403 or 404, which the browser reports on the
    console; the other tab keeps that apart from the errors the journey must not meet.
    """
    other = page.context.new_page()
    try:
        response = other.goto(urljoin(page.url, path))
        return response.status, other.locator("main, .auth").first.inner_text()
    finally:
        other.close()


def api_status(live_server, key):
    """The status and body of GET /api/v1/group-types with ``key`` as the bearer token."""
    request = urllib.request.Request(
        f"{live_server.url}/api/v1/group-types", headers={"Authorization": f"Bearer {key}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, None


def test_owner_defines_a_group_type_that_receives_untyped_group_ids(
    browser_page, alice, workspace, send
):
    page = browser_page
    log_in(page, alice)
    open_settings_tab(page, "Group types")
    page.wait_for_url("**/settings/group-types")
    expect(types_in_order(page)).to_have_text(["Companies", "Teams"])

    page.get_by_label("Wire name").fill("project")
    page.get_by_label("Singular").fill("Project")
    page.get_by_label("Plural").fill("Projects")
    page.get_by_role("button", name="Add group type").click()
    expect_message(page, "Added the group type project.")
    expect(types_in_order(page)).to_have_text(["Companies", "Teams", "Projects"])
    expect(type_row(page, "Projects").locator("code")).to_have_text("project")

    type_row(page, "Projects").get_by_role("link", name="Rename").click()
    page.wait_for_url("**/settings/group-types/project")
    expect(page.get_by_label("Wire name")).to_have_value("project")
    page.get_by_label("Singular").fill("Workstream")
    page.get_by_label("Plural").fill("Workstreams")
    page.get_by_role("button", name="Save names").click()
    page.wait_for_url("**/settings/group-types")
    expect_message(page, "Saved the names of project.")
    expect(types_in_order(page)).to_have_text(["Companies", "Teams", "Workstreams"])
    expect(type_row(page, "Workstreams")).to_contain_text("One is “Workstream”")

    page.get_by_role("button", name="Move Workstreams up").click()
    expect(types_in_order(page)).to_have_text(["Companies", "Workstreams", "Teams"])
    page.get_by_role("button", name="Move Workstreams up").click()
    expect(types_in_order(page)).to_have_text(["Workstreams", "Companies", "Teams"])
    expect(page.get_by_role("button", name="Move Workstreams up")).to_be_disabled()

    type_row(page, "Workstreams").get_by_role("button", name="Make default").click()
    expect_message(page, "Untyped groupIds now go to Workstreams.")
    expect(type_row(page, "Workstreams").locator(".badge", has_text="Default")).to_be_visible()
    expect(type_row(page, "Companies").locator(".badge", has_text="Default")).to_have_count(0)
    expect(type_row(page, "Companies").get_by_role("button", name="Make default")).to_be_visible()
    page.shot("settings-group-types")

    # The first type in the settings' order is the first tab, and where /groups leads.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Groups").click()
    page.wait_for_url("**/groups/project")
    tabs = page.get_by_role("tab")
    expect(tabs).to_have_text([tab("Workstreams", 0), tab("Companies", 0), tab("Teams", 0)])
    expect(page.get_by_role("tab", name="Workstreams")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_text("No workstreams yet")).to_be_visible()

    response = send.post(
        "group", {"userId": "ann", "groupId": "apollo", "traits": {"name": "Apollo launch"}}
    )
    assert response.status_code == 200
    page.reload()
    expect(tabs).to_have_text([tab("Workstreams", 1), tab("Companies", 0), tab("Teams", 0)])
    table = page.locator("#groups-table")
    expect(table.get_by_role("link", name="apollo")).to_be_visible()
    expect(table.get_by_text("Apollo launch", exact=True)).to_be_visible()


@pytest.fixture
def company_activity(send, company, team):
    """Two companies with three memberships, seven events in company context, and a team.

    Ann is in acme only, so her tracks take acme as their company; Bo is in acme and
    globex, so his name no company; Cy is in a team and no company.
    """
    send.batch(
        {"type": "group", "userId": "ann", "groupId": "acme", "traits": {"name": "Acme Inc"}},
        {"type": "group", "userId": "bo", "groupId": "acme"},
        {"type": "group", "userId": "bo", "groupId": "globex", "traits": {"name": "Globex"}},
        {"type": "group", "userId": "cy", "groupId": "growth", "context": {"groupType": "team"}},
    )
    send.batch(
        *({"type": "track", "userId": "ann", "event": "Report Viewed"} for _ in range(4)),
        *({"type": "track", "userId": "bo", "event": "Report Viewed"} for _ in range(2)),
        {"type": "track", "userId": "cy", "event": "Signed Up"},
    )


def test_deleting_the_default_type_shows_what_goes_and_asks_for_its_successor(
    browser_page, alice, company_activity
):
    page = browser_page
    log_in(page, alice)
    page.visit("/groups/company")
    expect(page.get_by_role("tab")).to_have_text([tab("Companies", 2), tab("Teams", 1)])
    page.visit("/settings/group-types")
    type_row(page, "Companies").get_by_role("link", name="Delete").click()
    page.wait_for_url("**/settings/group-types/company/delete")

    confirmation = page.locator("form.danger-zone")
    expect(confirmation.get_by_role("heading")).to_have_text("Delete the Companies group type?")
    expect(confirmation.locator(".impact li")).to_have_text(
        ["2 companies, with their properties", "3 memberships of people in them"]
    )
    expect(confirmation).to_contain_text("7 events will lose their company context.")
    successor = page.get_by_label("Untyped groupIds go to")
    expect(successor.locator("option")).to_have_text(["Teams (team)"])
    page.shot("settings-group-type-delete")

    successor.select_option(label="Teams (team)")
    page.get_by_role("button", name="Delete the type and 2 companies").click()
    page.wait_for_url("**/settings/group-types")
    expect_message(page, "Deleted the group type company and its groups.")
    expect(types_in_order(page)).to_have_text(["Teams"])
    expect(type_row(page, "Teams").locator(".badge", has_text="Default")).to_be_visible()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Groups").click()
    page.wait_for_url("**/groups/team")
    expect(page.get_by_role("tab")).to_have_text([tab("Teams", 1)])
    status, text = refused(page, "/groups/company")
    assert status == 404 and "No group type “company” in this workspace." in text


def test_rotating_the_secret_key_shows_the_new_one_once(
    browser_page, live_server, dana, workspace
):
    old_key = workspace.secret_key
    assert api_status(live_server, old_key)[0] == 200
    page = browser_page
    log_in(page, dana)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    page.wait_for_url("**/settings/api-keys")
    expect(page.locator("#write-key")).to_have_text(workspace.write_key)
    expect(page.locator("#snippet-http")).to_contain_text(f"-u '{workspace.write_key}:'")
    expect(page.locator(".secret.masked")).to_contain_text(old_key[-4:])

    page.get_by_role("link", name="Rotate secret key…").click()
    page.wait_for_url("**/settings/api-keys/secret-key")
    expect(page.get_by_role("heading", name="Rotate the secret key?")).to_be_visible()
    expect(page.locator("form.danger-zone")).to_contain_text(f"sk_…{old_key[-4:]}")
    assert api_status(live_server, old_key)[0] == 200  # nothing changes before confirming

    page.get_by_role("button", name="Rotate the secret key").click()
    alert = page.get_by_role("alert")
    expect(alert.get_by_role("heading")).to_have_text("Copy your new secret key now")
    new_key = page.locator("#new-secret-key").inner_text().strip()
    assert new_key.startswith("sk_") and new_key != old_key
    expect(alert.get_by_role("button", name="Copy")).to_be_visible()
    page.shot("settings-api-keys-new-secret")

    status, body = api_status(live_server, new_key)
    assert status == 200
    assert [t["name"] for t in body["results"]] == ["company", "team"]
    assert api_status(live_server, old_key)[0] == 401

    page.visit("/settings/api-keys")
    expect(page.locator(".secret.masked")).to_contain_text(new_key[-4:])
    expect(page.get_by_role("alert")).to_have_count(0)
    assert new_key not in page.content()


def test_members_and_admins_do_not_see_owner_only_settings(browser_page, bob, dana):
    page = browser_page
    log_in(page, bob)
    expect(page.get_by_role("navigation", name="Main").get_by_role("link")).to_have_text(
        ["Overview", "Groups", "People", "Trends", "Funnels", "Retention", "Cohorts", "Saved reports"]
    )
    for path, needs in [
        ("/settings", "admin"),
        ("/settings/group-types", "owner"),
        ("/settings/group-types/company", "owner"),
        ("/settings/api-keys", "admin"),
    ]:
        status, text = refused(page, path)
        assert status == 403, path
        assert "Not allowed" in text and f"This needs the {needs} role in Acme Analytics." in text

    log_out(page)
    log_in(page, dana)
    open_settings_tab(page, "API keys")
    sections = page.get_by_role("navigation", name="Settings sections").get_by_role("link")
    expect(sections).to_have_text(["Members", "API keys", "Ingestion problems"])
    status, text = refused(page, "/settings/group-types")
    assert status == 403 and "This needs the owner role in Acme Analytics." in text


def test_owner_adds_an_existing_account_and_promotes_a_member(
    browser_page, alice, bob, charlie, workspace
):
    page = browser_page
    log_in(page, alice)
    open_settings_tab(page, "Members")
    page.wait_for_url("**/settings/members")
    rows = page.locator("table.settings-table tbody tr")
    expect(rows).to_have_count(2)

    page.get_by_label("Email").fill("charlie@example.com")
    page.get_by_label("Role", exact=True).select_option(label="Member")
    page.get_by_role("button", name="Add member").click()
    expect_message(page, "Added charlie@example.com as member.")
    expect(rows).to_have_count(3)

    page.get_by_label("Role of bob@example.com").select_option(label="Admin")
    expect_message(page, "bob@example.com is now admin.")
    expect(page.get_by_label("Role of bob@example.com")).to_have_value("admin")
    page.shot("settings-members")

    log_out(page)
    log_in(page, bob)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    page.wait_for_url("**/settings/api-keys")
    expect(page.locator("#write-key")).to_have_text(workspace.write_key)


def test_an_admin_reads_what_ingestion_refused(browser_page, dana, send):
    send.batch(
        {"type": "track", "userId": "ann", "messageId": "no-name"},
        {"type": "track", "userId": "bo", "event": "E", "context": {"groups": {"region": "emea"}}},
    )
    page = browser_page
    log_in(page, dana)
    open_settings_tab(page, "Ingestion problems")
    page.wait_for_url("**/settings/ingestion-problems")
    table = page.locator("#problems-table")
    expect(page.get_by_text("1 call refused · 1 warning")).to_be_visible()
    expect(table.locator("tbody tr")).to_have_count(2)
    refused = table.locator("tbody tr").filter(has_text="no-name")
    refused.get_by_text("What was sent").click()
    expect(refused.locator("pre")).to_contain_text('"userId":"ann"')
    page.shot("settings-ingestion-problems")

    page.get_by_role("navigation", name="Kind of problem").get_by_role("link", name="Warnings").click()
    page.wait_for_url("**/settings/ingestion-problems?level=warning")
    expect(table.locator("tbody tr")).to_have_count(1)
    expect(table).to_contain_text("group type 'region' is not defined")
