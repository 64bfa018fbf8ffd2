"""The group profile: properties, current members, and events in the group's context."""

import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from analytics import activity as group_activity
from analytics.models import Group
from analytics.timeline import PAGE_SIZE


@pytest.fixture
def acme(send, company):
    send.batch(
        {"type": "identify", "userId": "ann", "traits": {"name": "Ann", "email": "ann@acme.io"},
         "timestamp": "2026-02-01T09:00:00Z"},
        {"type": "group", "userId": "ann", "groupId": "acme", "timestamp": "2026-02-01T10:00:00Z",
         "traits": {"name": "Acme Inc", "plan": "enterprise", "seats": 120}},
        {"type": "group", "userId": "bo", "groupId": "acme", "timestamp": "2026-02-03T10:00:00Z"},
        {"type": "group", "userId": "bo", "groupId": "globex", "timestamp": "2026-02-03T11:00:00Z"},
        {"type": "track", "userId": "ann", "event": "Report Viewed", "timestamp": "2026-02-05T10:00:00Z"},
        {"type": "track", "userId": "bo", "event": "Invite Sent", "timestamp": "2026-02-06T10:00:00Z"},
        {"type": "track", "userId": "bo", "event": "Dashboard Created", "timestamp": "2026-02-07T10:00:00Z",
         "context": {"groupId": "acme"}},
    )


def test_profile_shows_all_properties(alice_client, acme):
    page = alice_client.get("/groups/company/acme").content.decode()
    assert "<h1>Acme Inc</h1>" in page
    # The way back names the group too, not its key.
    assert 'Companies</a> / Acme Inc</div>' in page
    for name, value in (("name", "Acme Inc"), ("plan", "enterprise"), ("seats", "120")):
        assert f"<dt>{name}</dt><dd>{value}</dd>" in page


@pytest.mark.both_stores
def test_profile_lists_current_members_with_joined_and_last_seen(alice_client, acme, send):
    send.batch({"type": "track", "userId": "bo", "event": "Account Removed User",
                "timestamp": "2026-02-08T10:00:00Z", "context": {"groupId": "acme"}})
    page = alice_client.get("/groups/company/acme").content.decode()
    members = page.split('id="members-table"')[1].split("</table>")[0]
    assert ">Ann</a>" in members and "ann@acme.io" in members
    assert 'title="Sun, Feb 1, 2026, 10:00:00 UTC"' in members  # joined
    assert 'title="Thu, Feb 5, 2026, 10:00:00 UTC"' in members  # last seen
    assert ">bo</a>" not in members  # left the account


@pytest.mark.both_stores
def test_timeline_shows_events_in_the_groups_context(alice_client, acme):
    page = alice_client.get("/groups/company/acme").content.decode()
    timeline = page.split('id="timeline"')[1]
    assert "Report Viewed" in timeline  # ann is only in acme: the event took acme
    assert "Dashboard Created" in timeline  # explicit context
    assert "Invite Sent" not in timeline  # bo is in two companies: no company


@pytest.mark.both_stores
def test_switch_adds_members_events_without_a_company_marked(alice_client, acme):
    page = alice_client.get("/groups/company/acme", {"unassigned": "1"}).content.decode()
    timeline = page.split('id="timeline"')[1]
    invite = timeline.split("Invite Sent")[1].split("</li>")[0]
    assert "no company" in invite
    report = timeline.split("Report Viewed")[1].split("</li>")[0]
    assert "no company" not in report
    assert timeline.index("Dashboard Created") < timeline.index("Invite Sent") < timeline.index("Report Viewed")


@pytest.mark.both_stores
def test_load_more_pages_through_events(alice_client, acme, send):
    send.batch(*(
        {"type": "track", "userId": "ann", "event": f"Step {n:02d}", "timestamp": f"2026-03-01T10:{n:02d}:00Z"}
        for n in range(PAGE_SIZE + 5)
    ))
    first = alice_client.get("/groups/company/acme").content.decode()
    assert f"Step {PAGE_SIZE + 4:02d}" in first and "Step 04" not in first
    cursor = first.split('hx-get="?before=')[1].split('"')[0]
    more = alice_client.get(
        "/groups/company/acme", {"before": cursor}, headers={"HX-Request": "true", "HX-Target": "timeline-more"}
    ).content.decode()
    assert "<html" not in more
    assert "Step 04" in more and "Step 00" in more and "Report Viewed" in more
    assert f"Step {PAGE_SIZE + 4:02d}" not in more


def test_outsider_cannot_open_group_profile(client, charlie, acme):
    client.force_login(charlie)
    assert client.get("/groups/company/acme").status_code == 404


def test_keys_with_slashes_open(alice_client, send, company):
    send.batch({"type": "group", "userId": "u", "groupId": "org/eu/1", "traits": {"name": "EU"}})
    assert "<h1>EU</h1>" in alice_client.get("/groups/company/org/eu/1").content.decode()


def test_profile_takes_twelve_or_thirteen_queries_however_many_members_or_events(
    alice_client, acme, send, django_assert_num_queries
):
    def check_queries(other_groups):
        # The session, the user, the membership with its workspace, the group, its
        # activity by week, its top events, its active members, the members' count, the
        # events, the other groups the events link to (if any), the people who sent them,
        # the page of members and their people; with unassigned events one more: the
        # members whose events those are.
        for params, expected in (({}, 12 + other_groups), ({"unassigned": "1"}, 13 + other_groups)):
            with django_assert_num_queries(expected, info=str(params)):
                assert alice_client.get("/groups/company/acme", params).status_code == 200

    check_queries(other_groups=False)
    send.batch(*(
        {"type": "identify", "userId": f"m{n}", "traits": {"name": f"Member {n}"}} for n in range(20)
    ), *(
        {"type": "group", "userId": f"m{n}", "groupId": "acme"} for n in range(20)
    ), *(
        {"type": "group", "userId": f"m{n}", "groupId": f"t{n}", "context": {"groupType": "team"},
         "traits": {"name": f"Team {n}"}} for n in range(20)
    ), *(
        {"type": "track", "userId": f"m{n}", "event": "E", "context": {"groups": {"company": "acme", "team": f"t{n}"}}}
        for n in range(20)
    ))
    check_queries(other_groups=True)


@pytest.mark.both_stores
def test_events_name_who_sent_them_with_the_id_on_hover(alice_client, acme, send):
    send.batch({"type": "track", "anonymousId": "visitor-7", "event": "Pricing Viewed",
                "timestamp": "2026-02-08T10:00:00Z", "context": {"groupId": "acme"}})
    timeline = alice_client.get("/groups/company/acme").content.decode().split('id="timeline"')[1]
    report = timeline.split("Report Viewed")[1].split("</li>")[0]
    assert '" title="User id: ann">Ann</a>' in report  # the name, not the user id
    dashboard = timeline.split("Dashboard Created")[1].split("</li>")[0]
    assert '" title="User id: bo">bo</a>' in dashboard  # no name, no email: the id it is
    pricing = timeline.split("Pricing Viewed")[1].split("</li>")[0]
    assert '" title="Anonymous id: visitor-7">Anonymous ' in pricing


@pytest.mark.both_stores
def test_events_show_their_other_groups_by_name_with_the_key_on_hover(alice_client, acme, send, team):
    send.batch(
        {"type": "group", "userId": "ann", "groupId": "growth-7f3a", "context": {"groupType": "team"},
         "traits": {"name": "Growth"}},
        {"type": "track", "userId": "ann", "event": "Chart Shared", "timestamp": "2026-02-09T10:00:00Z",
         "context": {"groups": {"company": "acme", "team": "growth-7f3a"}}},
    )
    timeline = alice_client.get("/groups/company/acme").content.decode().split('id="timeline"')[1]
    shared = timeline.split("Chart Shared")[1].split("</li>")[0]
    assert (
        '<a class="badge" href="/groups/team/growth-7f3a" title="Team Growth · key growth-7f3a">'
        '<span class="chip-type">Team</span> Growth</a>'
    ) in shared
    assert "/groups/company/acme" not in shared  # the group whose page this is


def test_dates_in_properties_show_as_dates_with_what_was_sent_on_hover(alice_client, send, company):
    send.batch({"type": "group", "userId": "u", "groupId": "acme",
                "traits": {"name": "Acme", "createdAt": "2019-05-04T08:30:00.000Z", "plan": "pro"}})
    page = alice_client.get("/groups/company/acme").content.decode()
    assert (
        '<dt>createdAt</dt><dd><time datetime="2019-05-04T08:30:00+00:00" '
        'title="2019-05-04T08:30:00.000Z">May 4, 2019</time></dd>'
    ) in page
    table = alice_client.get("/groups/company").content.decode().split('id="groups-table"')[1]
    assert '<b>createdAt</b> <time datetime="2019-05-04T08:30:00+00:00" title="2019-05-04T08:30:00.000Z">May 4, 2019</time>' in table


def test_member_count_has_thousands_separators(alice_client, acme):
    from analytics.models import Group

    Group.objects.filter(key="acme").update(member_count=1234)
    page = alice_client.get("/groups/company/acme").content.decode()
    assert "1,234 members" in page.split('class="subtitle"')[1].split("</p>")[0]


# --- activity -------------------------------------------------------------------------------

# A Wednesday. The last 90 days began on Dec 5, 2025 (a Friday), in the week of Monday Dec 1.
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
MONDAYS = [date(2025, 12, 1) + timedelta(weeks=n) for n in range(14)]  # Dec 1 ... Mar 2


def in_acme(call_type, user, at, name="Report Viewed"):
    key = "event" if call_type == "track" else "name"
    return {"type": call_type, "userId": user, key: name, "timestamp": at, "context": {"groupId": "acme"}}


def weeks_of(group, workspace):
    """{Monday: (events, active members)} of the weeks with activity, and how many weeks."""
    group.workspace = workspace
    weeks = group_activity.recent_of(group, now=NOW).weeks
    assert [week.monday for week in weeks] == MONDAYS
    return {w.monday: (w.events, w.active_members) for w in weeks if w.events or w.active_members}


@pytest.mark.both_stores
def test_weeks_are_cut_at_midnight_in_the_workspaces_time_zone(send, workspace, company):
    # Sunday Mar 1 at 23:30 UTC is Monday Mar 2 at 00:30 in Paris.
    send.batch(in_acme("track", "ann", "2026-03-01T23:30:00Z"))
    acme = Group.objects.get(key="acme")
    assert weeks_of(acme, workspace) == {date(2026, 2, 23): (1, 1)}
    workspace.time_zone = "Europe/Paris"
    workspace.save()
    assert weeks_of(acme, workspace) == {date(2026, 3, 2): (1, 1)}


@pytest.mark.both_stores
def test_weekly_events_and_active_members_of_the_last_90_days(send, workspace, company):
    workspace.time_zone = "Europe/Paris"
    workspace.save()
    send.batch(
        in_acme("track", "ann", "2026-03-01T23:30:00Z"),  # Mon Mar 2, 00:30 in Paris
        in_acme("track", "ann", "2026-03-03T10:00:00Z"),
        in_acme("page", "bob", "2026-03-04T09:00:00Z", name="Pricing"),
        in_acme("screen", "bob", "2026-02-22T22:00:00Z", name="Home"),  # Sun Feb 22, 23:00
        in_acme("track", "ann", "2025-12-04T23:30:00Z"),  # Fri Dec 5, 00:30: the first day
        in_acme("track", "ann", "2025-12-04T22:30:00Z"),  # Thu Dec 4, 23:30: too old
        {"type": "group", "userId": "cy", "groupId": "acme", "timestamp": "2026-02-24T10:00:00Z"},
        {"type": "track", "userId": "cy", "event": "Elsewhere", "timestamp": "2026-02-24T11:00:00Z",
         "context": {"groupId": "globex"}},
    )
    acme = Group.objects.get(key="acme")
    assert weeks_of(acme, workspace) == {
        date(2025, 12, 1): (1, 1),
        date(2026, 2, 16): (1, 1),
        date(2026, 3, 2): (3, 2),
    }
    activity = group_activity.recent_of(acme, now=NOW)
    assert activity.since == datetime(2025, 12, 4, 23, 0, tzinfo=UTC)
    assert activity.events == 5
    # In the last 30 days (from Feb 3 in Paris): ann and bob.
    assert activity.active_members == 2
    assert [(e.type, e.name, e.count) for e in activity.top_events] == [
        ("track", "Report Viewed", 3),
        ("page", "Pricing", 1),
        ("screen", "Home", 1),
    ]


@pytest.mark.both_stores
def test_profile_opens_with_the_weeks_chart_and_a_table_of_the_same_numbers(alice_client, send, company):
    now = timezone.now()
    send.batch(
        in_acme("track", "ann", (now - timedelta(seconds=5)).isoformat()),
        in_acme("page", "bob", (now - timedelta(seconds=4)).isoformat(), name="Pricing"),
        in_acme("track", "ann", (now - timedelta(weeks=3)).isoformat()),
        in_acme("track", "ann", (now - timedelta(days=120)).isoformat()),  # too old
        {"type": "group", "userId": "ann", "groupId": "acme", "traits": {"name": "Acme Inc"},
         "timestamp": (now - timedelta(days=200)).isoformat()},
    )
    html = alice_client.get("/groups/company/acme").content.decode()
    main = html.split('<main class="main" id="main">')[1]
    # The activity comes first, before the properties and the members.
    assert main.index('id="activity"') < main.index('id="properties-title"') < main.index('id="members-title"')
    chart = json.loads(main.split('<script id="group-activity" type="application/json">')[1].split("</script>")[0])
    assert chart["kind"] == "line"
    events, members = chart["series"]
    assert (events["label"], members["label"]) == ("Events", "Active members")
    assert events["values"][-4:] == [1, 0, 0, 2] and members["values"][-4:] == [1, 0, 0, 2]
    assert sum(events["values"]) == 3 and len(chart["labels"]) in (13, 14)
    table = main.split('id="weekly-activity"')[1].split("</table>")[0]
    rows = table.split("<tr>")[1:]
    weeks = re.findall(r'<time datetime="([\d-]+)"', rows[0])
    assert len(weeks) == len(chart["labels"])
    assert [date.fromisoformat(w).weekday() for w in weeks] == [0] * len(weeks)  # Mondays
    assert re.findall(r'class="num">([\d,]+)</td>', rows[1]) == [str(n) for n in events["values"]]
    assert re.findall(r'class="num">([\d,]+)</td>', rows[2]) == [str(n) for n in members["values"]]
    figures = main.split('class="figures"')[1].split("</dl>")[0]
    assert re.findall(r"<dd>([\d,]+)</dd>", figures) == ["3", "2"]  # events, active members
    top = main.split('id="top-events"')[1].split("</table>")[0]
    assert re.findall(r"<td>(.*?)</td><td class=\"num\">(\d+)</td>", top) == [
        ("Report Viewed", "2"),
        ('<span class="faint">Page</span> Pricing', "1"),
    ]


@pytest.mark.both_stores
def test_a_group_without_activity_shows_zero_weeks(alice_client, send, company):
    send.batch({"type": "group", "userId": "ann", "groupId": "quiet", "timestamp": timezone.now().isoformat()})
    html = alice_client.get("/groups/company/quiet").content.decode()
    chart = json.loads(html.split('<script id="group-activity" type="application/json">')[1].split("</script>")[0])
    assert set(chart["series"][0]["values"]) == {0} and set(chart["series"][1]["values"]) == {0}
    assert "No track, page or screen call carried this company in the last 90 days." in html
    assert "no activity yet" in html.split('class="subtitle"')[1].split("</p>")[0]


def member_names(html):
    members = html.split('id="members-table"')[1].split("</tbody>")[0]
    return re.findall(r'<td><a href="/people/\d+">([^<]+)</a>', members)


@pytest.mark.both_stores
def test_members_are_listed_most_recently_active_first_with_their_events_in_the_group(
    alice_client, send, company
):
    now = timezone.now()
    send.batch(
        *({"type": "group", "userId": user, "groupId": "acme", "timestamp": (now - timedelta(days=300)).isoformat()}
          for user in ("ann", "bob", "cy", "dee")),
        *(in_acme("track", "bob", (now - timedelta(days=d)).isoformat()) for d in (1, 2, 3)),
        in_acme("track", "ann", (now - timedelta(days=10)).isoformat()),
        in_acme("track", "ann", (now - timedelta(days=100)).isoformat()),  # not in the 90 days
        in_acme("track", "cy", (now - timedelta(days=5)).isoformat()),
        in_acme("page", "cy", (now - timedelta(days=6)).isoformat(), name="Home"),
        # cy elsewhere, later, and dee's bookkeeping: not this group's activity.
        {"type": "track", "userId": "cy", "event": "Elsewhere", "context": {"groupId": "globex"}},
        {"type": "identify", "userId": "dee", "traits": {"plan": "x"}},
    )
    html = alice_client.get("/groups/company/acme").content.decode()
    assert member_names(html) == ["bob", "cy", "ann", "dee"]
    members = html.split('id="members-table"')[1].split("</tbody>")[0]
    rows = members.split("<tr>")[2:]
    assert [re.findall(r'class="num">(\d+)</td>', row) for row in rows] == [["3"], ["2"], ["1"], ["0"]]
    assert ">yesterday</time>" in rows[0] or ">1 day ago</time>" in rows[0]
    assert ">5 days ago</time>" in rows[1]
    assert '<td class="date">—</td>' in rows[3]  # dee did nothing in acme
    headers = html.split('id="members-table"')[1].split("</thead>")[0]
    # The default order is marked on its header; the events are counted for the page only.
    last_active = headers.split(">Last active</a>")[0].rsplit("<th", 1)[1]
    assert 'class="desc orderable"' in last_active
    assert "Events (90 days)\n" in headers and ">Events (90 days)</a>" not in headers
    oldest_first = alice_client.get("/groups/company/acme", {"sort": "last_active_at"}).content.decode()
    assert member_names(oldest_first) == ["ann", "cy", "bob", "dee"]  # no activity last
    by_name = alice_client.get("/groups/company/acme", {"sort": "person"}).content.decode()
    assert member_names(by_name) == ["ann", "bob", "cy", "dee"]
