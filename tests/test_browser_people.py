"""Journeys through the People pages in a real Chromium: the multi-company banner, a
person's profile, and deleting people (one, or everyone at an email domain) in the
background while the page follows the progress."""

import pytest
from calls import identify, join, track
from conftest import log_in
from journeys import (
    DELETES,
    IN_SEVERAL_COMPANIES,
    names_in_table,
    summary_figure,
)
from playwright.sync_api import expect

from analytics.models import Event, Person

pytestmark = pytest.mark.browser

# Deleting runs in a task worker process; a loaded machine takes its time.
DELETION_TIMEOUT = 15_000


# --- the multi-company banner --------------------------------------------------------


CLEAN_CUSTOMERS = [
    # Ann is in one company: her events without a company are hers alone.
    identify("ann", "Ann Archer", "ann@acme.io", at="2026-02-01T09:00:00Z"),
    join("ann", "acme", at="2026-02-01T10:00:00Z", traits={"name": "Acme Inc"}),
    track("ann", "Report Viewed", at="2026-02-02T10:00:00Z"),
    # Fay is in two companies but names one in every event.
    identify("fay", "Fay Fox", "fay@initech.com", at="2026-02-01T09:00:00Z"),
    join("fay", "acme", at="2026-02-01T10:00:00Z"),
    join("fay", "initech", at="2026-02-01T11:00:00Z", traits={"name": "Initech"}),
    track("fay", "Report Viewed", at="2026-02-02T10:00:00Z", context={"groupId": "initech"}),
]


def test_banner_counts_users_in_several_companies_and_lists_exactly_them(
    browser_page, alice, send, company
):
    response = send.batch(
        *CLEAN_CUSTOMERS,
        *IN_SEVERAL_COMPANIES,
    )
    assert response.status_code == 200, response.json()
    page = browser_page
    log_in(page, alice)
    page.get_by_role("link", name="People", exact=True).click()
    page.wait_for_url("**/people")
    assert sorted(names_in_table(page)) == ["Ann Archer", "Bo Brown", "Cy Cole", "Fay Fox"]

    banner = page.locator("#several-banner")
    expect(banner.get_by_role("heading")).to_have_text(
        "2 users belong to several companies, and some of their events carry no company"
    )
    expect(banner).to_contain_text("your number of active companies is over-counted")

    fixes = banner.locator("details")
    snippets = fixes.locator("pre")
    expect(snippets.first).to_be_hidden()
    fixes.get_by_text("How to fix it").click()
    expect(fixes).to_have_attribute("open", "")
    expect(fixes.get_by_text("If your users can belong to several companies")).to_be_visible()
    expect(snippets.nth(0)).to_be_visible()
    expect(snippets.nth(0)).to_contain_text('context={"groupId": "56"},  # the company id')
    expect(fixes.get_by_text("If your staff join your customers' accounts")).to_be_visible()
    expect(snippets.nth(1)).to_contain_text("def is_staff_in_a_customer_account(user, account):")
    expect(fixes).to_contain_text("Then delete your internal users")
    expect(snippets.nth(2)).to_contain_text("/api/v1/people?email_domain=")
    page.shot("people-banner")

    banner.get_by_role("link", name="See these 2 users").click()
    page.wait_for_url("**/people?several=1")
    expect(page.locator("#people-table tbody tr")).to_have_count(2)
    assert sorted(names_in_table(page)) == ["Bo Brown", "Cy Cole"]
    expect(page.get_by_text("Several companies, events without one")).to_be_visible()
    expect(banner.get_by_role("link", name="Show everyone")).to_be_visible()


def test_clean_workspace_shows_no_banner(browser_page, alice, send, company):
    assert send.batch(*CLEAN_CUSTOMERS).status_code == 200
    page = browser_page
    log_in(page, alice)
    page.visit("/people")
    expect(page.locator("#people-table tbody tr")).to_have_count(2)
    expect(page.locator("#several-banner")).to_have_count(0)

    page.visit("/people?several=1")
    all_clear = page.get_by_text("No user in several companies sends events without one")
    expect(all_clear).to_be_visible()
    expect(page.locator("#several-banner")).to_have_count(0)
    expect(page.locator("#people-table")).to_contain_text("No person matches.")


def test_the_count_under_the_title_follows_the_filters(browser_page, alice, send, company):
    response = send.batch(
        *CLEAN_CUSTOMERS,
        *IN_SEVERAL_COMPANIES,
        {"type": "page", "anonymousId": "visitor-1", "name": "Pricing"},
    )
    assert response.status_code == 200, response.json()
    page = browser_page
    log_in(page, alice)
    page.visit("/people")
    page.evaluate("window.notReloaded = true")
    count = page.locator("#people-count")
    expect(count).to_contain_text("5 people using your product, 1 of them an anonymous visitor.")
    expect(count).to_contain_text("known only by the anonymous id of their browser or device")
    visitor = page.locator("#people-table tbody tr", has_text="Anonymous")
    expect(visitor.locator(".badge")).to_have_text("anonymous")
    page.shot("people-count")

    page.get_by_label("Search people").fill("acme")
    expect(count).to_have_text("2 of 5 people matching “acme”.")
    expect(page.locator("#people-table tbody tr")).to_have_count(2)
    page.locator("#people-domain").fill("globex.com")
    expect(count).to_have_text("0 of 5 people matching “acme” at @globex.com.")
    expect(page.locator("#people-table")).to_contain_text("No person matches “acme” at @globex.com. Show everyone")
    page.shot("people-nothing-found")
    page.get_by_label("Search people").fill("")
    expect(count).to_have_text("1 of 5 people at @globex.com.")
    page.locator("#people-domain").fill("")
    expect(count).to_contain_text("5 people using your product")
    assert page.evaluate("window.notReloaded") is True  # the table and the count swapped in place

    page.locator("#several-banner").get_by_role("link", name="See these 2 users").click()
    page.wait_for_url("**/people?several=1")
    expect(count).to_have_text("2 of 5 people in several companies with events without one.")
    page.shot("people-banner-list-count")


# --- deleting one person -------------------------------------------------------------


@DELETES
def test_delete_a_user_from_their_profile_in_the_background(
    browser_page, dana, staff_in_a_customer_account, held_before_deleting_people, task_worker, send
):
    page = browser_page
    log_in(page, dana)
    page.visit("/groups/company/acme")
    sams_events = page.locator("#timeline").get_by_role("link", name="Sam Staff", exact=True)
    expect(sams_events).not_to_have_count(0)

    page.visit("/people")
    page.locator("#people-table").get_by_role("link", name="Sam Staff").click()
    page.wait_for_url("**/people/*")
    expect(page.get_by_role("heading", name="Sam Staff", level=1)).to_be_visible()
    # A page of its own, not swapped into the People list.
    expect(page.get_by_role("heading", name="People", exact=True)).to_have_count(0)
    expect(page.locator(".page-head .subtitle")).to_contain_text("sam@groupsite.dev · 7 events")
    groups = page.locator("section[aria-labelledby=groups-title]")
    expect(groups.get_by_role("link", name="Acme Inc")).to_be_visible()
    expect(groups.get_by_role("link", name="Groupsite")).to_be_visible()
    page.shot("person-profile")

    page.get_by_role("link", name="Delete user…").click()
    page.wait_for_url("**/people/*/delete")
    expect(page.get_by_role("heading", name="Delete Sam Staff?")).to_be_visible()
    expect(page.get_by_text("7 calls in all")).to_be_visible()
    expect(summary_figure(page, "Events")).to_have_text("4 · track 3 · page 1 · screen 0")
    expect(summary_figure(page, "Identify calls")).to_have_text("1")
    expect(summary_figure(page, "Group calls")).to_have_text("2")
    expect(summary_figure(page, "Memberships")).to_have_text("2")
    expect(summary_figure(page, "Groups that stay with no member")).to_have_text("Company Groupsite")
    expect(summary_figure(page, "User ids")).to_have_text("sam")
    page.get_by_label("Block this user id from coming back").check()
    page.shot("delete-confirmation")

    page.get_by_role("button", name="Delete Sam Staff").click()
    page.wait_for_url("**/deletions/*")
    progress = page.locator("#deletion-progress")
    expect(progress.get_by_role("heading", name="Deleting Sam Staff (sam)")).to_be_visible()
    # The events are gone inside the deletion's transaction, which waits to commit.
    expect(progress).to_contain_text("7 of 7 calls deleted", timeout=DELETION_TIMEOUT)
    assert Person.objects.by_user_id("sam") is not None
    assert Event.objects.filter(user_id="sam").count() == 7
    page.shot("deletion-progress")
    held_before_deleting_people()

    # No reload: the page polls until the deletion is over.
    expect(progress.get_by_role("heading", name="Deleted Sam Staff (sam)")).to_be_visible(
        timeout=DELETION_TIMEOUT
    )
    expect(progress).to_contain_text("Deleted 1 person and 7 calls")
    expect(summary_figure(page, "People")).to_have_text("1")
    expect(summary_figure(page, "Events")).to_have_text("4 · track 3 · page 1 · screen 0")
    expect(summary_figure(page, "Memberships")).to_have_text("2")
    expect(summary_figure(page, "Blocked user ids")).to_contain_text("sam")
    expect(progress.locator("[hx-trigger]")).to_have_count(0)
    assert progress.get_attribute("hx-trigger") is None
    page.shot("deletion-done")

    page.get_by_role("link", name="Back to People").click()
    page.wait_for_url("**/people")
    assert names_in_table(page) == ["Ann Archer"]
    page.visit("/groups/company/acme")
    timeline = page.locator("#timeline")
    expect(timeline.get_by_role("link", name="Ann Archer", exact=True)).not_to_have_count(0)
    expect(timeline.get_by_role("link", name="Sam Staff", exact=True)).to_have_count(0)
    expect(timeline).not_to_contain_text("Debugged")
    assert Person.objects.by_user_id("sam") is None
    assert not Event.objects.filter(user_id="sam").exists()
    assert Event.objects.filter(user_id="ann").count() == 3

    response = send.batch(track("sam", "Came back", at="2026-02-06T10:00:00Z"))
    assert response.status_code == 400
    assert response.json()["rejected"][0]["error"] == "user 'sam' was deleted and is blocked"
    assert Person.objects.by_user_id("sam") is None


# --- deleting everyone at an email domain ------------------------------------------------


@DELETES
def test_delete_everyone_at_an_email_domain_from_the_people_list(
    browser_page, dana, workspace, send, company, task_worker
):
    workspace.internal_domains = ["groupsite.dev"]
    workspace.save()
    response = send.batch(
        identify("ann", "Ann Archer", "ann@acme.io", at="2026-02-01T09:00:00Z"),
        join("ann", "acme", at="2026-02-01T10:00:00Z", traits={"name": "Acme Inc"}),
        track("ann", "Report Viewed", at="2026-02-02T10:00:00Z"),
        identify("bo", "Bo Brown", "bo@globex.com", at="2026-02-01T09:00:00Z"),
        join("bo", "globex", at="2026-02-01T10:00:00Z"),
        identify("dev", "Dev Doe", "dev@groupsite.dev", at="2026-02-03T09:00:00Z"),
        join("dev", "acme", at="2026-02-03T10:00:00Z"),
        track("dev", "Debugged", at="2026-02-03T11:00:00Z"),
        identify("sam", "Sam Staff", "sam@groupsite.dev", at="2026-02-04T09:00:00Z"),
        join("sam", "globex", at="2026-02-04T10:00:00Z"),
        track("sam", "Debugged", at="2026-02-04T11:00:00Z"),
        track("sam", "Debugged", at="2026-02-04T12:00:00Z"),
    )
    assert response.status_code == 200, response.json()
    page = browser_page
    log_in(page, dana)
    page.visit("/people")
    assert sorted(names_in_table(page)) == ["Ann Archer", "Bo Brown", "Dev Doe", "Sam Staff"]

    bulk = page.locator("#bulk-delete")
    page.get_by_role("searchbox", name="Email domain").fill("globex.com")
    page.wait_for_url("**/people?*domain=globex.com*")
    expect(page.locator("#people-table tbody tr")).to_have_count(1)
    # The bulk deletion's domain follows the filter, and the internal shortcut shows.
    expect(bulk.get_by_role("textbox", name="Email domain")).to_have_value("globex.com")
    expect(page.get_by_role("link", name="Internal: @groupsite.dev")).to_be_visible()

    page.get_by_role("searchbox", name="Email domain").fill("groupsite.dev")
    page.wait_for_url("**/people?*domain=groupsite.dev*")
    # Filtered by it already: no shortcut to it.
    expect(page.get_by_role("link", name="Internal: @groupsite.dev")).to_have_count(0)
    expect(page.locator("#people-table tbody tr")).to_have_count(2)
    assert sorted(names_in_table(page)) == ["Dev Doe", "Sam Staff"]
    expect(page.locator("#people-table").get_by_text("internal", exact=True)).to_have_count(2)

    expect(bulk.get_by_role("textbox", name="Email domain")).to_have_value("groupsite.dev")
    bulk.get_by_role("button", name="Preview the deletion").click()
    page.wait_for_url("**/people/delete?domain=groupsite.dev")
    expect(page.get_by_role("heading", name="Delete everyone at @groupsite.dev?")).to_be_visible()
    expect(summary_figure(page, "People")).to_have_text("2")
    expect(summary_figure(page, "Events")).to_have_text("3 · track 3 · page 0 · screen 0")
    expect(summary_figure(page, "Identify calls")).to_have_text("2")
    expect(summary_figure(page, "Group calls")).to_have_text("2")
    expect(summary_figure(page, "Memberships")).to_have_text("2")
    expect(summary_figure(page, "Groups that stay with no member")).to_have_text(
        "None: every group keeps someone"
    )
    who = page.locator("ul.summary-list > li")
    expect(who).to_have_count(2)
    expect(who.nth(0)).to_have_text("Sam Staff sam@groupsite.dev · 4 events")
    expect(who.nth(1)).to_have_text("Dev Doe dev@groupsite.dev · 3 events")
    page.shot("delete-by-domain-preview")

    page.get_by_role("button", name="Delete 2 people").click()
    page.wait_for_url("**/deletions/*")
    progress = page.locator("#deletion-progress")
    done = progress.get_by_role("heading", name="Deleted everyone at @groupsite.dev")
    expect(done).to_be_visible(timeout=DELETION_TIMEOUT)
    expect(progress).to_contain_text("Deleted 2 people and 7 calls")
    expect(summary_figure(page, "People")).to_have_text("2")

    page.get_by_role("link", name="Back to People").click()
    page.wait_for_url("**/people")
    assert sorted(names_in_table(page)) == ["Ann Archer", "Bo Brown"]
    assert sorted(Person.objects.values_list("user_id", flat=True)) == ["ann", "bo"]
    assert not Event.objects.filter(user_id__in=["dev", "sam"]).exists()
    assert Event.objects.filter(user_id__in=["ann", "bo"]).count() == 5
