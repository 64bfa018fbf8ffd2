"""Journeys through the dashboard in a real Chromium with JavaScript turned off: every page
works with plain links and forms (htmx and app.js only make it quicker)."""

import re

import pytest
from calls import identify, join, track
from conftest import log_in, open_page
from django.db import connection
from journeys import (
    DELETES,
    IN_SEVERAL_COMPANIES,
    expect_message,
    open_settings_tab,
    summary_figure,
    type_row,
    types_in_order,
)
from playwright.sync_api import expect

from analytics.models import (
    Event,
    Group,
    GroupType,
    Person,
    Role,
    Workspace,
    WorkspaceMember,
)

pytestmark = pytest.mark.browser

# Deletions run in a task worker process, and without JavaScript the page follows them
# by reloading itself every 2 seconds; a loaded machine takes its time.
SLOW = 20_000


@pytest.fixture
def page(chromium, live_server, transactional_db):
    """A browser tab with JavaScript turned off (screenshots named nojs-…)."""
    with open_page(chromium, live_server, javascript=False, timeout=15_000, shots="nojs-") as page:
        yield page


def expect_names(page, names):
    """The People table lists exactly ``names``, in any order."""
    rows = page.locator("#people-table tbody tr td:first-child > a")
    expect(rows).to_have_count(len(names))
    assert sorted(rows.all_inner_texts()) == sorted(names)


# --- People ----------------------------------------------------------------------------


@pytest.fixture
def customers(send, company):
    """Ann and Fay send clean data; Bo and Cy are in two companies each and send track
    calls naming none. Ann has 35 tracks, more than a page of her timeline."""
    response = send.batch(
        identify("ann", "Ann Archer", "ann@acme.io", at="2026-02-01T09:00:00Z"),
        join("ann", "acme", at="2026-02-01T10:00:00Z", traits={"name": "Acme Inc"}),
        *(track("ann", f"Report {n}", at=f"2026-02-02T10:{n:02d}:00Z") for n in range(35)),
        identify("fay", "Fay Fox", "fay@initech.com", at="2026-02-01T09:00:00Z"),
        join("fay", "acme", at="2026-02-01T10:00:00Z"),
        join("fay", "initech", at="2026-02-01T11:00:00Z", traits={"name": "Initech"}),
        track("fay", "Report Viewed", at="2026-02-02T10:00:00Z", context={"groupId": "initech"}),
        *IN_SEVERAL_COMPANIES,
    )
    assert response.status_code == 200, response.json()


def test_people_list_search_filter_banner_and_profile(page, alice, customers):
    log_in(page, alice)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="People").click()
    page.wait_for_url("**/people")
    expect_names(page, ["Ann Archer", "Bo Brown", "Cy Cole", "Fay Fox"])

    # Search: Enter submits the form (it has a submit button when scripts are off).
    search = page.get_by_role("searchbox", name="Search people")
    search.fill("Cole")
    search.press("Enter")
    page.wait_for_url(re.compile(r"/people\?q=Cole(&|$)"))
    expect_names(page, ["Cy Cole"])
    expect(page.get_by_role("searchbox", name="Search people")).to_have_value("Cole")

    # The domain filter, with the Filter button shown only without JavaScript.
    page.get_by_role("searchbox", name="Search people").fill("")
    page.get_by_role("searchbox", name="Email domain").fill("acme.io")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"/people\?.*domain=acme\.io"))
    expect_names(page, ["Ann Archer", "Bo Brown"])
    expect(page.get_by_role("searchbox", name="Email domain")).to_have_value("acme.io")

    # The domain filter with Enter, and the sorting links (plain links) keep it.
    page.get_by_role("searchbox", name="Email domain").fill("globex.com")
    page.get_by_role("searchbox", name="Email domain").press("Enter")
    page.wait_for_url(re.compile(r"/people\?.*domain=globex\.com"))
    expect_names(page, ["Cy Cole"])
    page.visit("/people")
    page.locator("#people-table thead").get_by_role("link", name="Person").click()
    page.wait_for_url(re.compile(r"/people\?sort=person$"))
    expect(page.locator("#people-table tbody tr td:first-child > a")).to_have_text(
        ["Ann Archer", "Bo Brown", "Cy Cole", "Fay Fox"]  # by e-mail address
    )
    page.shot("people")

    # The banner links to exactly the users in several companies with events outside them.
    page.visit("/people")
    banner = page.locator("#several-banner")
    expect(banner.get_by_role("heading")).to_have_text(
        "2 users belong to several companies, and some of their events carry no company"
    )
    # <details> opens without any script.
    fixes = banner.locator("details")
    fixes.get_by_text("How to fix it").click()
    expect(fixes).to_have_attribute("open", "")
    expect(fixes.locator("pre").first).to_be_visible()
    banner.get_by_role("link", name="See these 2 users").click()
    page.wait_for_url("**/people?several=1")
    expect_names(page, ["Bo Brown", "Cy Cole"])
    expect(page.get_by_text("Several companies, events without one")).to_be_visible()
    # Searching within them keeps the filter (a hidden field of the form).
    search = page.get_by_role("searchbox", name="Search people")
    search.fill("bo")
    search.press("Enter")
    page.wait_for_url(re.compile(r"/people\?.*q=bo.*several=1|/people\?.*several=1.*q=bo"))
    expect_names(page, ["Bo Brown"])
    page.locator("#several-banner").get_by_role("link", name="Show everyone").click()
    page.wait_for_url("**/people")
    expect_names(page, ["Ann Archer", "Bo Brown", "Cy Cole", "Fay Fox"])

    # A person's profile, whole page, with more of the timeline by a plain link.
    page.locator("#people-table").get_by_role("link", name="Ann Archer").click()
    page.wait_for_url(re.compile(r"/people/\d+$"))
    expect(page.get_by_role("heading", name="Ann Archer", level=1)).to_be_visible()
    expect(page.locator(".page-head .subtitle")).to_contain_text("ann@acme.io · 37 events")
    traits = page.locator("section[aria-labelledby=traits-title]")
    expect(traits).to_contain_text("ann@acme.io")
    groups = page.locator("section[aria-labelledby=groups-title]")
    expect(groups.get_by_role("link", name="Acme Inc")).to_be_visible()
    events = page.locator("ul.events > li:not(.load-more)")
    expect(events).to_have_count(30)
    expect(events.first).to_contain_text("Report 34")
    page.get_by_role("link", name="Load more").click()
    page.wait_for_url("**before=*")
    # Without JavaScript the next page replaces this one: the 7 older calls.
    expect(events).to_have_count(7)
    expect(page.get_by_role("link", name="Load more")).to_have_count(0)
    page.shot("person")

    page.go_back()
    page.wait_for_url(re.compile(r"/people/\d+$"))
    page.locator("section[aria-labelledby=groups-title]").get_by_role(
        "link", name="Acme Inc"
    ).click()
    page.wait_for_url("**/groups/company/acme")
    expect(page.get_by_role("heading", name="Acme Inc")).to_be_visible()


# --- Deleting a user -------------------------------------------------------------------


@DELETES
def test_delete_a_user_and_follow_the_deletion_without_javascript(
    page, request, dana, staff_in_a_customer_account
):
    # On PostgreSQL the deletion is held before it commits, so the page is seen unfinished
    # and has to bring itself up to date; SQLite shows no progress until it commits.
    release = (
        request.getfixturevalue("held_before_deleting_people")
        if connection.vendor == "postgresql"
        else None
    )
    request.getfixturevalue("task_worker")  # after the hold, so stopped before it is dropped
    log_in(page, dana)
    page.visit("/people")
    page.locator("#people-table").get_by_role("link", name="Sam Staff").click()
    page.wait_for_url(re.compile(r"/people/\d+$"))
    expect(page.get_by_role("heading", name="Sam Staff", level=1)).to_be_visible()

    page.get_by_role("link", name="Delete user…").click()
    page.wait_for_url("**/people/*/delete")
    expect(page.get_by_role("heading", name="Delete Sam Staff?")).to_be_visible()
    expect(page.get_by_text("7 calls in all")).to_be_visible()
    expect(summary_figure(page, "Events")).to_have_text("4 · track 3 · page 1 · screen 0")
    expect(summary_figure(page, "Memberships")).to_have_text("2")
    page.get_by_label("Block this user id from coming back").check()
    page.get_by_role("button", name="Delete Sam Staff").click()
    page.wait_for_url(re.compile(r"/deletions/\d+$"))
    deletion_url = page.url
    progress = page.locator("#deletion-progress")

    if release is not None:
        expect(progress.get_by_role("heading", name="Deleting Sam Staff (sam)")).to_be_visible()
        # Unfinished: the page reloads itself (no htmx polling without JavaScript).
        refresh = page.locator("head meta[http-equiv=refresh]")
        expect(refresh).to_have_count(1)
        expect(refresh).to_have_attribute("content", "2")
        expect(progress).to_contain_text("7 of 7 calls deleted", timeout=SLOW)
        assert Person.objects.by_user_id("sam") is not None
        assert Event.objects.filter(user_id="sam").count() == 7
        page.shot("deletion-progress")
        release()

    # No click, no reload by the test: the page ends up showing the finished result.
    expect(progress).to_contain_text("Deleted Sam Staff (sam)", timeout=SLOW)
    assert page.url == deletion_url
    expect(progress.get_by_role("heading", name="Deleted Sam Staff (sam)")).to_be_visible()
    expect(progress).to_contain_text("Deleted 1 person and 7 calls")
    expect(summary_figure(page, "People")).to_have_text("1")
    expect(summary_figure(page, "Events")).to_have_text("4 · track 3 · page 1 · screen 0")
    expect(summary_figure(page, "Blocked user ids")).to_contain_text("sam")
    # Finished: it stops reloading.
    expect(page.locator("head meta[http-equiv=refresh]")).to_have_count(0)
    page.shot("deletion-done")

    assert Person.objects.by_user_id("sam") is None
    assert not Event.objects.filter(user_id="sam").exists()
    assert Event.objects.filter(user_id="ann").count() == 3

    page.get_by_role("link", name="Back to People").click()
    page.wait_for_url("**/people")
    expect_names(page, ["Ann Archer"])


# --- Settings --------------------------------------------------------------------------


def test_owner_manages_group_types_without_javascript(page, alice, workspace, send, team):
    response = send.post(
        "group", {"userId": "cy", "groupId": "growth", "context": {"groupType": "team"}}
    )
    assert response.status_code == 200
    log_in(page, alice)
    open_settings_tab(page, "Group types")
    page.wait_for_url("**/settings/group-types")
    expect(types_in_order(page)).to_have_text(["Companies", "Teams"])

    page.get_by_label("Wire name").fill("project")
    page.get_by_label("Singular").fill("Project")
    page.get_by_label("Plural").fill("Projects")
    page.get_by_role("button", name="Add group type").click()
    page.wait_for_url("**/settings/group-types")
    expect_message(page, "Added the group type project.")
    expect(types_in_order(page)).to_have_text(["Companies", "Teams", "Projects"])

    page.get_by_role("button", name="Move Projects up").click()
    expect_message(page, "Moved Projects up.")
    expect(types_in_order(page)).to_have_text(["Companies", "Projects", "Teams"])

    type_row(page, "Projects").get_by_role("button", name="Make default").click()
    expect_message(page, "Untyped groupIds now go to Projects.")
    expect(type_row(page, "Projects").locator(".badge", has_text="Default")).to_be_visible()
    expect(type_row(page, "Companies").get_by_role("button", name="Make default")).to_be_visible()

    type_row(page, "Projects").get_by_role("link", name="Rename").click()
    page.wait_for_url("**/settings/group-types/project")
    expect(page.get_by_label("Wire name")).to_have_value("project")
    page.get_by_label("Singular").fill("Workstream")
    page.get_by_label("Plural").fill("Workstreams")
    page.get_by_role("button", name="Save names").click()
    page.wait_for_url("**/settings/group-types")
    expect_message(page, "Saved the names of project.")
    expect(types_in_order(page)).to_have_text(["Companies", "Workstreams", "Teams"])
    expect(type_row(page, "Workstreams")).to_contain_text("One is “Workstream”")

    type_row(page, "Teams").get_by_role("link", name="Delete").click()
    page.wait_for_url("**/settings/group-types/team/delete")
    confirmation = page.locator("form.danger-zone")
    expect(confirmation.get_by_role("heading")).to_have_text("Delete the Teams group type?")
    expect(confirmation.locator(".impact li")).to_have_text(
        ["1 team, with their properties", "1 membership of people in them"]
    )
    assert Group.objects.filter(group_type=team).count() == 1  # nothing gone before confirming
    page.get_by_role("button", name="Delete the type and 1 team").click()
    page.wait_for_url("**/settings/group-types")
    expect_message(page, "Deleted the group type team and its groups.")
    expect(types_in_order(page)).to_have_text(["Companies", "Workstreams"])
    page.shot("settings-group-types")

    types = GroupType.objects.filter(workspace=workspace).order_by("position", "id")
    assert [(t.name, t.singular, t.plural, t.is_default) for t in types] == [
        ("company", "Company", "Companies", False),
        ("project", "Workstream", "Workstreams", True),
    ]
    assert not Group.objects.filter(workspace=workspace, key="growth").exists()


def test_owner_rotates_the_secret_key_without_javascript(page, alice, workspace):
    old_key = workspace.secret_key
    log_in(page, alice)
    open_settings_tab(page, "API keys")
    page.wait_for_url("**/settings/api-keys")
    expect(page.locator(".secret.masked")).to_contain_text(old_key[-4:])

    page.get_by_role("link", name="Rotate secret key…").click()
    page.wait_for_url("**/settings/api-keys/secret-key")
    expect(page.get_by_role("heading", name="Rotate the secret key?")).to_be_visible()
    assert Workspace.objects.by_secret_key(old_key) == workspace  # nothing changes yet

    page.get_by_role("button", name="Rotate the secret key").click()
    alert = page.get_by_role("alert")
    expect(alert.get_by_role("heading")).to_have_text("Copy your new secret key now")
    new_key = page.locator("#new-secret-key").inner_text().strip()
    assert new_key.startswith("sk_") and new_key != old_key
    # Copying needs JavaScript: no button that would do nothing.
    expect(alert.get_by_role("button", name="Copy")).to_have_count(0)
    assert Workspace.objects.by_secret_key(new_key) == workspace
    assert Workspace.objects.by_secret_key(old_key) is None

    # Shown once: the API keys page shows only its last characters from now on.
    page.visit("/settings/api-keys")
    expect(page.locator(".secret.masked")).to_contain_text(new_key[-4:])
    expect(page.get_by_role("alert")).to_have_count(0)
    assert new_key not in page.content()


def test_owner_adds_a_member_and_changes_a_role_without_javascript(
    page, alice, bob, charlie, workspace
):
    log_in(page, alice)
    open_settings_tab(page, "Members")
    page.wait_for_url("**/settings/members")
    rows = page.locator("table.settings-table tbody tr")
    expect(rows).to_have_count(2)

    page.get_by_label("Email").fill("charlie@example.com")
    page.get_by_label("Role", exact=True).select_option(label="Member")
    page.get_by_role("button", name="Add member").click()
    page.wait_for_url("**/settings/members")
    expect_message(page, "Added charlie@example.com as member.")
    expect(rows).to_have_count(3)
    assert workspace.role_of(charlie) == Role.MEMBER

    # The role select submits itself only with JavaScript; without, its form has a button.
    role = page.get_by_label("Role of bob@example.com")
    role.select_option(label="Admin")
    page.locator("form.inline-form").filter(has=role).get_by_role("button", name="Change").click()
    page.wait_for_url("**/settings/members")
    expect_message(page, "bob@example.com is now admin.")
    expect(page.get_by_label("Role of bob@example.com")).to_have_value("admin")
    assert WorkspaceMember.objects.get(workspace=workspace, user=bob).role == Role.ADMIN
    page.shot("settings-members")


# --- The workspace switcher ------------------------------------------------------------


def test_switching_workspace_from_the_sidebar_without_javascript(
    page, bob, alice, workspace, company
):
    beta, _ = Workspace.create(name="Beta Corp", owner=alice, group_types=("account",))
    beta.add_member(bob, Role.MEMBER)
    log_in(page, bob)
    switcher = page.get_by_label("Workspace")
    expect(switcher).to_have_value(workspace.slug)

    switcher.select_option(label="Beta Corp")
    page.locator("aside.sidebar form.switcher").get_by_role("button", name="Go").click()
    page.wait_for_url("**/groups/account")
    expect(page.get_by_text("No accounts yet")).to_be_visible()
    expect(page.get_by_label("Workspace")).to_have_value(beta.slug)
    bob.refresh_from_db()
    assert bob.last_workspace_id == beta.pk
    page.visit("/groups")
    page.wait_for_url("**/groups/account")  # remembered

    page.get_by_label("Workspace").select_option(label="Acme Analytics")
    page.get_by_role("button", name="Go").click()
    page.wait_for_url("**/groups/company")
    expect(page.get_by_label("Workspace")).to_have_value(workspace.slug)
    expect(page.get_by_role("tab", name="Companies")).to_have_attribute("aria-selected", "true")


def test_the_active_groups_card_counts_on_asking_without_javascript(page, alice, customers, send):
    """With JavaScript the card loads itself after the page; without, a link asks for
    the page with the figures in it."""
    send.batch({"type": "track", "userId": "ann", "event": "Report Viewed"})  # now, in acme
    log_in(page, alice)
    page.visit("/groups/company")
    card = page.locator("#active-groups")
    expect(card.locator(".figure-value")).to_have_count(0)
    card.get_by_role("link", name="Count the active companies").click()
    page.wait_for_url(re.compile(r"/groups/company\?figures=1$"))
    card = page.locator("#active-groups")
    expect(card.locator(".figure-label")).to_have_text(["Today", "Last 7 days", "Last 30 days"])
    expect(card.locator(".figure-value")).to_have_text(["1", "1", "1"])
    expect(page.locator("#groups-table")).to_be_visible()
    page.shot("groups-active-on-asking")
