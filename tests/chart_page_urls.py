"""The project's URLs and one page more for the browser tests of charts
(tests/test_browser_charts.py): /test-charts shows known charts through
analytics/chart.html, each in a card with a table of the same numbers below it, as a page
of the dashboard would, and answers htmx requests for one card or one table."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.template import engines
from django.urls import include, path

from analytics.access import workspace_for
from analytics.charts import Chart, Series
from analytics.views import HtmxHttpRequest

DAYS = ["Mon 2 Mar", "Tue 3 Mar", "Wed 4 Mar", "Thu 5 Mar", "Fri 6 Mar", "Sat 7 Mar", "Sun 8 Mar"]
SIGNUPS = Chart(
    id="signups-chart",
    title="Sign-ups a day, this week and the week before",
    labels=DAYS,
    series=[
        Series("This week", [1200, 1850, 2100, 1700, 2400, 900, 650]),
        Series("Week before", [1100, 1500, 1900, 2000, 2200, 800, 700], dashed=True),
    ],
)
ACTIVATED = Chart(
    id="activated-chart",
    title="Share of new companies activated, by week",
    labels=["9 Feb", "16 Feb", "23 Feb", "2 Mar"],
    series=[Series("Activated", [42.5, 38, 51.2, 47])],
    kind="bar",
    percent=True,
)
COMPANIES = Chart(
    id="companies-chart",
    title="New companies a week",
    labels=["9 Feb", "16 Feb", "23 Feb", "2 Mar"],
    series=[
        Series("New companies", [1, 2, 0, 2]),
        Series("Same weeks a year before", [2, 1, 1, 0], dashed=True),
    ],
    kind="bar",
)
# A month of days: too many labels to write each, or to mark each point.
EVENTS = Chart(
    id="events-chart",
    title="Events a day",
    labels=[f"{day} Feb" for day in range(3, 29)] + [f"{day} Mar" for day in range(1, 5)],
    series=[
        Series(
            "Events",
            [
                14210, 15032, 15561, 14877, 9120, 8433, 15902, 16511, 17024, 16390,
                15871, 9802, 9011, 16833, 17420, 18122, 17789, 16954, 10240, 9577,
                17988, 18603, 19240, 18811, 18002, 10811, 10102, 19330, 20121, 20874,
            ],
        )
    ],
)
CHARTS = [SIGNUPS, EVENTS, ACTIVATED, COMPANIES]

TABLE = """{% load groupsite %}
<div class="table-container" id="{{ chart.id }}-table">
  <table class="data compact">
    <thead><tr>
      <th><a href="?order={{ next_order }}" hx-get="?order={{ next_order }}" hx-target="#{{ chart.id }}-table" hx-swap="outerHTML">Day</a></th>
      {% for series in chart.series %}<th class="num">{{ series.label }}</th>{% endfor %}
    </tr></thead>
    <tbody>{% for label, values in rows %}
      <tr><td>{{ label }}</td>{% for value in values %}<td class="num">{% if chart.percent %}{{ value }}%{% else %}{{ value|number }}{% endif %}</td>{% endfor %}</tr>
    {% endfor %}</tbody>
  </table>
</div>"""

CARD = (
    """<section class="card" id="{{ chart.id }}-card" aria-labelledby="{{ chart.id }}-title">
  <div class="card-head">
    <h2 id="{{ chart.id }}-title">{{ chart.title }}</h2>
    <a class="button small" href="{{ request.path }}" hx-get="{{ request.path }}" hx-target="#{{ chart.id }}-card" hx-swap="outerHTML">Refresh</a>
  </div>
  <div class="card-body">{% include "analytics/chart.html" with chart=chart %}</div>
  """
    + TABLE
    + "\n</section>"
)

PAGE = (
    """{% extends "base.html" %}
{% block title %}Charts{% endblock %}
{% block content %}
<div class="page-head"><div><h1>Charts</h1><div class="subtitle">Known numbers, drawn by charts.js</div></div></div>
<div class="stack">
{% for chart, rows in cards %}"""
    + CARD
    + """{% endfor %}
</div>
{% endblock %}"""
)


def rows(chart: Chart, order: str) -> list:
    """A table row per label: the label and each series' value at it."""
    table = list(zip(chart.labels, zip(*(series.values for series in chart.series))))
    return table[::-1] if order == "desc" else table


@login_required
def chart_page(request: HtmxHttpRequest) -> HttpResponse:
    workspace_for(request)  # the sidebar's workspace, as on every page of the dashboard
    order = "desc" if request.GET.get("order") == "desc" else "asc"
    context = {"next_order": "asc" if order == "desc" else "desc"}
    target = request.htmx.target if request.htmx else None
    for chart in CHARTS:
        context.update(chart=chart, rows=rows(chart, order))
        if target == f"{chart.id}-card":
            return HttpResponse(engines["django"].from_string(CARD).render(context, request))
        if target == f"{chart.id}-table":
            return HttpResponse(engines["django"].from_string(TABLE).render(context, request))
    cards = [(chart, rows(chart, order)) for chart in CHARTS]
    page = engines["django"].from_string(PAGE)
    return HttpResponse(page.render({**context, "cards": cards}, request))


urlpatterns = [
    path("test-charts", chart_page),
    path("", include("groupsite.urls")),
]
