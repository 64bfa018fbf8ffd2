"""What the browser journeys and the page tests share: how they find things on the pages,
and calls of people in several companies (built with calls.py). The browser itself comes
from the fixtures in conftest.py."""

import pytest
from calls import identify, join, track
from playwright.sync_api import expect

# A deletion writes its progress through the second connection ("progress"), which must
# reach the test database.
DELETES = pytest.mark.django_db(transaction=True, databases=["default", "progress"])


def names_in_table(page):
    return page.locator("#people-table tbody tr td:first-child > a").all_inner_texts()


def summary_figure(page, label):
    """The figure a deletion summary gives for ``label`` ("Events", "Memberships"...)."""
    return page.locator(f"dl.deletion-summary dt:text-is('{label}') + dd")


def expect_message(page, text):
    expect(page.locator(".messages")).to_contain_text(text)


def open_settings_tab(page, name):
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    page.wait_for_url("**/settings/*")
    page.get_by_role("navigation", name="Settings sections").get_by_role("link", name=name).click()


def type_row(page, plural):
    """The row of a group type in the Group types table, found by its display name."""
    return page.locator("table.settings-table tbody tr").filter(
        has=page.get_by_role("link", name=plural, exact=True)
    )


def types_in_order(page):
    return page.locator("table.settings-table tbody .type-name a")


# Bo and Cy are in two companies each and send track calls naming none: the users the
# multi-company banner counts.
IN_SEVERAL_COMPANIES = [
    identify("bo", "Bo Brown", "bo@acme.io", at="2026-02-01T09:00:00Z"),
    join("bo", "acme", at="2026-02-01T10:00:00Z"),
    join("bo", "globex", at="2026-02-01T11:00:00Z", traits={"name": "Globex"}),
    track("bo", "Invite Sent", at="2026-02-03T10:00:00Z"),
    identify("cy", "Cy Cole", "cy@globex.com", at="2026-02-01T09:00:00Z"),
    join("cy", "globex", at="2026-02-01T10:00:00Z"),
    join("cy", "initech", at="2026-02-01T11:00:00Z"),
    track("cy", "Report Viewed", at="2026-02-04T10:00:00Z"),
]
