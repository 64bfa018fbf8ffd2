"""Charts as a page writes them (analytics/chart.html) and the scripts that draw them; the
drawing itself is tested in a browser (test_browser_charts.py)."""

import json
import re
from pathlib import Path

from django.template.loader import render_to_string

from analytics.charts import Chart, Series

STATIC = Path(__file__).resolve().parent.parent / "static"


def test_chart_template_writes_the_data_beside_a_hidden_figure():
    chart = Chart(
        id="weekly-signups",
        title='Sign-ups <a week> & "more"',
        labels=["Mon", "Tue"],
        series=[Series("This week", [3, 1200]), Series("Week before", [2, None], dashed=True)],
    )
    html = render_to_string("analytics/chart.html", {"chart": chart})

    data = re.search(r'<script id="weekly-signups" type="application/json">(.*?)</script>', html)
    assert json.loads(data[1]) == {
        "kind": "line",
        "labels": ["Mon", "Tue"],
        "percent": False,
        "series": [
            {"label": "This week", "values": [3, 1200], "dashed": False},
            {"label": "Week before", "values": [2, None], "dashed": True},
        ],
    }
    # Hidden until charts.js draws it: no empty box without JavaScript.
    assert '<figure class="chart" data-chart-figure hidden>' in html
    assert (
        '<canvas data-chart="weekly-signups" role="img" '
        'aria-label="Sign-ups &lt;a week&gt; &amp; &quot;more&quot;"></canvas>'
    ) in html


def test_every_page_loads_chartjs_then_charts_js_with_the_nonce(client, db):
    response = client.get("/login/")
    page = response.content.decode()
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"])[1]
    scripts = re.findall(r"<script [^>]*>", page)
    chartjs = f'<script src="/static/vendor/chartjs/chart.umd.min.js" defer nonce="{nonce}">'
    charts = f'<script src="/static/groupsite/charts.js" defer nonce="{nonce}">'
    assert chartjs in scripts and charts in scripts
    assert scripts.index(chartjs) < scripts.index(charts)  # deferred scripts run in order
    assert all("src=" in script for script in scripts)  # no inline script


def test_vendored_chartjs_is_version_4_and_compiles_no_code_from_strings():
    source = (STATIC / "vendor/chartjs/chart.umd.min.js").read_text()
    assert source.startswith("/*!\n * Chart.js v4.")
    assert not re.search(r"\beval\(|new Function\b|\bFunction\(", source)
    assert "MIT" in (STATIC / "vendor/chartjs/LICENSE.md").read_text()
    version = re.search(r"Chart\.js (v4\.[0-9.]+)", source)[1]
    readme = (STATIC / "vendor/chartjs/README.md").read_text()
    assert f"chart.js@{version.removeprefix('v')}" in readme
