"""Charts (static/groupsite/charts.js, Chart.js vendored) in a real Chromium, on a page
that shows known charts through analytics/chart.html (tests/chart_page_urls.py)."""

import json
import shutil
from pathlib import Path

import pytest
from chart_page_urls import ACTIVATED, CHARTS, COMPANIES, EVENTS, SIGNUPS
from conftest import ARTIFACTS, log_in, open_page
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

# In the page: the chart Chart.js drew on a chart's canvas (undefined when none).
CHART_OF = (
    "window.chartOf = id => Chart.getChart(document.querySelector(`canvas[data-chart='${id}']`))"
)

# What Chart.js made of a chart, or null when it drew none.
DRAWN = """id => {
  const chart = chartOf(id);
  if (!chart) return null;
  const canvas = chart.canvas;
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0;
  for (let i = 3; i < pixels.length; i += 4) if (pixels[i]) painted++;
  return {
    type: chart.config.type,
    labels: chart.data.labels,
    datasets: chart.data.datasets.map(d => ({label: d.label, data: d.data, borderDash: d.borderDash})),
    legend: chart.legend.options.display,
    legendItems: chart.legend.legendItems.map(item => item.text),
    ticks: chart.scales.y.ticks.map(tick => ({value: tick.value, label: tick.label})),
    animation: chart.options.animation,
    painted: painted,
    height: canvas.getBoundingClientRect().height,
  };
}"""


@pytest.fixture
def chart_page_urls(settings):
    settings.ROOT_URLCONF = "chart_page_urls"


@pytest.fixture
def violations():
    """The CSP violations the pages of a test report (tests/report_csp_violations.js)."""
    return []


@pytest.fixture
def page(chromium, live_server, transactional_db, chart_page_urls, violations):
    with open_page(chromium, live_server) as page:
        page.on(
            "console",
            lambda message: "CSP violation" in message.text and violations.append(message.text),
        )
        yield page


def open_charts(page):
    page.visit("/test-charts")
    expect(page.locator("figure.chart:visible")).to_have_count(len(CHARTS))
    page.evaluate(CHART_OF)


def drawn(page, chart):
    return page.evaluate(DRAWN, chart.id)


def thousands(value):
    return f"{value:,.0f}" if value == int(value) else f"{value:,}"


def test_charts_are_drawn_from_their_json_under_the_csp(page, alice, workspace, violations):
    page.emulate_media(reduced_motion="reduce")  # drawn at once, for the screenshot
    log_in(page, alice)
    with page.expect_response("**/test-charts") as response:
        open_charts(page)
    policy = response.value.headers["content-security-policy"]
    assert "script-src 'self' 'nonce-" in policy and "style-src 'self';" in policy
    assert "unsafe" not in policy

    for chart in CHARTS:
        figure = page.locator(f"figure.chart:has(canvas[data-chart='{chart.id}'])")
        expect(figure).to_be_visible()
        # The page hands the browser the chart's data, and Chart.js draws exactly that.
        assert json.loads(page.locator(f"#{chart.id}").text_content()) == chart.data
        result = drawn(page, chart)
        assert result["type"] == chart.kind
        assert result["labels"] == chart.labels
        assert [(d["label"], d["data"]) for d in result["datasets"]] == [
            (s.label, s.values) for s in chart.series
        ]
        assert result["painted"] > 1000  # pixels on the canvas, not a blank box
        assert result["height"] == 260  # app.css gives the figure its height
        assert result["animation"] is False  # the reader asked for less motion
        # Ticks read like the numbers in the table: thousands separators, or percentages.
        for tick in result["ticks"]:
            if chart.percent:
                assert tick["label"] == f"{tick['value']:g}%"
            else:
                assert tick["value"] == int(tick["value"])  # counts: whole numbers only
                assert tick["label"] == thousands(tick["value"])

    signups = drawn(page, SIGNUPS)
    # Two series: a legend naming both; the week before is dashed, this week solid.
    assert signups["legend"] is True
    assert signups["legendItems"] == ["This week", "Week before"]
    assert [d["borderDash"] for d in signups["datasets"]] == [[], [6, 4]]
    # 2,400 at most: an axis from 0 to 2,500 in steps of 500.
    ticks = ["0", "500", "1,000", "1,500", "2,000", "2,500"]
    assert [tick["label"] for tick in signups["ticks"]] == ticks
    # One series: no legend.
    assert drawn(page, ACTIVATED)["legend"] is False
    assert drawn(page, EVENTS)["legend"] is False
    # 0 to 2 companies: whole steps, not 0.5.
    assert [tick["label"] for tick in drawn(page, COMPANIES)["ticks"]] == ["0", "1", "2"]

    # A tooltip at Wednesday gives both weeks' figures there.
    x, y = page.evaluate(
        "id => [chartOf(id).scales.x.getPixelForValue(2), chartOf(id).chartArea.top + 40]",
        SIGNUPS.id,
    )
    page.locator("canvas[data-chart='signups-chart']").hover(position={"x": x, "y": y})
    page.wait_for_function("id => chartOf(id).tooltip.opacity === 1", arg=SIGNUPS.id)
    tooltip = page.evaluate(
        "id => [chartOf(id).tooltip.title, chartOf(id).tooltip.body.map(b => b.lines.join(''))]",
        SIGNUPS.id,
    )
    assert tooltip == [["Wed 4 Mar"], ["This week: 2,100", "Week before: 1,900"]]
    page.shot("charts")
    shutil.copy(ARTIFACTS / "charts.png", "/tmp/chart.png")
    assert violations == []


def test_an_htmx_swap_redraws_a_swapped_chart_once_and_no_other(page, alice, workspace, violations):
    log_in(page, alice)
    open_charts(page)
    # Counts the charts drawn from now on, and the htmx swaps settled.
    page.evaluate(
        """() => {
          window.drawn = [];
          Chart.register({id: "countDrawn", install: chart => drawn.push(chart.canvas.dataset.chart)});
          window.settled = 0;
          document.addEventListener("htmx:afterSettle", () => settled++);
          window.before = {signups: chartOf("signups-chart"), activated: chartOf("activated-chart")};
          window.notReloaded = true;
        }"""
    )

    # The card swapped in place: its new canvas gets a chart of its own, once, and the old
    # chart lets go of the canvas that left the page.
    page.locator("#signups-chart-card").get_by_role("link", name="Refresh").click()
    page.wait_for_function("() => settled === 1")
    state = page.evaluate(
        """() => ({
          notReloaded: window.notReloaded,
          drawn: drawn,
          oldDestroyed: before.signups.canvas === null,
          newChart: !!chartOf("signups-chart") && chartOf("signups-chart") !== before.signups,
          charts: Object.keys(Chart.instances).length,
          othersKept: chartOf("activated-chart") === before.activated,
        })"""
    )
    assert state == {
        "notReloaded": True,
        "drawn": ["signups-chart"],
        "oldDestroyed": True,
        "newChart": True,
        "charts": len(CHARTS),
        "othersKept": True,
    }
    expect(page.locator("#signups-chart-card figure.chart")).to_be_visible()
    assert drawn(page, SIGNUPS)["datasets"][1]["borderDash"] == [6, 4]

    # A swap of the table below a chart draws nothing again.
    page.evaluate('() => { before.signups = chartOf("signups-chart"); }')
    page.locator("#signups-chart-table").get_by_role("link", name="Day").click()
    expect(page.locator("#signups-chart-table tbody tr").first).to_contain_text("Sun 8 Mar")
    page.wait_for_function("() => settled === 2")
    assert page.evaluate(
        '() => [drawn, Object.keys(Chart.instances).length, chartOf("signups-chart") === before.signups]'
    ) == [["signups-chart"], len(CHARTS), True]
    assert violations == []


def test_charts_move_briefly_unless_the_reader_asks_for_less_motion(page, alice, workspace):
    log_in(page, alice)
    open_charts(page)
    assert drawn(page, SIGNUPS)["animation"]["duration"] == 200

    page.emulate_media(reduced_motion="reduce")
    page.reload()
    expect(page.locator("figure.chart:visible")).to_have_count(len(CHARTS))
    page.evaluate(CHART_OF)
    assert drawn(page, SIGNUPS)["animation"] is False


def test_chart_figures_stay_hidden_without_javascript(
    chromium, live_server, transactional_db, chart_page_urls, alice, workspace
):
    with open_page(chromium, live_server, javascript=False, shots="nojs-") as page:
        log_in(page, alice)
        page.visit("/test-charts")
        # No empty box: the figure is hidden, the table of the same numbers is there.
        expect(page.locator("figure.chart")).to_have_count(len(CHARTS))
        for figure in page.locator("figure.chart").all():
            expect(figure).to_be_hidden()
        # Nor is the padding around it left as an empty band in its card.
        expect(page.locator("#signups-chart-card .card-body")).to_be_hidden()
        rows = page.locator("#signups-chart-table tbody tr")
        expect(rows).to_have_count(7)
        expect(rows.nth(4).locator("td")).to_have_text(["Fri 6 Mar", "2,400", "2,200"])
        page.shot("charts")


def test_a_csp_violation_on_the_chart_page_would_be_reported(
    chromium, live_server, transactional_db, chart_page_urls, alice, workspace
):
    """The check the other tests rely on sees what the CSP refuses on this very page: an
    inline style, as a chart library that wrote style attributes would need."""
    context = chromium.new_context()
    try:
        context.add_init_script(path=Path(__file__).with_name("report_csp_violations.js"))
        page = context.new_page()
        page.goto(live_server.url + "/login/")
        page.fill("#id_username", alice.email)
        page.fill("#id_password", "alice-password-1")
        page.click("button[type=submit]")
        page.wait_for_url(live_server.url + "/")  # the overview
        page.goto(live_server.url + "/test-charts")
        expect(page.locator("figure.chart:visible")).to_have_count(len(CHARTS))
        with page.expect_console_message(lambda m: "CSP violation" in m.text) as message:
            page.evaluate("document.querySelector('figure').setAttribute('style', 'color: red')")
        assert "CSP violation: style-src-attr" in message.value.text
    finally:
        context.close()
