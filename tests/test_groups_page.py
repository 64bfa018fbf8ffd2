"""The groups browser: a tab per group type, the table, and the group profile."""

import re
from datetime import date
from html import unescape
from urllib.parse import urlsplit

import pytest
from calls import feb, join, march, page_view, track
from conftest import set_time_zone
from django.http import QueryDict

from analytics import reports
from analytics.models import Cohort, Condition, GroupType, Role, Workspace


def companies(send, n, **traits):
    send.batch(
        *(
            {"type": "group", "userId": f"u{i}", "groupId": f"co-{i:03d}",
             "traits": {"name": f"Company {i:03d}", **traits}, "timestamp": f"2026-01-01T00:{i % 60:02d}:00Z"}
            for i in range(n)
        )
    )


def test_groups_opens_the_first_type(alice_client):
    response = alice_client.get("/groups")
    assert response.status_code == 302
    assert response["Location"] == "/groups/company"


def test_tab_per_group_type_with_counts(alice_client, send):
    companies(send, 3)
    send.batch({"type": "group", "userId": "u1", "groupId": "growth", "context": {"groupType": "team"}})
    page = alice_client.get("/groups/company").content.decode()
    assert 'href="/groups/company"' in page and 'href="/groups/team"' in page
    assert 'aria-selected="true">Companies <span class="n">3</span>' in page
    assert 'aria-selected="false">Teams <span class="n">1</span>' in page
    assert "co-000" in page and "growth" not in page.split("<table")[1]


def test_table_shows_key_properties_last_updated_and_members(alice_client, send):
    send.batch(
        {"type": "group", "userId": "u1", "groupId": "acme", "timestamp": "2026-03-04T05:06:00Z",
         "traits": {"name": "Acme", "plan": "pro", "seats": 10, "industry": "Retail", "employees": 50}},
        {"type": "group", "userId": "u2", "groupId": "acme", "timestamp": "2026-03-04T05:06:00Z"},
    )
    page = alice_client.get("/groups/company").content.decode()
    row = page.split('<a href="/groups/company/acme">')[1].split("</tr>")[0]
    assert "Acme" in row
    # The name leads the row; the summary gives the first three other properties.
    assert "<b>name</b>" not in row
    assert "<b>plan</b> pro" in row and "<b>seats</b> 10" in row and "<b>industry</b> Retail" in row
    assert "employees" not in row.split("+1 more")[0]
    assert "+1 more" in row
    assert '<time datetime="2026-03-04T05:06:00+00:00" title="Wed, Mar 4, 2026, 05:06:00 UTC">' in row
    assert '<td class="num">2</td>' in row


def test_long_property_values_are_truncated(alice_client, send):
    send.batch({"type": "group", "userId": "u1", "groupId": "acme", "traits": {"note": "x" * 200}})
    page = alice_client.get("/groups/company").content.decode()
    assert "x" * 200 not in page.split("<table")[1].split("title=")[0]
    assert "x" * 31 + "…" in page


def test_search_by_key_or_name(alice_client, send):
    companies(send, 3)
    send.batch({"type": "group", "userId": "u9", "groupId": "zz-9", "traits": {"name": "Initech"}})
    page = alice_client.get("/groups/company", {"q": "initech"}).content.decode()
    assert "zz-9" in page and "co-001" not in page
    page = alice_client.get("/groups/company", {"q": "CO-00"}).content.decode()
    assert "co-001" in page and "zz-9" not in page


def test_pages_of_fifty(alice_client, send):
    companies(send, 55)
    first = alice_client.get("/groups/company").content.decode()
    assert first.count('<td class="key">') == 50
    assert "1–50 of 55" in first
    second = alice_client.get("/groups/company", {"page": 2}).content.decode()
    assert second.count('<td class="key">') == 5


def test_sort_by_members(alice_client, send):
    send.batch(
        *({"type": "group", "userId": f"u{i}", "groupId": "big"} for i in range(3)),
        {"type": "group", "userId": "u9", "groupId": "small"},
    )
    ascending = alice_client.get("/groups/company", {"sort": "member_count"}).content.decode()
    assert ascending.index("/groups/company/small") < ascending.index("/groups/company/big")
    descending = alice_client.get("/groups/company", {"sort": "-member_count"}).content.decode()
    assert descending.index("/groups/company/big") < descending.index("/groups/company/small")


def test_htmx_table_request_gets_the_table_only(alice_client, send):
    companies(send, 3)
    response = alice_client.get(
        "/groups/company", {"q": "co-001"}, headers={"HX-Request": "true", "HX-Target": "groups-table"}
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div class="table-container" id="groups-table"')
    assert "co-001" in html and "<html" not in html


def test_htmx_tab_switch_gets_the_panel_with_its_tabs(alice_client, send):
    send.batch({"type": "group", "userId": "u1", "groupId": "growth", "context": {"groupType": "team"}})
    html = alice_client.get(
        "/groups/team", headers={"HX-Request": "true", "HX-Target": "groups-panel"}
    ).content.decode()
    assert html.lstrip().startswith('<div id="groups-panel">')
    assert 'aria-selected="true">Teams' in html and "growth" in html and "<html" not in html


@pytest.mark.parametrize("target", ["groups-panel", "groups-table"])
def test_history_restore_gets_the_whole_page(alice_client, send, target):
    send.batch(
        {"type": "group", "userId": "u1", "groupId": "growth", "context": {"groupType": "team"}}
    )
    html = alice_client.get(
        "/groups/team",
        headers={"HX-Request": "true", "HX-Target": target, "HX-History-Restore-Request": "true"},
    ).content.decode()
    assert html.startswith("<!doctype html>") and html.rstrip().endswith("</html>")
    sidebar = html.split('<aside class="sidebar">')[1].split("</aside>")[0]
    assert '<a href="/groups" aria-current="page">Groups</a>' in sidebar
    assert '<a href="/people">People</a>' in sidebar
    main = html.split('<main class="main" id="main">')[1]
    assert "<h1>Groups</h1>" in main
    assert main.count('<div id="groups-panel">') == 1
    tabs = main.split('<nav class="tabs"')[1].split("</nav>")[0]
    assert 'aria-selected="false">Companies' in tabs and 'aria-selected="true">Teams' in tabs
    table = main.split('id="groups-table"')[1].split("</table>")[0]
    assert '<a href="/groups/team/growth" class="mono" title="Key: growth">growth</a>' in table
    assert main.count('id="groups-count"') == 1


def test_empty_type_tells_how_to_send_a_group_call(alice_client, workspace):
    page = alice_client.get("/groups/team").content.decode()
    assert "No teams yet" in page
    assert workspace.write_key in page
    assert "analytics.group(" in page and '"groupType": "team"' in page


def test_unknown_type_is_404(alice_client):
    assert alice_client.get("/groups/planet").status_code == 404


def test_outsider_sees_nothing(client, charlie, workspace, send):
    companies(send, 1)
    client.force_login(charlie)
    assert client.get("/groups/company").status_code == 404
    assert client.get("/groups/company/co-000").status_code == 404


def test_outsider_with_a_workspace_of_their_own_cannot_open_alices_groups(client, charlie, other_workspace, send):
    companies(send, 1)
    client.force_login(charlie)
    assert client.get("/groups/company/co-000").status_code == 404
    assert "co-000" not in client.get("/groups/company").content.decode()


def test_logged_out_visitor_is_sent_to_log_in(client):
    response = client.get("/groups/company")
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_groups_page_takes_seven_queries_and_its_card_six_whatever_the_page_size_and_the_activity(
    alice_client, send, django_assert_num_queries
):
    companies(send, 60)
    # The session, the user, the membership with its workspace, the group types with
    # their counts, the table's count and its page of groups, the type's cohorts to
    # filter by. The active companies' card, loaded after the page, takes the first three
    # and the type,
    # then reports.active_counts' three (the types, the days, the groups' days).
    def pinned(activity):
        for per_page in (5, 50):
            with django_assert_num_queries(7, info=f"activity: {activity}, per_page={per_page}"):
                assert alice_client.get("/groups/company", {"per_page": per_page}).status_code == 200
        with django_assert_num_queries(7, info=f"activity: {activity}, the card"):
            assert "figure-card" in card_page(alice_client, "/groups/company")

    pinned("none")
    send.batch(
        *({"type": "track", "userId": f"u{i}", "event": "Report Viewed"} for i in range(0, 60, 3)),
        {"type": "group", "userId": "u1", "groupId": "co-002"},
        {"type": "track", "userId": "u1", "event": "Export"},  # in two companies: over-counted
    )
    pinned("some")


def test_switching_workspace_is_remembered(client, bob, workspace, alice):
    second, _ = Workspace.create(name="Beta", owner=alice, group_types=("account",))
    second.add_member(bob, Role.MEMBER)
    client.force_login(bob)
    assert client.get("/groups").headers["Location"] == "/groups/company"
    client.post("/workspace", {"workspace": second.slug})
    assert client.get("/groups").headers["Location"] == "/groups/account"
    bob.refresh_from_db()
    assert bob.last_workspace == second


def test_cannot_switch_to_someone_elses_workspace(client, charlie, workspace, other_workspace):
    client.force_login(charlie)
    assert client.post("/workspace", {"workspace": workspace.slug}).status_code == 404


# --- names, counts and numbers --------------------------------------------------------


def test_the_name_leads_and_the_key_is_under_it(alice_client, send):
    send.batch(
        {"type": "group", "userId": "u1", "groupId": "acc_8f3a", "traits": {"name": "Acme Inc"}},
        {"type": "group", "userId": "u2", "groupId": "acc_nameless"},
    )
    table = alice_client.get("/groups/company").content.decode().split('id="groups-table"')[1]
    assert (
        '<td class="key"><a href="/groups/company/acc_8f3a">Acme Inc</a>'
        '<div class="muted mono" title="Key: acc_8f3a">acc_8f3a</div></td>'
    ) in table
    # Without a name, the key is the link.
    assert '<a href="/groups/company/acc_nameless" class="mono" title="Key: acc_nameless">acc_nameless</a>' in table
    headers = table.split("<thead")[1].split("</thead>")[0]
    assert "Name / Key" in headers and "Properties" in headers and "Last updated" in headers
    assert ">Type<" not in headers  # the tab names the type


def count_shown(html):
    return html.split('id="groups-count"')[1].split(">", 1)[1].split("</span>")[0]


def test_the_count_says_how_many_of_all_a_search_finds(alice_client, send):
    companies(send, 12)
    page = alice_client.get("/groups/company").content.decode()
    assert count_shown(page) == "12 companies"
    page = alice_client.get("/groups/company", {"q": "Company 00"}).content.decode()
    assert count_shown(page) == "10 of 12 companies"
    page = alice_client.get("/groups/company", {"q": "Company 011"}).content.decode()
    assert count_shown(page) == "1 of 12 companies"


def test_the_count_follows_the_search_as_you_type(alice_client, send):
    companies(send, 12)
    html = alice_client.get(
        "/groups/company", {"q": "Company 01"}, headers={"HX-Request": "true", "HX-Target": "groups-table"}
    ).content.decode()
    # The table, and the count beside the search box swapped out of band.
    assert html.lstrip().startswith('<div class="table-container" id="groups-table"')
    assert '<span class="count" id="groups-count" role="status" hx-swap-oob="true">2 of 12 companies</span>' in html


def test_the_count_is_not_swapped_out_of_band_with_a_whole_panel(alice_client, send):
    companies(send, 3)
    html = alice_client.get(
        "/groups/company", headers={"HX-Request": "true", "HX-Target": "groups-panel"}
    ).content.decode()
    assert html.count('id="groups-count"') == 1 and "hx-swap-oob" not in html


def test_the_count_uses_the_types_own_names(alice_client, send, company):
    company.singular, company.plural = "Account", "Accounts"
    company.save()
    companies(send, 2)
    assert count_shown(alice_client.get("/groups/company").content.decode()) == "2 accounts"
    assert count_shown(alice_client.get("/groups/company", {"q": "001"}).content.decode()) == "1 of 2 accounts"


def test_a_search_that_finds_nothing_says_so_and_leads_back(alice_client, send):
    companies(send, 3)
    page = alice_client.get("/groups/company", {"q": "initech"}).content.decode()
    assert count_shown(page) == "0 of 3 companies"
    table = page.split('id="groups-table"')[1]
    assert 'No company matches “initech”. <a href="/groups/company">Show all companies</a>' in table


def test_counts_have_thousands_separators(alice_client, company):
    from analytics.models import Group

    Group.objects.bulk_create(
        Group(workspace=company.workspace, group_type=company, key=f"k{n:04d}") for n in range(1200)
    )
    Group.objects.filter(key="k0000").update(member_count=12345, last_updated="2026-01-01T00:00Z")
    page = alice_client.get("/groups/company").content.decode()
    assert 'Companies <span class="n">1,200</span>' in page
    assert count_shown(page) == "1,200 companies"
    assert "1–50 of 1,200" in page
    assert '<td class="num">12,345</td>' in page


# --- active groups --------------------------------------------------------------------
#
# The clock stands at Sunday 15 March 2026, 16:00 UTC (frozen_now); the workspace is in
# Paris (UTC+1 then), so today began on the 14th at 23:00 UTC, the 7 days on the 9th and
# the 30 days on 14 February.
#
# - ann is in acme and team growth: a Report Viewed on the 14th at 23:30 UTC (today in
#   Paris, not in UTC) naming nothing, so it takes her one company and one team.
# - bo is in acme and beta, teams growth and core: a Report Viewed today naming nothing
#   (no company, no team: several of each), an Export on the 12th naming beta.
# - cy is in gamma, delta and epsilon: leaves delta on 1 March (Account Removed User
#   naming delta), then a Report Viewed on the 10th naming nothing: gamma and epsilon.
# - dan is in nothing: a page view today. Eve's Signed Up naming acme on 1 February is
#   older than the 30 days.
#
# Companies, today / 7 days / 30 days: strict 1 (acme) / 2 (+ beta) / 3 (+ delta);
# over-count 2 (+ beta, bo's today) / 4 (+ gamma, epsilon) / 5 (+ delta); events 3 / 5 /
# 6, of which without a company 2 / 3 / 3. Teams: strict 1 (growth) each time, over-count
# 2 (+ core, bo's today); without a team 2 / 4 / 5 (bo's Export, cy's two).

# Who is in which company and which team, since 1 February.
COMPANIES = [("ann", "acme"), ("bo", "acme"), ("bo", "beta"), ("eve", "acme"),
             ("cy", "gamma"), ("cy", "delta"), ("cy", "epsilon")]
TEAMS = [("ann", "growth"), ("bo", "growth"), ("bo", "core")]


@pytest.fixture
def active_data(frozen_now, send, workspace):
    workspace.time_zone = "Europe/Paris"
    workspace.save()
    response = send.batch(
        *(join(user, key, feb(1), group_type="company") for user, key in COMPANIES),
        *(join(user, key, feb(1), group_type="team") for user, key in TEAMS),
        track("ann", "Report Viewed", march(14, 23, 30)),
        track("bo", "Report Viewed", march(15, 10)),
        track("bo", "Export", march(12), groups={"company": "beta"}),
        track("cy", "Account Removed User", march(1), groups={"company": "delta"}),
        track("cy", "Report Viewed", march(10)),
        page_view("dan", "Pricing", march(15, 9)),
        track("eve", "Signed Up", feb(1), groups={"company": "acme"}),
    )
    assert response.status_code == 200, response.content
    return workspace


def active_card(html):
    return html.split('id="active-groups"')[1].split("</section>")[0]


def card_page(client, path):
    """The active groups' card of the tab at ``path``, as it loads it after itself."""
    response = client.get(path.replace("/groups/", "/active-groups/"), headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.content.decode()


def figures_shown(html):
    """(label, figure, what the note under it says) of the active groups' card."""
    card = active_card(html)
    labels = re.findall(r'<div class="figure-label">([^<]*)</div>', card)
    values = re.findall(r'<a class="figure-value"[^>]*>([^<]*)</a>', card)
    notes = [re.sub(r"<[^>]+>", "", note) for note in re.findall(r'<div class="figure-note">(.*?)</div>', card)]
    return list(zip(labels, values, notes, strict=True))


def text_of(html):
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def test_the_tab_shows_its_active_groups_strictly_beside_the_over_count(alice_client, active_data):
    page = card_page(alice_client, "/groups/company")
    assert figures_shown(page) == [
        ("Today", "1", "over-count 2"),
        ("Last 7 days", "2", "over-count 4"),
        ("Last 30 days", "3", "over-count 5"),
    ]
    card = active_card(page)
    assert "<h2 id=\"active-groups-title\">Active companies</h2>" in card
    assert "3 of 6 events in the last 30 days carried no company." in text_of(card)
    # The default type's over-count leads to the users behind it: the People banner's list.
    assert card.count('href="/people?several=1"') == 4



def test_the_card_loads_after_the_page_and_without_javascript_on_asking(alice_client, active_data):
    """Counting reads every group's days of the last 30: the tab answers at once with a
    card that loads itself (htmx) above the table; without JavaScript, a link asks for
    the page with its figures."""
    page = alice_client.get("/groups/company").content.decode()
    card = active_card(page)
    assert 'hx-get="/active-groups/company" hx-trigger="load" hx-target="this" hx-swap="outerHTML"' in card
    assert 'aria-busy="true"' in card and 'class="figure-value"' not in card
    assert '<noscript><p><a href="?figures=1">Count the active companies</a></p></noscript>' in card
    assert page.index('id="active-groups"') < page.index('id="groups-table"')
    loaded = card_page(alice_client, "/groups/company")
    assert loaded.lstrip().startswith('<section class="card figure-card" id="active-groups"')
    assert "<table" not in loaded  # the card alone
    page = alice_client.get("/groups/company", {"figures": "1"}).content.decode()
    assert figures_shown(page) == figures_shown(loaded)
    assert "<table" in page


def test_each_active_figure_opens_the_trend_that_gives_it(alice_client, active_data):
    page = card_page(alice_client, "/groups/team")
    urls = re.findall(r'<a class="figure-value" href="([^"]+)"', active_card(page))
    assert len(urls) == 3
    for url, expected in zip(urls, (1, 1, 1), strict=True):
        parts = urlsplit(unescape(url))
        assert parts.path == "/reports/trends"
        query = reports.FROM_PARAMS["trends"](active_data, QueryDict(parts.query))
        assert query.count_by == "team"
        (series,) = reports.trends(active_data, query).series
        assert series.total == expected
        assert alice_client.get(unescape(url)).status_code == 200
    today = reports.FROM_PARAMS["trends"](active_data, QueryDict(urlsplit(unescape(urls[0])).query))
    assert (today.period.start, today.period.end) == (date(2026, 3, 15), date(2026, 3, 15))


def test_another_types_tab_counts_its_own_groups_without_the_companies_banner(alice_client, active_data):
    page = card_page(alice_client, "/groups/team")
    assert figures_shown(page) == [
        ("Today", "1", "over-count 2"),
        ("Last 7 days", "1", "over-count 2"),
        ("Last 30 days", "1", "over-count 2"),
    ]
    card = active_card(page)
    assert "Active teams" in card
    assert "5 of 6 events in the last 30 days carried no team." in text_of(card)
    # The People banner is about companies: nothing there explains a team's over-count.
    assert "several=1" not in card
    assert "name the team in the context of those events to fix it" in text_of(card)


def test_the_days_end_at_midnight_in_the_workspace_time_zone(alice_client, active_data):
    set_time_zone(active_data, "UTC")
    # ann's event of 23:30 UTC on the 14th is yesterday's in UTC: only bo's, over-counted.
    page = card_page(alice_client, "/groups/company")
    assert figures_shown(page)[0] == ("Today", "0", "over-count 2")


def test_a_type_no_event_carried_yet_says_so_rather_than_zeros(alice_client, frozen_now, send):
    send.batch(join("ann", "growth", feb(1), group_type="team"), track("bo", "Report Viewed", march(15, 10)))
    page = card_page(alice_client, "/groups/team")
    card = active_card(page)
    assert 'class="figure-value"' not in card
    assert "No event has carried a team yet." in text_of(card)
    assert "1 event in the last 30 days carried none" in text_of(card)
    assert '{"groups": {"team": "acme-corp"}}' in unescape(card)


def test_a_type_none_of_whose_groups_was_active_lately_says_when_to_look(alice_client, frozen_now, send):
    send.batch(join("ann", "acme", feb(1), group_type="company"), track("ann", "Report Viewed", feb(2)))
    page = card_page(alice_client, "/groups/company")
    card = text_of(active_card(page))
    assert "No company was active in the last 30 days. No event in those days." in card
    assert 'href="/groups/company?sort=-last_active_at"' in active_card(page)


def test_an_empty_type_shows_the_group_call_and_no_figures(alice_client, active_data, workspace):
    GroupType.create(workspace=workspace, name="project")
    page = alice_client.get("/groups/project").content.decode()
    assert "No projects yet" in page and 'id="active-groups"' not in page


def test_a_search_keeps_the_figures_of_the_whole_type(alice_client, active_data):
    page = alice_client.get("/groups/company", {"q": "beta", "figures": "1"}).content.decode()
    assert figures_shown(page)[2] == ("Last 30 days", "3", "over-count 5")
    page = alice_client.get("/groups/company", {"q": "beta"}).content.decode()
    assert 'hx-get="/active-groups/company" hx-trigger="load"' in active_card(page)  # not the search
    # Without JavaScript, asking for the figures keeps the search.
    assert '<a href="?q=beta&amp;figures=1">Count the active companies</a>' in active_card(page)
    html = alice_client.get(
        "/groups/company", {"q": "bet"}, headers={"HX-Request": "true", "HX-Target": "groups-table",
                                                  "HX-Trigger": "group-search"}
    ).content.decode()
    assert "active-groups" not in html  # typing a search counts nothing more


def test_a_cohort_leaves_the_figures_out_and_links_to_its_own_trend(alice_client, active_data, company):
    cohort = Cohort(workspace=active_data)
    cohort.define(name="Pro", group_type=company, conditions=[Condition.of_property("plan", "eq", "pro")])
    page = alice_client.get("/groups/company", {"cohort": cohort.pk}).content.decode()
    assert 'class="figure-value"' not in page
    note = page.split('id="active-groups"')[1].split("</p>")[0]
    assert "Active companies are counted over every company, not only cohort “Pro”" in unescape(note)
    assert f'href="/reports/trends?range=30d&amp;count_by=company&amp;cohort={cohort.pk}"' in note
    # Picking a cohort swaps the table and, out of band, the figures for the note…
    headers = {"HX-Request": "true", "HX-Target": "groups-table", "HX-Trigger": "group-cohort"}
    html = alice_client.get("/groups/company", {"cohort": cohort.pk}, headers=headers).content.decode()
    assert '<p class="card active-groups-note" id="active-groups" hx-swap-oob="true">' in html
    # …and back: all companies bring the figures again.
    html = alice_client.get("/groups/company", {"cohort": ""}, headers=headers).content.decode()
    assert 'id="active-groups" aria-labelledby="active-groups-title" hx-swap-oob="true"' in html
    assert figures_shown(html)[0] == ("Today", "1", "over-count 2")
