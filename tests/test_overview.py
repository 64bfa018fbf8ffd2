"""The overview at /: active users and companies today, over 7 and 30 days (strict beside
the over-count), the top events, the newest companies and the pinned reports' charts, on
the hand-worked workspace of tests/overview_data.py."""

import json
import re
from datetime import date
from html import unescape
from urllib.parse import urlsplit

import pytest
from calls import jan, join, march, track, track_in
from conftest import set_time_zone
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from analytics import reports
from analytics.models import SavedReport


def counts(workspace, group_type):
    found = reports.active_counts(workspace, group_type, (1, 7, 30))
    return {
        "days": [c.days for c in found],
        "users": [c.users for c in found],
        "strict": [c.strict for c in found],
        "overcount": [c.overcount for c in found],
        "events": [c.events for c in found],
        "without": [c.events_without_group for c in found],
    }


@pytest.mark.both_stores
def test_active_counts_of_today_7_and_30_days(overview_data, company):
    assert counts(overview_data, company) == {
        "days": [1, 7, 30],
        "users": [2, 4, 4],
        "strict": [1, 2, 3],
        # cy left delta on 1 March: his event of the 13th is not credited to delta.
        "overcount": [2, 4, 5],
        "events": [2, 7, 9],
        "without": [1, 3, 4],
    }


@pytest.mark.both_stores
def test_the_windows_end_today_in_the_workspace_time_zone(overview_data):
    windows = reports.active_counts(overview_data, None, (1, 7, 30))
    assert [(c.start, c.end) for c in windows] == [
        (date(2026, 3, 15), date(2026, 3, 15)),
        (date(2026, 3, 9), date(2026, 3, 15)),
        (date(2026, 2, 14), date(2026, 3, 15)),
    ]
    # In UTC eve's page view (03:00 UTC on the 15th) would be today's: a third user,
    # once the owner changes the time zone in the settings.
    set_time_zone(overview_data, "UTC")
    assert reports.active_counts(overview_data, None, (1,))[0].users == 3


@pytest.mark.both_stores
def test_counting_users_only_gives_no_company_figures(overview_data):
    today, week, month = reports.active_counts(overview_data, None, (1, 7, 30))
    assert (today.users, week.users, month.users) == (2, 4, 4)
    assert today.strict is None and today.overcount is None


@pytest.mark.both_stores
def test_internal_people_count_once_no_internal_domain_is_set(overview_data, company):
    overview_data.internal_domains = []
    overview_data.save()
    today = reports.active_counts(overview_data, company, (1,))[0]
    # dee's event names acme, already active today: one more user and event, no company.
    assert (today.users, today.strict, today.overcount, today.events) == (3, 1, 2, 3)


@pytest.mark.both_stores
def test_the_top_events_of_the_last_30_days(overview_data):
    base = reports.trend_from_params(overview_data, QueryDict("range=30d"))
    top = reports.top_events(overview_data, base)
    assert [(e.event, e.label, e.events, e.users) for e in top] == [
        ("Report Viewed", "Report Viewed", 5, 3),
        ("Export", "Export", 2, 2),
        ("$page", "Page viewed", 1, 1),
        ("Account Removed User", "Account Removed User", 1, 1),
    ]


# --- the page -------------------------------------------------------------------------


@pytest.mark.both_stores
def test_the_overview_shows_the_figures(overview_data, alice_client):
    response = alice_client.get("/", {"figures": "1"})
    assert response.status_code == 200
    overview = response.context["overview"]
    assert [(f.label, f.value, f.overcount) for f in overview.groups.figures] == [
        ("Today", 1, 2), ("Last 7 days", 2, 4), ("Last 30 days", 3, 5)
    ]
    assert [(f.label, f.value) for f in overview.users] == [
        ("Today", 2), ("Last 7 days", 4), ("Last 30 days", 4)
    ]
    page = text_of(response)
    assert "Active companies" in page and "Active users" in page
    assert "4 of 9 events in the last 30 days carried no company." in page
    assert "over-count 5" in page


@pytest.mark.both_stores
def test_every_figure_opens_a_report_that_gives_the_same_number(overview_data, alice_client):
    overview = alice_client.get("/", {"figures": "1"}).context["overview"]
    for figure in overview.users + overview.groups.figures:
        path, query = report_of(overview_data, figure.url)
        assert path == "/reports/trends"
        (series,) = reports.trends(overview_data, query).series
        assert series.total == figure.value, figure
    (series,) = reports.trends(overview_data, report_of(overview_data, overview.events_url)[1]).series
    assert series.total == overview.month.events == 9
    for top in overview.top_events:
        for url, expected in ((top.users_url, top.count.users), (top.events_url, top.count.events)):
            (series,) = reports.trends(overview_data, report_of(overview_data, url)[1]).series
            assert series.total == expected, top


@pytest.mark.both_stores
def test_the_over_count_links_to_the_users_in_several_companies(overview_data, alice_client):
    page = alice_client.get("/", {"figures": "1"}).content.decode()
    assert 'href="/people?several=1"' in page
    banner = alice_client.get("/people?several=1").content.decode()
    assert "Bo Brown" in banner and "Cy Cole" in banner


@pytest.mark.both_stores
def test_no_over_count_no_link_to_the_banner(frozen_now, send, workspace, company, alice_client):
    send.batch(
        join("ann", "acme", march(1)),
        track("ann", "Report Viewed", march(15, 13)),
        track("ann", "Report Viewed", march(14, 13)),
    )
    response = alice_client.get("/", {"figures": "1"})
    overview = response.context["overview"]
    assert [(f.value, f.overcount) for f in overview.groups.figures] == [(1, 1), (1, 1), (1, 1)]
    page = text_of(response)
    assert "no over-count" in page
    assert "0 of 2 events in the last 30 days carried no company." in page
    assert "several=1" not in response.content.decode()


@pytest.mark.both_stores
def test_no_company_active_says_why_rather_than_zeros(frozen_now, send, workspace, company, alice_client):
    send.batch(
        join("ann", "acme", march(1)),
        join("bo", "beta", jan(2)),
        track("bo", "Report Viewed", jan(20)),  # beta's, before the 30 days
        track("eve", "Report Viewed", march(15, 13)),  # in no company
    )
    response = alice_client.get("/", {"figures": "1"})
    assert response.context["overview"].groups.none_active
    card = text_of_html(response.content.decode().split('id="active-groups"')[1].split("</section>")[0])
    assert "No company was active in the last 30 days. 1 event in those days; none carried a company" in card
    assert "over-count" not in card


@pytest.mark.both_stores
def test_the_top_events_link_to_their_trends(overview_data, alice_client):
    page = alice_client.get("/", {"figures": "1"}).content.decode()
    rows = re.findall(r'<td><a href="([^"]+)">([^<]+)</a></td>', page)
    assert [unescape(name) for _, name in rows] == [
        "Report Viewed", "Export", "Page viewed", "Account Removed User"
    ]
    path, query = report_of(overview_data, unescape(rows[2][0]))
    assert path == "/reports/trends" and query.events == ("$page",)


def test_the_newest_companies_link_to_their_profiles(overview_data, alice_client):
    response = alice_client.get("/", {"figures": "1"})
    newest = response.context["overview"].newest_groups
    assert [(g.key, g.member_count) for g in newest] == [
        ("zeta", 1), ("epsilon", 1), ("delta", 0), ("gamma", 1), ("beta", 1), ("acme", 3)
    ]
    page = response.content.decode()
    assert '<a href="/groups/company/zeta">Zeta Labs</a>' in page
    assert '<a href="/groups/company/acme">3</a>' in page


def test_the_overview_links_into_the_reports(overview_data, alice_client):
    page = alice_client.get("/", {"figures": "1"}).content.decode()
    for kind in ("trends", "funnels", "retention"):
        assert f'href="/reports/{kind}"' in page
    assert 'href="/reports"' in page


def test_a_new_workspace_is_told_how_to_send_events(workspace, client, alice, bob):
    client.force_login(alice)
    response = client.get("/", {"figures": "1"})
    page = text_of(response)
    assert "No events yet" in page
    assert workspace.write_key in page
    assert 'href="/settings/api-keys"' in response.content.decode()
    assert response.context["overview"].users == []
    client.force_login(bob)  # a member cannot open the API keys: told who can
    response = client.get("/", {"figures": "1"})
    assert 'href="/settings/api-keys"' not in response.content.decode()
    assert "An admin or owner of Acme Analytics finds the snippets" in text_of(response)


def test_an_outsider_sees_only_their_own_workspace(overview_data, client, charlie, other_workspace):
    client.force_login(charlie)
    response = client.get("/", {"figures": "1"})
    assert response.status_code == 200
    page = response.content.decode()
    for mark in ("Acme Inc", "Account Removed User", "Zeta Labs", overview_data.write_key):
        assert mark not in page
    assert "No events yet" in page


def test_logging_in_lands_on_the_overview(client, alice, workspace):
    response = client.post(
        "/login/", {"username": alice.email, "password": "alice-password-1"}, follow=True
    )
    assert response.redirect_chain[-1][0] == "/"
    assert response.context["section"] == "overview"


# --- pinned reports ---------------------------------------------------------------------

PINNED = {
    "trends": "event=Report+Viewed&interval=day&range=custom&from=2026-03-09&to=2026-03-15&count_by=users",
    "funnels": "step=Report+Viewed&step=Export&range=custom&from=2026-03-01&to=2026-03-15",
    "retention": (
        "start_event=Report+Viewed&return_event=&interval=week&periods=2"
        "&range=custom&from=2026-02-16&to=2026-03-15"
    ),
}


def pin_all(workspace, user):
    pinned = {}
    for kind, query in PINNED.items():
        saved = SavedReport.create(workspace=workspace, kind=kind, name=f"My {kind}", query=query, user=user)
        saved.pin()
        pinned[kind] = saved
    return pinned


def chart_data(page, element_id):
    found = re.search(rf'<script id="{element_id}" type="application/json">(.*?)</script>', page, re.S)
    assert found, f"no chart {element_id} on the page"
    return json.loads(found[1])


def test_pinned_reports_show_their_charts(overview_data, alice, alice_client):
    pinned = pin_all(overview_data, alice)
    page = alice_client.get("/", {"figures": "1"}).content.decode()
    # ann on the 10th, cy on the 13th (in New York), ann and bo today.
    assert chart_data(page, f"pinned-report-{pinned['trends'].pk}") == {
        "kind": "line",
        "labels": ["Mar 9", "Mar 10", "Mar 11", "Mar 12", "Mar 13", "Mar 14", "Mar 15"],
        "percent": False,
        "series": [{"label": "Report Viewed", "values": [0, 1, 0, 0, 1, 0, 2], "dashed": False}],
    }
    # ann, bo and cy viewed a report; only ann exported after it (bo exported before).
    assert chart_data(page, f"pinned-report-{pinned['funnels'].pk}") == {
        "kind": "bar",
        "labels": ["Report Viewed", "Export"],
        "percent": False,
        "series": [{"label": "Users", "values": [3, 1], "dashed": False}],
    }
    # Cohorts: cy (week of 16 Feb, back the week after, not the one after that), ann and
    # bo (week of 9 March, whose next weeks are not over).
    assert chart_data(page, f"pinned-report-{pinned['retention'].pk}") == {
        "kind": "line",
        "labels": ["Week 0", "Week 1", "Week 2"],
        "percent": True,
        "series": [{"label": "Retained", "values": [100.0, 100.0, 0.0], "dashed": False}],
    }
    text = text_of_html(page)
    assert "Report Viewed 3 users" in text
    assert "Entered 3 users Converted 1 (33.3%)" in text
    assert "Started 3 users Back after 1 week 100%" in text
    for saved in pinned.values():
        assert f'href="{saved.get_absolute_url().replace("&", "&amp;")}"' in page


def test_pinned_reports_show_in_their_order_and_unpinned_ones_do_not(overview_data, alice, alice_client):
    pinned = pin_all(overview_data, alice)
    pinned["trends"].unpin()
    pinned["trends"].pin()  # now last
    overview = alice_client.get("/", {"figures": "1"}).context["overview"]
    assert [p.report.kind for p in overview.pinned] == ["funnels", "retention", "trends"]
    pinned["funnels"].unpin()
    overview = alice_client.get("/", {"figures": "1"}).context["overview"]
    assert [p.report.kind for p in overview.pinned] == ["retention", "trends"]


def test_pinned_reports_move_from_the_overview_for_whom_may_move_them(
    overview_data, alice, bob, client
):
    pinned = pin_all(overview_data, alice)
    client.force_login(alice)
    page = client.get("/", {"figures": "1"}).content.decode()
    moves = re.findall(r'action="/reports/saved/(\d+)/move".*?name="direction" value="(\w+)"', page, re.S)
    ids = [str(pinned[kind].pk) for kind in ("trends", "funnels", "retention")]
    assert moves == [(ids[0], "later"), (ids[1], "earlier"), (ids[1], "later"), (ids[2], "earlier")]
    client.force_login(bob)  # a member, whose reports these are not
    assert "/move" not in client.get("/", {"figures": "1"}).content.decode()


def test_a_pinned_report_that_no_longer_reads_says_why(overview_data, alice, alice_client):
    saved = SavedReport.objects.create(
        workspace=overview_data, kind="trends", name="By project", query="count_by=project", created_by=alice
    )
    saved.pin()
    page = text_of(alice_client.get("/", {"figures": "1"}))
    assert "This report cannot be shown: count_by: this workspace has no group type “project”" in page


def test_the_overview_costs_the_same_queries_whatever_the_data(overview_data, alice, alice_client, send):
    pin_all(overview_data, alice)
    with CaptureQueriesContext(connection) as small:
        assert alice_client.get("/", {"figures": "1"}).status_code == 200
    more = []
    for n in range(30):
        more += [
            join(f"u{n}", f"co{n}", march(2 + n % 10)),
            join(f"u{n}", f"co{n + 1}", march(2 + n % 10, 13)),
            track(f"u{n}", f"Event {n % 12}", march(5 + n % 10)),
            track_in(f"u{n}", f"co{n}", march(5 + n % 10, 14)),
            track(f"u{n}", "Export", march(6 + n % 9, 15)),
        ]
    assert send.batch(*more).status_code == 200
    with CaptureQueriesContext(connection) as large:
        assert alice_client.get("/", {"figures": "1"}).status_code == 200
    assert len(large) == len(small), [q["sql"][:120] for q in large.captured_queries]
    # A pinned report costs its own report's queries: without the three, fewer.
    SavedReport.objects.update(pinned=False, position=None)
    with CaptureQueriesContext(connection) as unpinned:
        alice_client.get("/", {"figures": "1"})
    # The session, the account, its workspaces, the group types, whether any event came,
    # the active counts (4: the types, who was active, the events with and without a
    # company, the groups' days), the top events (2), the newest companies, the pinned
    # reports.
    assert len(unpinned) == 13 < len(large)
    # Who was active and the top events load after the page, side by side: six of those
    # queries go to the requests that load them (4 and 2), each of which also reads the
    # session, the account and its workspaces, and the first the default type.
    with CaptureQueriesContext(connection) as page:
        alice_client.get("/")
    with CaptureQueriesContext(connection) as activity:
        alice_client.get("/overview/activity")
    with CaptureQueriesContext(connection) as top_events:
        alice_client.get("/overview/top-events")
    assert (len(page), len(activity), len(top_events)) == (7, 8, 5)


@pytest.mark.both_stores
def test_who_was_active_and_the_top_events_load_after_the_page(overview_data, alice_client):
    page = alice_client.get("/").content.decode()
    figures = page.split('id="overview-figures"')[1].split("</div>\n</div>")[0]
    assert 'hx-get="/overview/activity" hx-trigger="load" hx-target="this" hx-swap="outerHTML"' in figures
    assert 'class="figure-value"' not in page
    assert '<noscript><p><a href="?figures=1">Count who was active</a></p></noscript>' in figures
    assert "Counting the events done most in the last 30 days" in page
    top_events = page.split('id="top-events"')[1].split("</section>")[0]
    assert 'aria-busy="true"' in top_events and 'aria-busy="true"' in figures
    assert 'hx-get="/overview/top-events" hx-trigger="load" hx-target="this" hx-swap="outerHTML"' in top_events
    loaded = alice_client.get("/overview/activity", headers={"HX-Request": "true"}).content.decode()
    assert loaded.lstrip().startswith('<div class="overview-figures" id="overview-figures">')
    assert 'id="top-events"' not in loaded
    loaded_top = alice_client.get("/overview/top-events", headers={"HX-Request": "true"}).content.decode()
    assert loaded_top.lstrip().startswith('<section class="card" id="top-events" aria-labelledby="top-events-title">')
    assert "hx-get" not in loaded_top and 'class="figure-value"' not in loaded_top
    full = alice_client.get("/", {"figures": "1"}).content.decode()
    # With both in the page, neither loads again.
    assert "hx-get" not in full.split('id="top-events"')[1].split("</section>")[0]
    assert "hx-get" not in full.split('id="overview-figures"')[1].split('id="top-events"')[0]
    values = re.compile(r'class="figure-value"[^>]*>([^<]*)<')
    assert values.findall(loaded) == values.findall(full) and len(values.findall(full)) == 6
    top = re.compile(r'<td><a href="([^"]+)">([^<]*)</a></td>')
    assert top.findall(loaded_top) == top.findall(full) and top.findall(full)


# --- helpers ----------------------------------------------------------------------------


def report_of(workspace, url):
    """The path of a report URL and the query the report reads from it."""
    parts = urlsplit(url)
    kind = parts.path.rsplit("/", 1)[1]
    return parts.path, reports.FROM_PARAMS[kind](workspace, QueryDict(parts.query))


def text_of_html(html):
    text = re.sub(r"<script.*?</script>|<style.*?</style>", " ", html, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    return re.sub(r"\s+", " ", unescape(text)).strip()


def text_of(response):
    return text_of_html(response.content.decode())
