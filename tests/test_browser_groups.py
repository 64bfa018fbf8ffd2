"""Journeys through the groups browser in a real Chromium."""

import re
from datetime import timedelta

import pytest
from calls import track_in
from conftest import ARTIFACTS, log_in, open_page
from django.utils import timezone
from playwright.sync_api import expect

from analytics.models import Cohort, Condition, Group

pytestmark = pytest.mark.browser


@pytest.fixture
def groups_data(send, company, team):
    send.batch(
        {"type": "identify", "userId": "ann", "traits": {"name": "Ann Lee", "email": "ann@acme.io"}},
        {"type": "group", "userId": "ann", "groupId": "acme", "traits": {"name": "Acme Inc", "plan": "enterprise"}},
        {"type": "group", "userId": "bo", "groupId": "globex", "traits": {"name": "Globex", "plan": "pro"}},
        {"type": "group", "userId": "ann", "groupId": "growth", "context": {"groupType": "team"},
         "traits": {"name": "Growth"}},
        *({"type": "track", "userId": "ann", "event": f"Report {n}"} for n in range(40)),
    )


def test_log_in_browse_groups_switch_tabs_and_open_a_group(browser_page, alice, groups_data):
    page = browser_page
    log_in(page, alice)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Groups").click()
    page.wait_for_url("**/groups/company")
    assert page.get_by_role("tab", name="Companies").get_attribute("aria-selected") == "true"
    assert page.locator("#groups-table").get_by_text("Acme Inc", exact=True).is_visible()
    page.shot("groups-companies")

    page.get_by_role("tab", name="Teams").click()
    page.wait_for_url("**/groups/team")
    assert page.locator("#groups-table").get_by_text("Growth", exact=True).is_visible()
    assert page.get_by_role("tab", name="Teams").get_attribute("aria-selected") == "true"

    page.go_back()
    page.wait_for_url("**/groups/company")
    expect(page.locator("#groups-table").get_by_text("Globex", exact=True)).to_be_visible()
    page.go_forward()
    page.wait_for_url("**/groups/team")
    expect(page.locator("#groups-table").get_by_text("Growth", exact=True)).to_be_visible()

    page.visit("/groups/company")
    page.get_by_role("link", name="Acme Inc").click()
    page.wait_for_url("**/groups/company/acme")
    assert page.get_by_role("heading", name="Acme Inc").is_visible()
    # A whole page, not the profile swapped in place of the table it was clicked in.
    expect(page.locator("#groups-table")).to_have_count(0)
    expect(page.locator("aside.sidebar")).to_have_count(1)
    assert page.locator("#members-table").get_by_text("Ann Lee", exact=True).is_visible()
    events = page.locator("#timeline .events > li:not(.load-more)")
    expect(events).to_have_count(30)
    page.get_by_role("link", name="Load more").click()
    expect(events).to_have_count(41)  # the 40 tracks and the group call (identify has no group)
    page.shot("group-profile")

    page.locator("#members-table").get_by_role("link", name="Ann Lee").click()
    page.wait_for_url("**/people/*")
    expect(page.locator("#members-table")).to_have_count(0)
    expect(page.locator("aside.sidebar")).to_have_count(1)


def test_search_narrows_the_table_as_you_type(browser_page, alice, groups_data):
    page = browser_page
    log_in(page, alice)
    page.visit("/groups/company")
    page.get_by_role("searchbox").fill("glob")
    page.wait_for_url("**/groups/company?q=glob")
    table = page.locator("#groups-table")
    table.get_by_text("Globex", exact=True).wait_for()
    assert table.get_by_text("Acme Inc", exact=True).count() == 0


def test_pages_work_without_javascript(chromium, live_server, alice, groups_data, transactional_db):
    with open_page(chromium, live_server, javascript=False) as page:
        log_in(page, alice)
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Groups").click()
        page.wait_for_url("**/groups/company")
        page.get_by_role("tab", name="Teams").click()
        page.wait_for_url("**/groups/team")
        assert page.get_by_text("Growth", exact=True).is_visible()
        page.visit("/groups/company")
        page.get_by_role("searchbox").fill("acme")
        page.get_by_role("searchbox").press("Enter")
        page.wait_for_url("**/groups/company?q=acme")
        assert page.get_by_text("Globex", exact=True).count() == 0
        page.get_by_role("link", name="Acme Inc").click()
        page.get_by_role("link", name="Load more").click()
        page.wait_for_url("**before=*")


def test_switching_workspace_from_the_header(browser_page, bob, workspace, alice, groups_data):
    from analytics.models import Role, Workspace

    beta, _ = Workspace.create(name="Beta Corp", owner=alice, group_types=("account",))
    beta.add_member(bob, Role.MEMBER)
    page = browser_page
    log_in(page, bob)
    page.get_by_label("Workspace").select_option(label="Beta Corp")
    page.wait_for_url("**/groups/account")
    expect(page.get_by_text("No accounts yet")).to_be_visible()
    page.visit("/groups")
    page.wait_for_url("**/groups/account")  # remembered


def test_sorting_swaps_the_table_in_place(browser_page, alice, groups_data):
    page = browser_page
    log_in(page, alice)
    page.visit("/groups/company")
    page.evaluate("window.notReloaded = true")
    table = page.locator("#groups-table")
    table.get_by_role("link", name="Name / Key").click()
    page.wait_for_url("**/groups/company?sort=key")
    expect(table.locator("tbody tr").first).to_contain_text("acme")
    table.get_by_role("link", name="Name / Key").click()
    page.wait_for_url("**/groups/company?sort=-key")
    expect(table.locator("tbody tr").first).to_contain_text("globex")
    assert page.evaluate("window.notReloaded") is True  # swapped, not a new page
    expect(page.locator("aside.sidebar")).to_have_count(1)


def test_keys_of_dots_slashes_and_escapes_open_from_the_list(browser_page, alice, company):
    # Stored directly: keys a browser would rewrite ("..", "a/../b") or misread ("~2F").
    keys = ["..", ".", "a/../b", "~2F", "100% ?#", "line\nbreak"]
    for n, key in enumerate(keys):
        Group.objects.create(
            workspace=company.workspace, group_type=company, key=key, properties={"name": f"Odd {n}"}
        )
    page = browser_page
    log_in(page, alice)
    for n in range(len(keys)):
        page.visit("/groups/company")
        page.locator("#groups-table tr", has_text=f"Odd {n}").locator("td.key a").click()
        expect(page.get_by_role("heading", name=f"Odd {n}")).to_be_visible()
        expect(page.locator(".page-head .mono")).to_have_text(keys[n])


def test_the_count_follows_search_paging_and_sorting(browser_page, alice, send, company):
    send.batch(*(
        {"type": "group", "userId": f"u{n}", "groupId": f"acc_{n:04x}", "timestamp": f"2026-01-01T00:{n:02d}:00Z",
         "traits": {"name": f"Company {n:02d}", "createdAt": "2025-06-01T12:00:00.000Z", "plan": "pro"}}
        for n in range(55)
    ))
    page = browser_page
    log_in(page, alice)
    page.visit("/groups/company")
    page.evaluate("window.notReloaded = true")
    count = page.locator("#groups-count")
    expect(count).to_have_text("55 companies")
    table = page.locator("#groups-table")
    # The name leads, the key is under it; dates sent as text read as dates.
    first = table.locator("tbody tr").first
    expect(first.locator("td.key a")).to_have_text("Company 54")
    expect(first.locator("td.key .mono")).to_have_text("acc_0036")
    expect(first.locator("time").first).to_have_attribute("title", "2025-06-01T12:00:00.000Z")
    expect(first.locator("td.date time")).to_have_attribute("title", "Thu, Jan 1, 2026, 00:54:00 UTC")
    page.shot("groups-names-first")

    page.get_by_role("searchbox").fill("Company 1")
    page.wait_for_url("**/groups/company?q=Company%201")
    expect(count).to_have_text("10 of 55 companies")
    expect(table.locator("tbody tr")).to_have_count(10)
    page.shot("groups-searched")

    page.get_by_role("searchbox").fill("Initech")
    expect(count).to_have_text("0 of 55 companies")
    expect(table).to_contain_text("No company matches “Initech”. Show all companies")
    page.shot("groups-nothing-found")

    page.get_by_role("searchbox").fill("")
    expect(count).to_have_text("55 companies")
    table.get_by_role("link", name="2", exact=True).click()
    page.wait_for_url("**page=2")
    expect(table.locator("tbody tr")).to_have_count(5)
    expect(count).to_have_text("55 companies")
    table.get_by_role("link", name="Members", exact=True).click()
    page.wait_for_url("**sort=member_count*")
    expect(count).to_have_text("55 companies")
    assert page.evaluate("window.notReloaded") is True  # all swapped in place
    assert page.locator("#groups-count").count() == 1


def test_group_profile_names_people_and_groups_in_events(browser_page, alice, groups_data, send):
    send.batch(
        {"type": "track", "userId": "ann", "event": "Chart Shared",
         "context": {"groups": {"company": "acme", "team": "growth"}}},
        {"type": "track", "anonymousId": "visitor-1", "event": "Pricing Viewed", "context": {"groupId": "acme"}},
    )
    page = browser_page
    log_in(page, alice)
    page.visit("/groups/company/acme")
    timeline = page.locator("#timeline")
    pricing = timeline.locator("li", has_text="Pricing Viewed")
    expect(pricing.locator(".detail a")).to_have_attribute("title", "Anonymous id: visitor-1")
    expect(pricing.locator(".when time")).to_have_text("just now")
    shared = timeline.locator("li", has_text="Chart Shared")
    person = shared.get_by_role("link", name="Ann Lee")
    expect(person).to_have_attribute("title", "User id: ann")
    chip = shared.get_by_role("link", name="Team Growth")
    expect(chip).to_have_attribute("title", "Team Growth · key growth")
    expect(page.locator(".page-head .subtitle")).to_contain_text("1 member · last active just now · updated just now")
    page.shot("group-profile-names")
    page.screenshot(path=ARTIFACTS / "group-profile-names-top.png")  # the first screen, unscaled
    chip.click()
    page.wait_for_url("**/groups/team/growth")
    expect(page.get_by_role("heading", name="Growth")).to_be_visible()


def test_sorting_by_activity_and_a_profile_that_opens_with_it(browser_page, alice, send, company):
    now = timezone.now()

    def ago(**delta):
        return (now - timedelta(**delta)).isoformat()

    send.batch(
        *({"type": "identify", "userId": u, "traits": {"name": f"{u.capitalize()} Lee"}} for u in ("ann", "bob", "cy")),
        *({"type": "group", "userId": u, "groupId": "busy", "traits": {"name": "Busy Corp"}, "timestamp": ago(days=80)}
          for u in ("ann", "bob", "cy")),
        *(track_in("ann", "busy", ago(days=d, minutes=5)) for d in (0, 8, 15, 22, 50)),
        *(track_in("bob", "busy", ago(days=d, minutes=5), event="Chart Shared") for d in (1, 2)),
        track_in("dee", "recent", ago(hours=2)), track_in("eve", "recent", ago(days=3)),
        track_in("fay", "lapsed", ago(days=60)),
        {"type": "group", "userId": "gus", "groupId": "quiet", "traits": {"name": "Quiet Ltd"}, "timestamp": ago(hours=3)},
    )
    page = browser_page
    log_in(page, alice)
    page.visit("/groups/company")
    table = page.locator("#groups-table")
    header = table.locator("th", has_text="Active members (30 days)")
    expect(header).to_have_attribute(
        "title", "People with a track, page or screen call carrying it in the last 30 days, today included"
    )
    expect(table.locator("th", has_text="Last updated")).to_have_attribute(
        "title", "When a group call last set its properties"
    )
    page.evaluate("window.notReloaded = true")
    keys = table.locator("tbody tr td.key a")

    table.get_by_role("link", name="Last active").click()
    page.wait_for_url("**sort=last_active_at")
    expect(keys).to_have_text(["lapsed", "recent", "Busy Corp", "Quiet Ltd"])
    table.get_by_role("link", name="Last active").click()
    page.wait_for_url("**sort=-last_active_at")
    expect(keys).to_have_text(["Busy Corp", "recent", "lapsed", "Quiet Ltd"])
    table.get_by_role("link", name="Active members (30 days)").click()
    page.wait_for_url("**sort=active_members")
    table.get_by_role("link", name="Active members (30 days)").click()
    page.wait_for_url("**sort=-active_members")
    expect(keys).to_have_text(["Busy Corp", "recent", "lapsed", "Quiet Ltd"])
    expect(table.locator("tbody tr").first.locator("td.num").first).to_have_text("2")  # ann and bob
    assert page.evaluate("window.notReloaded") is True  # swapped in place
    page.shot("groups-by-activity")

    table.get_by_role("link", name="Busy Corp").click()
    page.wait_for_url("**/groups/company/busy")
    activity = page.locator("#activity")
    expect(activity.get_by_role("heading", name="Activity")).to_be_visible()
    expect(activity.locator("dl.figures dd")).to_have_text(["7", "2"])  # events in 90 days; active in 30
    weekly = page.locator("#weekly-activity")
    expect(weekly).to_be_visible()
    events = weekly.locator("tbody tr").first.locator("td")
    assert sum(int(n) for n in events.all_inner_texts()) == 7
    expect(page.locator("#top-events tbody tr").first).to_have_text("Report Viewed5")
    members = page.locator("#members-table tbody tr td:first-child > a")
    expect(members).to_have_text(["Ann Lee", "Bob Lee", "Cy Lee"])  # most active first
    page.shot("group-profile-activity")
    page.screenshot(path=ARTIFACTS / "group-profile-activity-top.png")  # the first screen


def test_each_tab_shows_its_active_groups_and_links_to_their_reports(browser_page, alice, overview_data, send, company):
    # The overview's hand-worked workspace (tests/overview_data.py), and a team: ann's
    # events of today name it.
    send.batch(
        {"type": "group", "userId": "ann", "groupId": "growth", "context": {"groupType": "team"},
         "traits": {"name": "Growth"}, "timestamp": "2026-03-01T12:00:00Z"},
        {"type": "track", "userId": "ann", "event": "Chart Shared", "timestamp": "2026-03-15T15:00:00Z",
         "context": {"groups": {"team": "growth"}}},
    )
    cohort = Cohort(workspace=overview_data)
    cohort.define(name="Acme only", group_type=company, conditions=[Condition.of_property("name", "eq", "Acme Inc")])
    page = browser_page
    log_in(page, alice)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Groups").click()
    page.wait_for_url("**/groups/company")
    card = page.locator("#active-groups")
    expect(card.get_by_role("heading")).to_have_text("Active companies")
    expect(card.locator(".figure-label")).to_have_text(["Today", "Last 7 days", "Last 30 days"])
    expect(card.locator(".figure-value")).to_have_text(["1", "2", "3"])
    expect(card.locator(".overcount")).to_have_text(["over-count 2", "over-count 4", "over-count 5"])
    expect(card.locator(".card-foot")).to_contain_text("4 of 10 events in the last 30 days carried no company.")
    page.shot("groups-active-companies")

    # A figure opens the trend that gives it; the over-count, the users behind it.
    card.locator(".figure-value").nth(2).click()
    page.wait_for_url("**/reports/trends?**count_by=company**")
    expect(page.locator(".tile-value")).to_have_text("3")
    page.go_back()
    page.wait_for_url("**/groups/company")
    expect(card.locator(".overcount").first).to_have_attribute("href", "/people?several=1")

    page.get_by_role("tab", name="Teams").click()
    page.wait_for_url("**/groups/team")
    expect(card.get_by_role("heading")).to_have_text("Active teams")
    expect(card.locator(".figure-value")).to_have_text(["1", "1", "1"])
    expect(card.locator(".figure-note")).to_have_text(["no over-count"] * 3)
    page.shot("groups-active-teams")

    # A cohort's list gets no figures of all companies beside it, and they come back.
    page.get_by_role("tab", name="Companies").click()
    page.wait_for_url("**/groups/company")
    # The tab is swapped in once its card has loaded: the cohort picked before that
    # would be the old tab's, swapped out with it.
    expect(card.get_by_role("heading")).to_have_text("Active companies")
    expect(card.locator(".figure-value")).to_have_text(["1", "2", "3"])
    page.evaluate("window.notReloaded = true")
    page.get_by_label("Cohort").select_option(label="Acme only")
    page.wait_for_url(f"**/groups/company?**cohort={cohort.pk}**")
    expect(card).to_have_text(re.compile("Active companies are counted over every company, not only cohort “Acme only”"))
    expect(card.get_by_role("link")).to_have_attribute("href", re.compile(rf"count_by=company&cohort={cohort.pk}"))
    expect(page.locator("#groups-table tbody tr")).to_have_count(1)
    page.shot("groups-active-cohort")
    page.get_by_label("Cohort").select_option(label="All companies")
    expect(card.locator(".figure-value")).to_have_text(["1", "2", "3"])
    assert page.evaluate("window.notReloaded") is True  # swapped in place


def test_a_type_no_event_carried_yet_says_how_to_name_it(browser_page, alice, send, team):
    send.batch(
        {"type": "group", "userId": "ann", "groupId": "growth", "context": {"groupType": "team"}},
        {"type": "group", "userId": "bo", "groupId": "core", "context": {"groupType": "team"}},
        {"type": "track", "userId": "cy", "event": "Report Viewed"},
    )
    page = browser_page
    log_in(page, alice)
    page.visit("/groups/team")
    card = page.locator("#active-groups")
    expect(card).to_contain_text("No event has carried a team yet.")
    expect(card).to_contain_text("1 event in the last 30 days carried none")
    expect(card.locator(".figure-value")).to_have_count(0)
    page.shot("groups-active-none-yet")
