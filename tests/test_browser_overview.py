"""The overview and saved reports in a real Chromium: landing on the overview after
logging in, saving a report from its page, pinning it, and finding its chart on the
overview; on the hand-worked workspace of tests/overview_data.py."""

from urllib.parse import urlencode

import pytest
from conftest import log_in, open_page
from django.http import QueryDict
from playwright.sync_api import expect

from analytics import reports
from analytics.models import SavedReport

pytestmark = pytest.mark.browser


def page_query(workspace, kind, query):
    """The query string a report page shows (and saves) for ``query``: its settings,
    each written out."""
    return urlencode(reports.FROM_PARAMS[kind](workspace, QueryDict(query)).to_params())


def figures(page, card):
    return page.locator(f"section.figure-card:has(h2:text-is('{card}')) .figure-value")


def test_the_overview_then_saving_and_pinning_a_report(browser_page, alice, overview_data):
    page = browser_page
    query = page_query(overview_data, "trends", "event=Report+Viewed&range=7d&count_by=company")
    log_in(page, alice)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(figures(page, "Active companies")).to_have_text(["1", "2", "3"])
    expect(figures(page, "Active users")).to_have_text(["2", "4", "4"])
    expect(page.locator(".figure .overcount")).to_have_text(["over-count 2", "over-count 4", "over-count 5"])
    expect(page.locator("section:has(#top-events-title) tbody tr td:first-child")).to_have_text(
        ["Report Viewed", "Export", "Page viewed", "Account Removed User"]
    )
    expect(page.locator("section:has(#newest-groups-title) tbody tr td.key > a")).to_have_text(
        ["Zeta Labs", "Epsilon", "Delta", "Gamma", "Beta Corp", "Acme Inc"]
    )
    page.shot("overview")

    # A report page, set up: name it and save it; it comes back saved, with a pin.
    page.visit(f"/reports/trends?{query}")
    save = page.locator("#report-save")
    save.get_by_placeholder("Name this report").fill("Companies viewing reports")
    save.get_by_role("button", name="Save", exact=True).click()
    page.wait_for_url(f"**/reports/trends?{query}")
    expect(page.locator(".messages")).to_contain_text("Saved “Companies viewing reports”")
    expect(page.locator("#report-save")).to_contain_text("Saved as “Companies viewing reports”")
    page.shot("report-saved")
    page.locator("#report-save").get_by_role("button", name="Pin to overview").click()
    page.wait_for_url(f"**/reports/trends?{query}")
    expect(page.locator("#report-save")).to_contain_text("on the overview")
    saved = SavedReport.objects.get()
    assert (saved.query, saved.pinned, saved.created_by) == (query, True, alice)

    # The overview shows it, with its numbers, and opens it.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Overview").click()
    card = page.locator("article.pinned-report", has_text="Companies viewing reports")
    expect(card.get_by_role("heading")).to_have_text("Companies viewing reports")
    # acme on the 10th and today: one company over the 7 days.
    expect(card.locator("table.summary")).to_contain_text("Report Viewed")
    expect(card.locator("table.summary")).to_contain_text("1 company")
    expect(card.locator("script[type='application/json']")).to_have_count(1)
    page.shot("overview-pinned")
    card.get_by_role("link", name="Open report →").click()
    page.wait_for_url(f"**/reports/trends?{query}")
    expect(page.get_by_role("heading", level=1)).to_be_visible()

    # A second pinned report comes after the first, and moves before it.
    retention = SavedReport.create(
        workspace=overview_data, kind="retention", name="Coming back", user=alice,
        query="start_event=Report+Viewed&interval=week&periods=4&range=90d",
    )
    retention.pin()
    page.visit("/")
    titles = page.locator("article.pinned-report h3")
    expect(titles).to_have_text(["Companies viewing reports", "Coming back"])
    page.locator("article.pinned-report", has_text="Coming back").get_by_role(
        "button", name="Move earlier"
    ).click()
    page.wait_for_url("**/")
    expect(titles).to_have_text(["Coming back", "Companies viewing reports"])
    page.shot("overview-two-pinned")

    # Renamed from the list, where it says it is pinned.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Saved reports").click()
    page.wait_for_url("**/reports")
    row = page.locator("#saved-reports-table tbody tr", has_text="by company")
    expect(row).to_contain_text("Pinned")
    row.get_by_role("link", name="Rename").click()
    page.get_by_label("Name").fill("Active companies, 7 days")
    page.get_by_role("button", name="Rename").click()
    page.wait_for_url("**/reports")
    expect(row.locator("td.key > a")).to_have_text("Active companies, 7 days")
    expect(row.locator("td.key .muted")).to_have_text("Report Viewed · by company · Last 7 days")
    page.shot("saved-reports")


def test_the_overview_and_saving_work_without_javascript(
    chromium, live_server, alice, overview_data, transactional_db
):
    query = page_query(overview_data, "funnels", "steps=Report+Viewed,Export")
    with open_page(chromium, live_server, javascript=False) as page:
        log_in(page, alice)
        # Without JavaScript the figures, which load after the page, are a link away.
        expect(figures(page, "Active companies")).to_have_count(0)
        page.get_by_role("link", name="Count who was active").click()
        page.wait_for_url("**/?figures=1")
        expect(figures(page, "Active companies")).to_have_text(["1", "2", "3"])
        page.shot("overview-figures-nojs")
        page.visit(f"/reports/funnels?{query}")
        save = page.locator("#report-save")
        save.get_by_placeholder("Name this report").fill("Viewed then exported")
        save.get_by_role("button", name="Save", exact=True).click()
        page.wait_for_url(f"**/reports/funnels?{query}")
        page.get_by_role("button", name="Pin to overview").click()
        page.visit("/")
        card = page.locator("article.pinned-report")
        expect(card.locator("table.summary")).to_contain_text("Entered")
        page.shot("overview-pinned-nojs")


def test_a_new_workspace_is_shown_how_to_start(browser_page, alice, workspace):
    page = browser_page
    log_in(page, alice)
    empty = page.locator("section.empty-start")
    expect(empty.get_by_role("heading")).to_have_text("No events yet")
    expect(empty.locator("pre")).to_contain_text(workspace.write_key)
    empty.get_by_role("link", name="Snippets for every library in Settings → API keys").click()
    page.wait_for_url("**/settings/api-keys")
    page.go_back()
    page.shot("overview-empty")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Saved reports").click()
    page.wait_for_url("**/reports")
    expect(page.get_by_role("heading", name="No saved reports yet")).to_be_visible()
    page.shot("saved-reports-empty")
