"""The report pages (Trends, Funnels, Retention): the numbers they show of small datasets
worked out by hand, their forms (every setting round-trips through the URL), errors,
empty states, CSV downloads, the lists of people and groups behind each number, who may
see them, and the number of queries each page makes.

The Trends dataset is ``activity`` of tests/test_reports.py (January 2026, UTC): ann,
bo, cy and eve use feature_used; dee is internal (staff.dev). The Funnels and Retention
datasets are those of the same file's funnel and retention tests.
"""

import csv
import io
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from calls import jan, join, track
from conftest import stored_events
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from test_reports import activity, funnel_calls  # noqa: F401 (activity is a fixture)

from analytics import event_store, reports
from analytics.models import Person

FIRST_WEEK = {"from": "2026-01-05", "to": "2026-01-07"}

# Every report page and answer, with events in either store.
pytestmark = pytest.mark.both_stores


# --- Reading pages -------------------------------------------------------------------


class _Reader(HTMLParser):
    """The tables of a page (by their classes), as rows of (text, link) cells, and the
    fields a form of it submits, in order, as a browser sends them."""

    def __init__(self, html, form_id):
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.tables, self.fields = {}, []
        self._table = self._row = self._cell = None
        self._in_form = False
        self._select = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(attrs.get("class", ""), [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = {"text": "", "href": None, "class": attrs.get("class", "")}
            self._row.append(self._cell)
        elif tag == "a" and self._cell is not None and self._cell["href"] is None:
            self._cell["href"] = attrs.get("href")
        elif tag == "form" and attrs.get("id") == self.form_id:
            self._in_form = True
        elif self._in_form and tag == "input" and attrs.get("name"):
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio") and "checked" not in attrs:
                return
            if kind not in ("submit", "button", "image", "reset"):
                self.fields.append((attrs["name"], attrs.get("value", "on" if kind == "checkbox" else "")))
        elif self._in_form and tag == "select":
            self._select = [attrs["name"], None, None]  # name, first option, selected option
        elif self._select is not None and tag == "option":
            value = attrs.get("value", "")
            if self._select[1] is None:
                self._select[1] = value
            if "selected" in attrs:
                self._select[2] = value

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag in ("td", "th"):
            if self._cell is not None:
                self._cell["text"] = " ".join(self._cell["text"].split())
            self._cell = None
        elif tag == "tr":
            self._row = None
        elif tag == "form":
            self._in_form = False
        elif tag == "select" and self._select is not None:
            name, first, selected = self._select
            self.fields.append((name, selected if selected is not None else first or ""))
            self._select = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell["text"] += data


def page_of(response):
    assert response.status_code == 200, response.content.decode()[:2000]
    return response.content.decode()


def table(html, kind="report-table"):
    """The rows of the first table whose class names ``kind``, as lists of cell texts."""
    tables = _Reader(html, "report-form").tables
    found = next(rows for classes, rows in tables.items() if kind in classes.split())
    return [[cell["text"] for cell in row] for row in found]


def links(html, kind="report-table"):
    tables = _Reader(html, "report-form").tables
    found = next(rows for classes, rows in tables.items() if kind in classes.split())
    return [[cell["href"] for cell in row] for row in found]


def form_fields(html):
    """What the report's form sends when applied as it is shown."""
    return _Reader(html, "report-form").fields


def csv_of(response):
    assert response.status_code == 200, response.content.decode()[:2000]
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(content.decode())))


def canonical(path, **params):
    pairs = []
    for name, value in params.items():
        pairs += [(name, v) for v in value] if isinstance(value, list) else [(name, value)]
    return f"{path}?{urlencode(pairs)}"


# --- Datasets ------------------------------------------------------------------------


@pytest.fixture
def funnel_data(send, workspace, company):
    """The funnel of ``test_reports.funnel_calls``."""
    response = send.batch(*funnel_calls())
    assert response.status_code == 200, response.content


FUNNEL = {"step": ["signed_up", "project_created", "invite_sent"], "from": "2026-01-01", "to": "2026-01-31"}


@pytest.fixture
def retention_data(send, workspace, company):
    """Cohort of Jan 5 (ann, bo): both back in week 1? ann in weeks 1 and 3, bo in week
    2; cohort of Jan 12: cy, back in week 1. dee signed up before the period."""
    december = datetime(2025, 12, 1, tzinfo=UTC).isoformat()
    response = send.batch(
        join("ann", "acme", december),
        join("bo", "acme", december),
        join("cy", "beta", december),
        track("ann", "signed_up", jan(5)),
        track("ann", "login", jan(13)),
        track("ann", "login", jan(27)),
        track("bo", "signed_up", jan(7)),
        track("bo", "login", jan(20)),
        track("cy", "signed_up", jan(14)),
        track("cy", "login", jan(15)),
        track("cy", "login", jan(19)),
        track("dee", "signed_up", datetime(2025, 12, 29, 12, tzinfo=UTC).isoformat()),
        track("dee", "signed_up", jan(6)),
        track("dee", "login", jan(13)),
    )
    assert response.status_code == 200, response.content


RETENTION = {"start_event": "signed_up", "periods": "3", "from": "2026-01-05", "to": "2026-01-18"}


def user_ids(rows):
    """The user ids in a list of people's table rows (the second column)."""
    return sorted(row[1] for row in rows[1:])


# --- Trends --------------------------------------------------------------------------


def test_a_trend_shows_distinct_users_per_day_and_over_the_period(alice_client, activity):  # noqa: F811
    html = page_of(alice_client.get("/reports/trends", {"event": "feature_used", **FIRST_WEEK}))
    assert "<h1>Users doing feature_used, per day</h1>" in html
    assert table(html) == [
        ["Day", "feature_used"],
        ["Mon, Jan 5", "2"],
        ["Tue, Jan 6", "2"],
        ["Wed, Jan 7", "3"],
        ["Total each once over the period", "4"],
    ]
    # Why the total is not 7, the sum of the days.
    assert "The total counts each user once over the whole period" in html
    # dee, at the internal domain, is left out, and the page says so.
    assert "Jan 5 – Jan 7, 2026 · without 1 internal person" in html


def test_a_trend_by_company_says_how_many_events_it_could_not_count(alice_client, activity):  # noqa: F811
    html = page_of(
        alice_client.get("/reports/trends", {"event": "feature_used", "count_by": "company", **FIRST_WEEK})
    )
    assert "<h1>Companies doing feature_used, per day</h1>" in html
    assert [row[1] for row in table(html)] == ["feature_used", "2", "1", "2", "2"]
    # ann's event before she joined acme, cy's naming neither of his two, eve's in none.
    assert "3 events from Jan 5 – Jan 7, 2026 carried no company and are not counted." in html
    assert "The total counts each company once over the whole period" in html


def test_a_trend_of_events_counts_calls_and_has_no_list_behind_its_numbers(alice_client, activity):  # noqa: F811
    html = page_of(
        alice_client.get("/reports/trends", {"event": "feature_used", "count_by": "events", **FIRST_WEEK})
    )
    assert "<h1>feature_used events, per day</h1>" in html
    assert table(html)[1:] == [
        ["Mon, Jan 5", "3"],
        ["Tue, Jan 6", "2"],
        ["Wed, Jan 7", "3"],
        ["Total", "8"],
    ]
    assert all(href is None for row in links(html) for href in row)
    assert "the total is their sum" in html


def test_several_series_and_the_previous_period_side_by_side(alice_client, send, workspace):
    send.batch(
        track("a", "login", jan(2)),
        track("b", "login", jan(3)),
        track("c", "login", jan(3)),
        track("a", "login", jan(6)),
        track("a", "export", jan(7)),
    )
    html = page_of(
        alice_client.get("/reports/trends", {"event": ["login", "export"], "compare": "1", **FIRST_WEEK})
    )
    assert "<h1>Users doing login vs. export, per day</h1>" in html
    assert table(html) == [
        ["Day", "login", "export", "Period before", "login", "export"],
        ["Mon, Jan 5", "0", "0", "Fri, Jan 2", "1", "0"],
        ["Tue, Jan 6", "1", "0", "Sat, Jan 3", "2", "0"],
        ["Wed, Jan 7", "0", "1", "Sun, Jan 4", "0", "0"],
        ["Total each once over the period", "1", "1", "", "3", "0"],
    ]
    assert "compared with the 3 days before" in html


def test_a_breakdown_has_a_column_per_value(alice_client, send, workspace):
    send.batch(
        track("a", "export", jan(5), properties={"format": "csv"}),
        track("b", "export", jan(5), properties={"format": "csv"}),
        track("c", "export", jan(6), properties={"format": "pdf"}),
        track("d", "export", jan(6)),
    )
    html = page_of(
        alice_client.get("/reports/trends", {"event": "export", "breakdown": "format", **FIRST_WEEK})
    )
    assert "<h1>Users doing export, per day, by format</h1>" in html
    assert table(html) == [
        ["Day", "csv", "(none)", "pdf"],
        ["Mon, Jan 5", "2", "0", "0"],
        ["Tue, Jan 6", "0", "1", "1"],
        ["Wed, Jan 7", "0", "0", "0"],
        ["Total each once over the period", "2", "1", "1"],
    ]


def test_every_point_of_a_trend_links_to_the_people_it_counts(alice_client, activity):  # noqa: F811
    html = page_of(alice_client.get("/reports/trends", {"event": "feature_used", **FIRST_WEEK}))
    href = links(html)[3][1]  # the 7th
    assert href == canonical(
        "/reports/trends/people",
        event="feature_used", interval="day", range="custom", **FIRST_WEEK,
        count_by="users", internal="exclude", series="0", date="2026-01-07",
    )  # fmt: skip
    people = page_of(alice_client.get(href))
    assert "3 users doing feature_used on Wed, Jan 7, 2026" in people
    assert sorted(row[1] for row in table(people, "data")[1:]) == ["bo", "cy", "eve"]
    # The way back to the report.
    report = canonical(
        "/reports/trends", event="feature_used", interval="day", range="custom", **FIRST_WEEK,
        count_by="users", internal="exclude",
    )  # fmt: skip
    assert f'href="{report.replace("&", "&amp;")}"' in people


def test_behind_a_point_counted_by_company_are_the_companies(alice_client, activity, workspace):  # noqa: F811
    html = page_of(
        alice_client.get("/reports/trends", {"event": "feature_used", "count_by": "company", **FIRST_WEEK})
    )
    listing = page_of(alice_client.get(links(html)[2][1]))  # the 6th
    assert "1 company doing feature_used on Tue, Jan 6, 2026" in listing
    assert [row[0] for row in table(listing, "data")[1:]] == ["acme"]
    assert '<a href="/groups/company/acme"' in listing


def test_behind_a_point_of_the_previous_period_and_a_breakdown_value(alice_client, send, workspace):
    send.batch(
        track("a", "export", jan(2), properties={"format": "csv"}),
        track("b", "export", jan(2), properties={"format": "pdf"}),
        track("c", "export", jan(5), properties={"format": "csv"}),
    )
    params = {"event": "export", "breakdown": "format", "compare": "1", **FIRST_WEEK}
    html = page_of(alice_client.get("/reports/trends", params))
    # The top values of each period are its own: pdf was used only the period before.
    assert table(html)[0] == ["Day", "csv", "Period before", "csv", "pdf"]
    jan_2_csv = links(html)[1][3]
    assert "breakdown_value=csv" in jan_2_csv and "previous=1" in jan_2_csv and "date=2026-01-02" in jan_2_csv
    listing = page_of(alice_client.get(jan_2_csv))
    assert "1 user doing export with format csv on Fri, Jan 2, 2026" in listing
    assert user_ids(table(listing, "data")) == ["a"]


def test_a_trend_downloads_as_csv(alice_client, activity):  # noqa: F811
    response = alice_client.get(
        "/reports/trends", {"event": "feature_used", "compare": "1", "format": "csv", **FIRST_WEEK}
    )
    assert response["Content-Disposition"] == 'attachment; filename="trends-2026-01-05-to-2026-01-07.csv"'
    assert csv_of(response) == [
        ["date", "feature_used", "previous_date", "feature_used (previous period)"],
        ["2026-01-05", "2", "2026-01-02", "0"],
        ["2026-01-06", "2", "2026-01-03", "0"],
        ["2026-01-07", "3", "2026-01-04", "0"],
        ["total (distinct over the period)", "4", "", "0"],
    ]


def test_the_people_behind_a_point_download_as_csv(alice_client, activity, workspace):  # noqa: F811
    params = {"event": "feature_used", **FIRST_WEEK, "series": "0", "date": "2026-01-07"}
    response = alice_client.get("/reports/trends/people", {**params, "format": "csv"})
    assert response.streaming
    assert response["Content-Disposition"] == 'attachment; filename="trends-users-2026-01-07.csv"'
    pk = dict(Person.objects.values_list("user_id", "pk"))
    assert csv_of(response) == [
        ["id", "user_id", "email", "name"],
        *sorted(
            [
                [str(pk["bo"]), "bo", "bo@beta.io", ""],
                [str(pk["cy"]), "cy", "cy@gmail.com", ""],
                [str(pk["eve"]), "eve", "eve@example.com", ""],
            ],
            key=lambda row: int(row[0]),
        ),
    ]
    groups = alice_client.get(
        "/reports/trends/people", {**params, "count_by": "company", "format": "csv"}
    )
    rows = csv_of(groups)
    assert rows[0] == ["id", "key", "name", "members"]
    assert [row[1:] for row in rows[1:]] == [["acme", "", "3"], ["beta", "", "2"]]


# --- Funnels -------------------------------------------------------------------------


def test_a_funnel_shows_each_step_its_conversion_drop_off_and_times(alice_client, funnel_data):
    html = page_of(alice_client.get("/reports/funnels", FUNNEL))
    assert "<h1>Users going from signed_up to invite_sent</h1>" in html
    assert table(html) == [
        ["Step", "Users", "From previous", "Overall", "Dropped off", "Time from step 1"],
        ["1 signed_up", "5", "—", "100%", "—", "—"],
        # From signing up to the project: ann 1 day, bo 2, gil 5 (from his second try);
        # to the invite: ann 3 days.
        ["2 project_created", "3", "60%", "60%", "2 (40%)", "2 days"],
        ["3 invite_sent", "1", "33.3%", "20%", "2 (66.7%)", "3 days"],
    ]
    assert "Each first-step event starts a chance to convert; the furthest step reached counts." in html
    assert "The window, 14 days, is measured from the first step." in html
    # Overall conversion and the median time to convert.
    assert '<div class="tile-value">20%</div>' in html
    assert '<div class="tile-value">3 days</div>' in html
    assert "A company converts when" not in html


def test_a_funnel_by_company_states_the_rule_of_members_together(alice_client, funnel_data):
    html = page_of(alice_client.get("/reports/funnels", {**FUNNEL, "count_by": "company"}))
    assert [row[1] for row in table(html)] == ["Companies", "4", "4", "2"]
    assert (
        "A company converts when its members together complete the steps in order within the "
        "window — a step done by another member of the same company counts."
    ) in html
    assert '<div class="tile-value">2 days 12 h</div>' in html  # acme 3 days, delta 2


def test_behind_a_step_and_its_drop_off_are_the_people_it_counts(alice_client, funnel_data):
    html = page_of(alice_client.get("/reports/funnels", FUNNEL))
    reached, dropped = links(html)[2][1], links(html)[3][4]
    assert "reached=2" in reached and "dropped=3" in dropped
    listing = page_of(alice_client.get(reached))
    assert "3 users who reached step 2, project_created" in listing
    assert user_ids(table(listing, "data")) == ["ann", "bo", "gil"]
    listing = page_of(alice_client.get(dropped))
    assert "2 users who did step 2, project_created, and dropped off before step 3, invite_sent" in listing
    assert user_ids(table(listing, "data")) == ["bo", "gil"]


def test_a_funnel_downloads_as_csv(alice_client, funnel_data):
    response = alice_client.get("/reports/funnels", {**FUNNEL, "format": "csv"})
    assert response["Content-Disposition"] == 'attachment; filename="funnels-2026-01-01-to-2026-01-31.csv"'
    assert csv_of(response) == [
        ["step", "event", "count", "conversion_from_previous_percent", "conversion_overall_percent",
         "dropped", "dropped_percent", "median_seconds_from_step_1"],
        ["1", "signed_up", "5", "", "100", "", "", ""],
        ["2", "project_created", "3", "60", "60", "2", "40", "172800"],
        ["3", "invite_sent", "1", "33.3", "20", "2", "66.7", "259200"],
    ]  # fmt: skip


def test_a_first_visit_starts_from_the_two_events_sent_most(alice_client, send, workspace):
    now = timezone.now()
    send.batch(
        *(track(f"u{n}", "viewed", (now - timedelta(days=1)).isoformat()) for n in range(3)),
        *(track(f"u{n}", "bought", (now - timedelta(hours=5)).isoformat()) for n in range(2)),
        track("u0", "left", (now - timedelta(hours=1)).isoformat()),
    )
    response = alice_client.get("/reports/funnels")
    assert response.status_code == 302
    assert response["Location"] == "/reports/funnels?step=viewed&step=bought"


def test_a_funnel_without_steps_asks_for_them(alice_client, workspace):
    html = page_of(alice_client.get("/reports/funnels"))
    assert "Choose the steps of your funnel" in html and 'role="alert"' not in html
    response = alice_client.get("/reports/funnels", {"step": "signed_up"})
    assert response.status_code == 400
    assert "A funnel has 2 to 10 steps; 1 were given." in response.content.decode()


# --- Retention -----------------------------------------------------------------------


def test_retention_shows_the_triangle_and_the_weighted_curve(alice_client, retention_data):
    html = page_of(alice_client.get("/reports/retention", RETENTION))
    assert "<h1>Users coming back after signed_up, by week</h1>" in html
    assert table(html) == [
        ["Cohort", "Users", "Week 1", "Week 2", "Week 3"],
        ["Week of Jan 5", "2", "50% 1", "50% 1", "50% 1"],
        ["Week of Jan 12", "1", "100% 1", "0% 0", "0% 0"],
        ["Weighted average", "3", "66.7%", "33.3%", "33.3%"],
    ]
    assert "weighted by cohort size" in html
    # Cells are shaded by their share.
    classes = [cell["class"] for cell in _Reader(html, "").tables["data report-table retention-table"][1]]
    assert classes[2:] == ["num cell shade-5"] * 3


def test_retention_leaves_the_periods_not_over_yet_empty(alice_client, send, workspace):
    now = timezone.now()
    send.batch(track("ann", "signed_up", now.isoformat()))
    html = page_of(alice_client.get("/reports/retention", {"range": "7d", "periods": "2"}))
    last = table(html)[-2]  # the cohort of this week, before the average
    assert last[1] == "1" and last[2:] == ["not over yet", "not over yet"]


def test_behind_a_retention_cell_are_the_people_back_then(alice_client, retention_data):
    html = page_of(alice_client.get("/reports/retention", RETENTION))
    size, week_2 = links(html)[1][1], links(html)[1][3]
    listing = page_of(alice_client.get(size))
    assert "2 users who first did signed_up in the week of Jan 5, 2026" in listing
    assert user_ids(table(listing, "data")) == ["ann", "bo"]
    listing = page_of(alice_client.get(week_2))
    assert "1 user who first did signed_up in the week of Jan 5, 2026 and came back in week 2" in listing
    assert user_ids(table(listing, "data")) == ["bo"]


def test_retention_by_company_and_as_csv(alice_client, retention_data):
    response = alice_client.get("/reports/retention", {**RETENTION, "count_by": "company", "format": "csv"})
    assert response["Content-Disposition"] == 'attachment; filename="retention-2026-01-05-to-2026-01-18.csv"'
    assert csv_of(response) == [
        ["cohort", "size", "week_1", "week_1_percent", "week_2", "week_2_percent", "week_3", "week_3_percent"],
        ["2026-01-05", "1", "1", "100", "1", "100", "1", "100"],
        ["2026-01-12", "1", "1", "100", "0", "0", "0", "0"],
    ]


# --- The form: every setting in the URL ------------------------------------------------


ROUND_TRIPS = [
    (
        "/reports/trends",
        [
            ("event", "feature_used"), ("event", ""), ("event", "$page"), ("interval", "week"),
            ("range", "custom"), ("from", "2025-12-01"), ("to", "2026-01-31"), ("count_by", "team"),
            ("where", "event"), ("key", "plan"), ("op", "eq"), ("value", "pro"),
            ("where", "company"), ("key", "seats"), ("op", "gt"), ("value", "10"),
            ("where", "person"), ("key", "email"), ("op", "set"), ("value", ""),
            ("internal", "include"), ("compare", "1"),
        ],
    ),
    (
        "/reports/trends",
        [
            ("event", "feature_used"), ("interval", "month"), ("range", "90d"), ("count_by", "events"),
            ("internal", "exclude"), ("breakdown_on", "company"), ("breakdown", "plan"),
        ],
    ),
    (
        "/reports/funnels",
        [
            ("step", "signed_up"), ("step", "$page"), ("step", "invite_sent"), ("window", "3"),
            ("range", "last_month"), ("count_by", "company"), ("where", "person"), ("key", "email"),
            ("op", "contains"), ("value", "@acme.io"), ("internal", "include"),
        ],
    ),
    (
        "/reports/retention",
        [
            ("start_event", "signed_up"), ("return_event", "$screen"), ("interval", "month"),
            ("periods", "4"), ("range", "this_month"), ("count_by", "users"), ("internal", "exclude"),
        ],
    ),
]  # fmt: skip


@pytest.mark.parametrize("path, params", ROUND_TRIPS)
def test_every_setting_round_trips_through_the_form(alice_client, activity, path, params):  # noqa: F811
    url = f"{path}?{urlencode(params)}"
    html = page_of(alice_client.get(url))
    # Applied as shown, the form leads back to the same report, at its own URL.
    applied = alice_client.get(path, form_fields(html))
    assert applied.status_code == 302
    assert applied["Location"] == url


def test_the_form_shows_the_period_of_a_preset_in_its_dates(alice_client, workspace):
    html = page_of(alice_client.get("/reports/trends", {"range": "7d"}))
    fields = dict(form_fields(html))
    today = timezone.now().date()
    assert fields["range"] == "7d"
    assert fields["from"] == (today - timedelta(days=6)).isoformat() and fields["to"] == today.isoformat()
    assert fields["form"] == f"{fields['from']}..{fields['to']}"


def test_a_date_typed_over_a_preset_makes_the_range_custom(alice_client, workspace):
    today = timezone.now().date()
    shown = f"{(today - timedelta(days=29)).isoformat()}..{today.isoformat()}"
    response = alice_client.get(
        "/reports/trends",
        {"event": "", "range": "30d", "from": "2026-01-01", "to": today.isoformat(), "form": shown},
    )
    assert response["Location"] == canonical(
        "/reports/trends", event="", interval="day", range="custom", **{"from": "2026-01-01", "to": today.isoformat()},
        count_by="users", internal="include",
    )  # fmt: skip
    # A preset chosen, the dates it showed unchanged: the preset.
    response = alice_client.get(
        "/reports/trends",
        {"event": "", "range": "7d", "from": shown[:10], "to": shown[12:], "form": shown},
    )
    assert response["Location"] == "/reports/trends?event=&interval=day&range=7d&count_by=users&internal=include"


@pytest.mark.parametrize(
    "sent, expected",
    [
        ({"event": "a", "add": "event"}, [("event", "a"), ("event", "")]),
        ({"event": ["a", "b", "c"], "remove": "event:1"}, [("event", "a"), ("event", "c")]),
        (
            {"event": "a", "where": ["event", "person"], "key": ["k", "email"], "op": ["eq", "set"],
             "value": ["v", ""], "remove": "filter:0"},
            [("event", "a"), ("where", "person"), ("key", "email"), ("op", "set"), ("value", "")],
        ),
    ],
)  # fmt: skip
def test_the_forms_buttons_add_and_remove_series_and_filters(alice_client, workspace, sent, expected):
    response = alice_client.get("/reports/trends", {**sent, "range": "7d", "form": "x..y"})
    assert response.status_code == 302
    params = parse_qsl(urlsplit(response["Location"]).query, keep_blank_values=True)
    assert [(n, v) for n, v in params if n in ("event", "where", "key", "op", "value")] == expected


def test_removing_a_funnel_step(alice_client, workspace):
    response = alice_client.get(
        "/reports/funnels", {"step": ["a", "b", "c", ""], "remove": "step:0", "form": ""}
    )
    assert response["Location"].startswith("/reports/funnels?step=b&step=c&window=14&")


# --- Errors and empty states -----------------------------------------------------------


@pytest.mark.parametrize(
    "path, params, message",
    [
        ("/reports/trends", {"interval": "hour"}, "interval must be one of day, week, month; not “hour”."),
        ("/reports/trends", {"count_by": "project"}, "count_by: this workspace has no group type “project”"),
        ("/reports/trends", {"where": "event", "key": "n", "op": "gt", "value": "ten"}, "“ten” is not one."),
        ("/reports/funnels", {"step": "signed_up"}, "A funnel has 2 to 10 steps; 1 were given."),
        ("/reports/retention", {"periods": "99"}, "periods must be between 1 and 36; not 99."),
    ],
)
def test_a_setting_that_makes_no_report_is_shown_beside_the_form(alice_client, workspace, path, params, message):
    response = alice_client.get(path, params)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'role="alert"' in html and message in html
    # The form keeps what was sent, to be corrected.
    fields = form_fields(html)
    for name, value in params.items():
        if name not in ("count_by", "interval"):  # choices a select cannot show
            assert (name, value) in fields
    assert "report-table" not in html


def test_a_csv_of_a_report_that_cannot_be_made_is_refused(alice_client, workspace):
    response = alice_client.get("/reports/trends", {"interval": "hour", "format": "csv"})
    assert response.status_code == 400
    assert "Interval must be one of day, week, month" in response.content.decode()


@pytest.mark.parametrize(
    "path, params, message",
    [
        ("/reports/trends/people", {"series": "0"}, "Date is needed: a date such as 2026-01-31"),
        ("/reports/trends/people", {"date": "2026-13-01"}, "Date must be a date such as 2026-01-31"),
        ("/reports/trends/people", {"date": "2020-01-01"}, "2020-01-01 is outside the report&#x27;s period."),
        ("/reports/trends/people", {"date": "2026-01-05", "count_by": "events"}, "A count of events has no people"),
        ("/reports/funnels/people", {"steps": "a,b"}, "Reached or dropped is needed"),
        ("/reports/funnels/people", {"steps": "a,b", "dropped": "1"}, "Dropped must be 2 or more"),
        ("/reports/retention/people", {"cohort_start": "2026-01-06", "period": "1", **FIRST_WEEK}, "is not the first day of a cohort"),
        ("/reports/cohorts-of-nothing/people", {}, None),
    ],
)  # fmt: skip
def test_a_list_behind_a_number_that_is_not_one_says_why(alice_client, workspace, path, params, message):
    response = alice_client.get(path, {**FIRST_WEEK, **params} if "from" not in params else params)
    if message is None:
        assert response.status_code == 404
        return
    assert response.status_code == 400
    assert message in response.content.decode()


def test_an_empty_report_says_what_to_do(alice_client, activity):  # noqa: F811
    html = page_of(
        alice_client.get("/reports/trends", {"event": "feature_used", "count_by": "team", **FIRST_WEEK})
    )
    assert "No feature_used events naming a team from Jan 5 – Jan 7, 2026" in html
    assert "report-table" not in html
    assert "Count users instead" in html and "Look at the last 90 days" in html
    assert "8 events from Jan 5 – Jan 7, 2026 carried no team and are not counted." in html


def test_a_workspace_without_events_shows_how_to_send_one(alice_client, workspace):
    html = page_of(alice_client.get("/reports/trends"))
    assert "<h1>Active users, per day</h1>" in html
    assert "No events yet" in html and "analytics.track(" in html


# --- Who may see what ------------------------------------------------------------------

PAGES = [
    "/reports/trends",
    "/reports/funnels?steps=signed_up,project_created",
    "/reports/retention",
    "/reports/trends/people?date=2026-01-05&from=2026-01-05&to=2026-01-07",
]


@pytest.mark.parametrize("path", PAGES)
def test_the_report_pages_need_a_login(client, workspace, path):
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_an_outsider_sees_only_their_own_workspace_in_reports(client, charlie, other_workspace, activity):  # noqa: F811
    client.force_login(charlie)
    html = page_of(client.get("/reports/trends", FIRST_WEEK))
    assert "No events yet" in html and "feature_used" not in html
    listing = page_of(
        client.get("/reports/trends/people", {"event": "feature_used", **FIRST_WEEK, "date": "2026-01-07"})
    )
    assert "0 users doing feature_used" in listing
    assert "bo@beta.io" not in listing
    csv_rows = csv_of(
        client.get("/reports/trends/people", {"event": "feature_used", **FIRST_WEEK, "date": "2026-01-07", "format": "csv"})
    )
    assert csv_rows == [["id", "user_id", "email", "name"]]
    # alice's group type "team" is not his.
    response = client.get("/reports/trends", {"count_by": "team"})
    assert response.status_code == 400


def test_someone_in_no_workspace_gets_a_404(client, charlie):
    client.force_login(charlie)
    for path in PAGES:
        assert client.get(path).status_code == 404


def test_a_member_reads_the_reports_of_the_workspace(client, bob, activity):  # noqa: F811
    client.force_login(bob)
    html = page_of(client.get("/reports/trends", {"event": "feature_used", **FIRST_WEEK}))
    assert ["Total each once over the period", "4"] in table(html)


# --- The page around the report ----------------------------------------------------------


def test_the_sidebar_leads_to_each_report(alice_client, workspace):
    html = page_of(alice_client.get("/reports/funnels", {"steps": "a,b"}))
    for name, path in (("Trends", "trends"), ("Funnels", "funnels"), ("Retention", "retention")):
        current = ' aria-current="page"' if name == "Funnels" else ""
        assert f'<a href="/reports/{path}" aria-describedby="nav-reports"{current}>{name}</a>' in html


@pytest.mark.parametrize("path", PAGES[:3])
def test_a_report_includes_the_save_control_and_the_cohort_field(alice_client, workspace, path):
    response = alice_client.get(path)
    names = {template.name for template in response.templates}
    assert {"analytics/report_save.html", "analytics/report_cohort_field.html"} <= names
    assert response.context["report_kind"] == path.split("/")[2].split("?")[0]


def test_htmx_gets_the_report_alone_at_its_own_url(alice_client, activity):  # noqa: F811
    headers = {"HX-Request": "true", "HX-Target": "report"}
    response = alice_client.get(
        "/reports/trends", {"event": "feature_used", "add": "event", **FIRST_WEEK, "form": ""}, headers=headers
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="report"') and "<aside" not in html
    assert response["HX-Push-Url"] == canonical(
        "/reports/trends", event=["feature_used", ""], interval="day", range="custom", **FIRST_WEEK,
        count_by="users", internal="exclude",
    )  # fmt: skip
    assert table(html)[0] == ["Day", "feature_used", "Any event"]
    # Settings that make no report: the form, swapped in, says why (htmx swaps no 400).
    error = alice_client.get("/reports/trends", {"interval": "hour"}, headers=headers)
    assert error.status_code == 200
    html = error.content.decode()
    assert html.lstrip().startswith('<div id="report"') and "interval must be one of" in html


def test_the_list_behind_a_number_pages_in_place_with_htmx(alice_client, send, workspace):
    send.batch(*(track(f"p{n:02d}", "seen", jan(5)) for n in range(60)))
    params = {**FIRST_WEEK, "event": "seen", "date": "2026-01-05"}
    html = page_of(alice_client.get("/reports/trends/people", params))
    assert "60 users doing seen on Mon, Jan 5, 2026" in html
    assert len(table(html, "data")) == 1 + 50
    response = alice_client.get(
        "/reports/trends/people", {**params, "page": "2"}, headers={"HX-Request": "true", "HX-Target": "actors-table"}
    )
    html = page_of(response)
    assert html.lstrip().startswith('<div class="table-container" id="actors-table"') and "<aside" not in html
    assert len(table(html, "data")) == 1 + 10
    assert "51–60 of 60" in html


# --- Queries: as many for 90 days as for 7, for 5 steps as for 2 -------------------------


def queries_for(client, path, params):
    with CaptureQueriesContext(connection) as queries:
        page_of(client.get(path, params))
    return len(queries)


@pytest.mark.parametrize(
    "path, small, large",
    [
        ("/reports/trends", {"event": "feature_used", **FIRST_WEEK},
         {"event": "feature_used", "from": "2025-11-01", "to": "2026-01-31"}),
        ("/reports/trends", {"event": "feature_used", "from": "2026-01-05", "to": "2026-01-06", "compare": "1"},
         {"event": "feature_used", "from": "2025-10-01", "to": "2026-01-31", "compare": "1"}),
        ("/reports/funnels", {"steps": "signed_up,login", **FIRST_WEEK},
         {"steps": "signed_up,login,a,b,feature_used", "range": "90d"}),
        ("/reports/retention", {"start_event": "signed_up", "periods": "2", **FIRST_WEEK},
         {"start_event": "signed_up", "periods": "12", "from": "2025-11-01", "to": "2026-01-31", "interval": "day"}),
        ("/reports/retention/people", {**FIRST_WEEK, "cohort_start": "2026-01-05", "period": "1"},
         {"from": "2025-10-06", "to": "2026-01-31", "cohort_start": "2026-01-05", "period": "1"}),
    ],
)  # fmt: skip
def test_a_report_makes_as_many_queries_however_long(alice_client, activity, retention_data, path, small, large):  # noqa: F811
    for params in (small, large):
        params.update(count_by="company")
    # The first report after calls were stored brings what it reads up to date first (with
    # ClickHouse, its rollups and copy of the memberships): a few queries more, once.
    queries_for(alice_client, path, small)
    assert queries_for(alice_client, path, small) == queries_for(alice_client, path, large)


def test_the_people_behind_a_number_take_as_many_queries_for_a_page_of_many(alice_client, send, workspace):
    def many(n, offset):
        return [track(f"p{offset + i}", "seen", jan(5)) for i in range(n)]

    # With ClickHouse, the events queued stored first: the page's first read would.
    send.batch(*many(3, 0))
    event_store.flush_queued()
    params = {**FIRST_WEEK, "event": "seen", "date": "2026-01-05"}
    few = queries_for(alice_client, "/reports/trends/people", params)
    send.batch(*many(40, 100))
    event_store.flush_queued()
    assert queries_for(alice_client, "/reports/trends/people", params) == few
    assert sum(event.name == "seen" for event in stored_events(workspace)) == 43


# --- What the pages ask of the report core besides the reports ---------------------------


def test_events_without_a_group_of_the_type_are_counted_for_each_report(activity, workspace):  # noqa: F811
    def uncounted(kind, **params):
        query = getattr(reports, f"{kind}_from_params")
        data = QueryDict(mutable=True)
        for name, value in {**FIRST_WEEK, **params}.items():
            data.setlist(name, value if isinstance(value, list) else [value])
        return reports.events_without_group(workspace, query(workspace, data))

    # ann's feature_used before joining, cy's naming neither company, eve's (dee's is internal).
    assert uncounted("trend", event="feature_used", count_by="company") == 3
    assert uncounted("funnel", steps="feature_used,other", count_by="company") == 3
    # Any event: eve's page view too.
    assert uncounted("retention", count_by="company") == 4
    assert uncounted("trend", event="feature_used", count_by="company", internal="include") == 3
    assert uncounted("trend", event="feature_used") is None  # users: nothing left out


def test_internal_people_are_counted_by_their_domains(activity, workspace):  # noqa: F811
    assert reports.internal_people_count(workspace) == 1
    workspace.internal_domains = ["staff.dev", "beta.io"]
    assert reports.internal_people_count(workspace) == 2
    workspace.internal_domains = []
    assert reports.internal_people_count(workspace) == 0


def test_the_events_sent_most_are_counted_among_the_latest(send, workspace):
    now = timezone.now()
    period = reports.Period.preset_ending("30d", now.date())
    send.batch(
        *(track("a", "old", (now - timedelta(days=2, minutes=n)).isoformat()) for n in range(5)),
        *(track("b", "new", (now - timedelta(hours=1, minutes=n)).isoformat()) for n in range(3)),
        track("c", "newest", (now - timedelta(minutes=1)).isoformat()),
    )
    assert reports.most_sent_events(workspace, period, limit=2) == ["old", "new"]
    # Among the latest four calls only: three of new, one of newest.
    assert reports.most_sent_events(workspace, period, limit=2, sample=4) == ["new", "newest"]
