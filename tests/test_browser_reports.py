"""The report pages in a real Chromium: with JavaScript (settings apply as they change,
the page swaps in place and the address follows), and without (a plain form and links),
each checked against the report core and photographed (/tmp/report-*.png)."""

import re
from urllib.parse import parse_qsl, urlsplit

import pytest
from conftest import log_in, open_page
from django.http import QueryDict
from playwright.sync_api import expect
from test_reports import activity  # noqa: F401 (a fixture)

from analytics import demo_data, reports
from analytics.models import Person

pytestmark = pytest.mark.browser

SHOTS = "/tmp/report-{}.png"


def shot(page, name):
    page.screenshot(path=SHOTS.format(name), full_page=True)


@pytest.fixture
def demo(workspace):
    """A workspace of generated companies, teams and people with 90 days of activity,
    and its staff at an internal domain."""
    workspace.internal_domains = [demo_data.INTERNAL_DOMAIN]
    workspace.save()
    demo_data.generate(workspace, events=2500, seed=4)
    return workspace


def params_of(page):
    return QueryDict(urlsplit(page.url).query)


def table_rows(page, selector="table.report-table"):
    """The body rows of a report's table, as lists of cell texts."""
    rows = page.locator(f"{selector} tbody tr")
    return [
        [cell.strip() for cell in row.locator("th, td").all_inner_texts()] for row in rows.all()
    ]


def number(text):
    return int(text.replace(",", "")) if text else None


# --- With JavaScript -----------------------------------------------------------------


def test_a_product_manager_builds_a_trend_of_companies(browser_page, alice, demo):
    page = browser_page
    log_in(page, alice)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Trends").click()
    page.wait_for_url("**/reports/trends")
    expect(page.get_by_role("heading", level=1)).to_have_text("Active users, per day")

    # Each choice applies at once; the address follows, written as the report's own.
    page.get_by_label("Series 1", exact=True).select_option("Feature Used")
    expect(page.get_by_role("heading", level=1)).to_have_text("Users doing Feature Used, per day")
    page.get_by_label("Count by").select_option(label="Companies")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Companies doing Feature Used, per day"
    )
    page.get_by_role("button", name="+ Add series").click()
    page.get_by_label("Series 2", exact=True).select_option("Report Viewed")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Companies doing Feature Used vs. Report Viewed, per day"
    )
    page.get_by_label("Interval").select_option("week")
    page.get_by_label("Compare with the period before").check()
    expect(page.locator("table.report-table thead")).to_contain_text("Period before")
    expect(page).to_have_url(re.compile(r"compare=1$"))
    assert parse_qsl(urlsplit(page.url).query, keep_blank_values=True) == [
        ("event", "Feature Used"), ("event", "Report Viewed"), ("interval", "week"),
        ("range", "30d"), ("count_by", "company"), ("internal", "exclude"), ("compare", "1"),
    ]  # fmt: skip

    # The table holds the numbers the report core answers for this address.
    query = reports.trend_from_params(demo, params_of(page))
    result = reports.trends(demo, query)
    # (A last row may hold only a week of the period before, which had one more.)
    rows = [row for row in table_rows(page) if row[0]]
    assert [[number(cell) for cell in row[1:3]] for row in rows] == [
        [result.series[0].values[i], result.series[1].values[i]] for i in range(len(result.dates))
    ]
    expect(page.locator("table.report-table tfoot")).to_contain_text(
        f"{result.series[0].total:,}"
    )
    expect(page.locator("#uncounted")).to_contain_text("carried no company and are not counted")
    page.reload()  # the address alone gives the same report
    expect(page.get_by_label("Series 2", exact=True)).to_have_value("Report Viewed")
    expect(page.get_by_label("Compare with the period before")).to_be_checked()
    shot(page, "trends")

    # Behind a number, the companies it counts.
    busiest = max(range(len(result.dates)), key=lambda i: result.series[0].values[i])
    expected = result.series[0].values[busiest]
    page.locator("table.report-table tbody tr").nth(busiest).locator("td").first.get_by_role(
        "link"
    ).click()
    page.wait_for_url("**/reports/trends/people?**")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        re.compile(rf"^{expected:,} compan(y|ies) doing Feature Used in the week of ")
    )
    expect(page.locator("#actors-table tbody tr")).to_have_count(min(expected, 50))
    shot(page, "actors")
    page.get_by_role("link", name="Back to the report").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Companies doing Feature Used vs. Report Viewed, per week"
    )


def test_a_funnel_of_companies_states_its_rule(browser_page, alice, demo):
    page = browser_page
    log_in(page, alice)
    page.visit("/reports/funnels")
    # A first visit starts from the two events sent most.
    page.wait_for_url(re.compile(r"/reports/funnels\?step="))
    assert params_of(page).getlist("step") == reports.most_sent_events(
        demo, reports.Period.preset_ending("30d", reports.queries.today_in(demo)), limit=2
    )
    steps = params_of(page).getlist("step")
    third = next(n for n in reports.event_names(demo) if n not in steps and not n.startswith("$"))
    page.get_by_label("Step 3", exact=True).select_option(third)
    expect(page.get_by_label("Step 4", exact=True)).to_have_value("")  # a new empty step to add
    page.get_by_label("Count by").select_option(label="Companies")
    expect(page.locator("#funnel-rules")).to_contain_text(
        "A company converts when its members together complete the steps in order within the "
        "window — a step done by another member of the same company counts."
    )
    expect(page.locator("#funnel-rules")).to_contain_text(
        "Each first-step event starts a chance to convert; the furthest step reached counts."
    )
    query = reports.funnel_from_params(demo, params_of(page))
    result = reports.funnel(demo, query)
    rows = table_rows(page)
    assert [number(row[1]) for row in rows] == [step.count for step in result.steps]
    expect(page.locator("table.funnel-table tbody tr")).to_have_count(3)
    shot(page, "funnels")

    page.get_by_role("button", name="Remove step 2").click()
    expect(page.locator("table.funnel-table tbody tr")).to_have_count(2)
    assert len(params_of(page).getlist("step")) == 2


def test_retention_of_companies(browser_page, alice, demo):
    page = browser_page
    log_in(page, alice)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Retention").click()
    page.wait_for_url("**/reports/retention")
    page.get_by_label("Count by").select_option(label="Companies")
    expect(page.get_by_role("heading", level=1)).to_have_text("Companies coming back, by week")
    page.get_by_label("Cohort: first did").select_option("Report Viewed")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Companies coming back after Report Viewed, by week"
    )
    query = reports.retention_from_params(demo, params_of(page))
    result = reports.retention(demo, query)
    sizes = [number(row[1]) for row in table_rows(page)]
    assert sizes == [cohort.size for cohort in result.cohorts]
    expect(page.locator("table.retention-table td.cell a").first).to_be_visible()
    shot(page, "retention")


def test_a_setting_that_makes_no_report_is_shown_in_place(browser_page, alice, demo):
    page = browser_page
    log_in(page, alice)
    page.visit("/reports/trends")
    page.get_by_label("Filter 1: on").select_option(label="Event property")
    page.get_by_label("Filter 1: property").fill("results")
    page.get_by_label("Filter 1: comparison").select_option(label="greater than")
    page.get_by_label("Filter 1: value").fill("ten")
    page.get_by_label("Filter 1: value").press("Enter")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The filter on results compares numbers; “ten” is not one.")
    expect(page.get_by_label("Filter 1: value")).to_have_value("ten")
    shot(page, "error")
    page.get_by_label("Filter 1: value").fill("10")
    page.get_by_role("button", name="Apply", exact=True).click()
    expect(page.get_by_role("alert")).to_have_count(0)
    expect(page.locator("table.report-table")).to_be_visible()
    assert ("value", "10") in parse_qsl(urlsplit(page.url).query, keep_blank_values=True)


# --- Without JavaScript ----------------------------------------------------------------


@pytest.fixture
def nojs_page(chromium, live_server, transactional_db):
    with open_page(chromium, live_server, javascript=False, timeout=15_000) as page:
        yield page


def test_each_report_works_without_javascript(nojs_page, alice, activity, send):  # noqa: F811
    page = nojs_page
    log_in(page, alice)

    # Trends: choose, then Apply; the address is the report's own.
    page.visit("/reports/trends?from=2026-01-05&to=2026-01-07")
    page.get_by_label("Series 1", exact=True).select_option("feature_used")
    page.get_by_label("Count by").select_option(label="Companies")
    page.get_by_role("button", name="Apply", exact=True).click()
    page.wait_for_url(re.compile(r"event=feature_used&interval=day&range=custom.*count_by=company"))
    assert table_rows(page) == [
        ["Mon, Jan 5", "2"], ["Tue, Jan 6", "1"], ["Wed, Jan 7", "2"],
    ]  # fmt: skip
    # A filter, added in the empty row and applied with Enter.
    page.get_by_label("Count by").select_option(label="Users")
    page.get_by_label("Filter 1: on").select_option(label="Person trait")
    page.get_by_label("Filter 1: property").fill("email")
    page.get_by_label("Filter 1: comparison").select_option(label="contains")
    page.get_by_label("Filter 1: value").fill("@beta.io")
    page.get_by_label("Filter 1: value").press("Enter")
    page.wait_for_url(re.compile(r"where=person&key=email&op=contains&value=%40beta\.io"))
    assert [row[1] for row in table_rows(page)] == ["1", "0", "1"]  # bo
    # A second series, kept with the filter.
    page.get_by_role("button", name="+ Add series").click()
    page.wait_for_url(re.compile(r"event=feature_used&event=&"))
    expect(page.get_by_label("Series 2", exact=True)).to_have_value("")
    page.get_by_role("button", name="Remove filter 1").click()
    page.wait_for_url(re.compile(r"^(?!.*where=)"))
    assert table_rows(page) == [
        ["Mon, Jan 5", "2", "2"], ["Tue, Jan 6", "2", "2"], ["Wed, Jan 7", "3", "3"],
    ]  # fmt: skip
    shot(page, "nojs-trends")
    # Behind a number.
    page.locator("table.report-table tbody tr").nth(2).locator("td").first.get_by_role("link").click()
    page.wait_for_url("**/reports/trends/people?**")
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "3 users doing feature_used on Wed, Jan 7, 2026"
    )
    names = page.locator("#actors-table tbody tr td:first-child > a").all_inner_texts()
    emails = sorted(Person.objects.filter(user_id__in=["bo", "cy", "eve"]).values_list("email", flat=True))
    assert sorted(names) == emails

    # Funnels: a step chosen in the empty "Add a step…" select.
    page.visit("/reports/funnels?step=feature_used&step=feature_used&from=2026-01-05&to=2026-01-07")
    page.get_by_label("Step 3", exact=True).select_option("$page")
    page.get_by_role("button", name="Apply", exact=True).click()
    page.wait_for_url(re.compile(r"step=feature_used&step=feature_used&step=%24page&window=14"))
    # ann, bo, cy and eve started; ann, bo and cy did it twice; none viewed a page after.
    assert [row[1] for row in table_rows(page)] == ["4", "3", "0"]
    shot(page, "nojs-funnels")

    # Retention: the periods typed in.
    page.visit("/reports/retention?from=2026-01-05&to=2026-01-07")
    page.get_by_label("Periods").fill("2")
    page.get_by_role("button", name="Apply", exact=True).click()
    page.wait_for_url(re.compile(r"periods=2&"))
    expect(page.locator("table.retention-table thead th")).to_have_text(
        ["Cohort", "Users", "Week 1", "Week 2"]
    )
    assert [row[1] for row in table_rows(page)] == ["4"]  # ann, bo, cy, eve, in the week of Jan 5
    shot(page, "nojs-retention")
