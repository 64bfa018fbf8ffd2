"""Defining a cohort in a real Chromium, with and without JavaScript, and filtering the
People list by it."""

from datetime import timedelta

import pytest
from calls import identify, join, track
from conftest import log_in, open_page
from django.utils import timezone
from journeys import names_in_table
from playwright.sync_api import expect

from analytics.models import Cohort

pytestmark = pytest.mark.browser


def days_ago(days):
    return (timezone.now() - timedelta(days=days)).isoformat()


@pytest.fixture
def customers(send, company):
    """Four people at acme and globex; Ann and Cy are admins, and Ann and Bo exported
    this week."""
    response = send.batch(
        identify("ann", "Ann Archer", "ann@acme.io", at=days_ago(40)),
        identify("bo", "Bo Brown", "bo@acme.io", at=days_ago(40)),
        identify("cy", "Cy Cole", "cy@globex.com", at=days_ago(40)),
        identify("dot", "Dot Dunn", "dot@globex.com", at=days_ago(40)),
        *({"type": "identify", "userId": user, "traits": {"role": "admin"}, "timestamp": days_ago(39)}
          for user in ("ann", "cy")),
        join("ann", "acme", at=days_ago(38), traits={"name": "Acme Inc", "plan": "pro"}),
        join("bo", "acme", at=days_ago(38)),
        join("cy", "globex", at=days_ago(38), traits={"name": "Globex", "plan": "free"}),
        join("dot", "globex", at=days_ago(38)),
        track("ann", "export", at=days_ago(2)),
        track("bo", "export", at=days_ago(3)),
        track("cy", "Report Viewed", at=days_ago(1)),
    )
    assert response.status_code == 200, response.json()


def fill_row(page, n, kind, **fields):
    """Condition row ``n``: its kind, then its fields (only those of the kind show)."""
    row = page.locator("li.condition").nth(n)
    row.locator("select.kind").select_option(label=kind)
    for name, value in fields.items():
        field = row.locator(f"[name='condition-{n}-{name}']")
        expect(field).to_be_visible()
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(label=value)
        else:
            field.fill(value)
    return row


def test_define_a_cohort_and_filter_people_by_it(browser_page, alice, customers):
    page = browser_page
    log_in(page, alice)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Cohorts").click()
    page.wait_for_url("**/reports/cohorts")
    page.get_by_role("link", name="New cohort").click()
    page.wait_for_url("**/reports/cohorts/new")
    expect(page.get_by_text("A member meets all of them (AND).")).to_be_visible()
    # The empty row shows only its choice of kind.
    expect(page.locator("[name='condition-0-key']")).to_be_hidden()
    expect(page.locator("[name='condition-0-event']")).to_be_hidden()
    page.shot("cohort-form-empty")

    page.get_by_label("Name").fill("Admins who export")
    row = fill_row(page, 0, "Has a property", key="role", op="equals", value="admin")
    # The fields of the other kinds are out of the way.
    expect(row.locator("[name='condition-0-event']")).to_be_hidden()
    expect(row.locator("[name='condition-0-group_type']")).to_be_hidden()
    page.get_by_role("button", name="Add another condition").click()
    expect(page.locator("li.condition")).to_have_count(2)
    expect(page.locator("[name='condition-0-value']")).to_have_value("admin")
    row = fill_row(page, 1, "Did an event", event="export", times="1", days="7")
    expect(row.locator("[name='condition-1-key']")).to_be_hidden()
    page.shot("cohort-form")
    page.get_by_role("button", name="Save cohort").click()

    cohort = Cohort.objects.get(name="Admins who export")
    page.wait_for_url(f"**/reports/cohorts/{cohort.pk}")
    expect(page.get_by_role("heading", name="Admins who export")).to_be_visible()
    expect(page.locator(".conditions-list")).to_contain_text("Trait role equals admin")
    expect(page.locator(".conditions-list")).to_contain_text("Did “export” in the last 7 days")
    expect(page.locator(".page-head .subtitle")).to_have_text("A cohort of users: 1 user now.")
    assert names_in_table(page) == ["Ann Archer"]
    page.shot("cohort-page")

    page.get_by_role("link", name="Show in People").click()
    page.wait_for_url(f"**/people?cohort={cohort.pk}")
    assert names_in_table(page) == ["Ann Archer"]
    expect(page.locator("#people-count")).to_have_text("1 of 4 people in cohort “Admins who export”.")
    expect(page.get_by_label("Cohort")).to_have_value(str(cohort.pk))
    page.shot("people-in-cohort")

    # Back to everyone, then the cohort again, with the picker (the table swaps in place).
    page.get_by_label("Cohort").select_option(label="Everyone")
    expect(page.locator("#people-table tbody tr")).to_have_count(4)
    expect(page.locator("#people-count")).to_contain_text("4 people using your product")
    page.get_by_label("Cohort").select_option(label="Admins who export")
    expect(page.locator("#people-table tbody tr")).to_have_count(1)
    expect(page.locator("#people-count")).to_have_text("1 of 4 people in cohort “Admins who export”.")
    page.wait_for_url(f"**/people?**cohort={cohort.pk}**")

    # A report keeps the cohort's events: its picker sits in the report's form.
    page.visit(f"/reports/trends?event=export&cohort={cohort.pk}")
    expect(page.locator("select#cohort")).to_have_value(str(cohort.pk))
    page.shot("trends-in-cohort")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Cohorts").click()
    row = page.locator("#cohorts-table tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Admins who export")
    expect(row.locator("td.num")).to_have_text("1")
    page.shot("cohorts-list")


def test_define_a_cohort_of_companies_without_javascript(chromium, live_server, transactional_db, alice, customers):
    with open_page(chromium, live_server, javascript=False, timeout=15_000, shots="nojs-") as page:
        log_in(page, alice)
        page.visit("/reports/cohorts/new")
        page.get_by_label("Name").fill("Pro companies")
        page.get_by_label("A cohort of").select_option(label="Companies")
        # A condition that cannot be evaluated is refused, with why, in its row.
        fill_row(page, 0, "Has a property", key="seats", op="greater than", value="many")
        page.get_by_role("button", name="Save cohort").click()
        expect(page.locator("li.condition.invalid")).to_contain_text("“seats greater than” compares numbers")
        page.shot("cohort-form-error")
        fill_row(page, 0, "Has a property", key="plan", op="equals", value="pro")
        page.get_by_role("button", name="Add another condition").click()
        expect(page.locator("li.condition")).to_have_count(2)
        fill_row(page, 1, "Did an event", event="", times="1", days="30")
        page.get_by_role("button", name="Save cohort").click()
        cohort = Cohort.objects.get(name="Pro companies")
        page.wait_for_url(f"**/reports/cohorts/{cohort.pk}")
        expect(page.locator(".page-head .subtitle")).to_have_text("A cohort of companies: 1 company now.")
        expect(page.locator("#groups-table")).to_contain_text("Acme Inc")
        page.shot("cohort-of-companies")

        page.visit("/groups/company")
        page.get_by_label("Cohort").select_option(label="Pro companies")
        page.get_by_role("button", name="Search").click()
        page.wait_for_url(f"**/groups/company?**cohort={cohort.pk}**")
        expect(page.locator("#groups-count")).to_have_text("1 of 2 companies in cohort “Pro companies”")
        expect(page.locator("#groups-table tbody tr")).to_have_count(1)
        page.shot("groups-in-cohort")
