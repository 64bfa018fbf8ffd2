"""Groups' activity as ingestion keeps it: a group's Last active (its latest track, page or
screen call) and its active members (people with such a call carrying it in the last 30
days), exact under late calls, merges, deletions and the removal of a group type, shown
and sorted on /groups; and only analytics.activity writes them."""

import importlib
import re
from datetime import UTC, datetime, timedelta

from calls import track_in
from conftest import writes_to
from django.db import connection
from django.utils import timezone

from analytics.deletion import delete_person
from analytics.group_types import remove_group_type
from analytics.models import Group, GroupActivity, GroupType, Person


def moment(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def last_active(key):
    return Group.objects.get(key=key).last_active_at


def activity_of(key):
    """{user id: their last activity in the group}, from GroupActivity."""
    rows = GroupActivity.objects.filter(group__key=key).values_list(
        "person__user_id", "last_active_at"
    )
    return dict(rows)


def table_rows(client, **params):
    """The keys of /groups/company's rows, in order."""
    html = client.get("/groups/company", params).content.decode()
    table = html.split('id="groups-table"')[1].split("</tbody>")[0]
    return [row.split('href="/groups/company/')[1].split('"')[0] for row in table.split("<tr>")[2:]]


def header_titles(html):
    """{header: its title, None without one} of the groups table, in order."""
    head = html.split('id="groups-table"')[1].split("</thead>")[0]
    titles = {}
    for attributes, content in re.findall(r"<th([^>]*)>(.*?)</th>", head, re.S):
        title = re.search(r'title="([^"]*)"', attributes)
        titles[re.sub(r"<[^>]+>", "", content).strip()] = title and title.group(1)
    return titles


def ago(**delta):
    return (timezone.now() - timedelta(**delta)).isoformat()


# --- Last active ----------------------------------------------------------------------


def test_last_active_is_the_latest_track_page_or_screen_call_carrying_the_group(send, company):
    send.batch(
        {"type": "group", "userId": "ann", "groupId": "acme", "timestamp": "2026-02-01T10:00:00Z"},
        track_in("ann", "acme", "2026-02-02T10:00:00Z"),
        {"type": "page", "userId": "bob", "name": "Pricing", "timestamp": "2026-02-03T10:00:00Z",
         "context": {"groupId": "acme"}},
        {"type": "screen", "userId": "ann", "name": "Home", "timestamp": "2026-02-02T12:00:00Z",
         "context": {"groupId": "acme"}},
        # Bookkeeping, later than all of them: not activity.
        {"type": "group", "userId": "cy", "groupId": "acme", "timestamp": "2026-02-09T10:00:00Z"},
        {"type": "identify", "userId": "ann", "traits": {"name": "Ann"}, "timestamp": "2026-02-09T11:00:00Z"},
        {"type": "alias", "previousId": "ann-old", "userId": "ann", "timestamp": "2026-02-09T12:00:00Z"},
        # Only ever named in a group call.
        {"type": "group", "userId": "dee", "groupId": "quiet", "timestamp": "2026-02-09T10:00:00Z"},
    )
    assert last_active("acme") == moment("2026-02-03T10:00:00Z")
    assert activity_of("acme") == {
        "ann": moment("2026-02-02T12:00:00Z"),
        "bob": moment("2026-02-03T10:00:00Z"),
    }
    assert last_active("quiet") is None and activity_of("quiet") == {}


def test_on_postgresql_moments_move_on_by_a_minute_or_more(send, company):
    # Shown to the minute, they are rewritten once a minute at most for a busy group;
    # SQLite, the development database, keeps every move.
    send.batch(track_in("ann", "acme", "2026-02-05T10:00:00Z"))
    send.batch(track_in("ann", "acme", "2026-02-05T10:00:59Z"))
    kept = "2026-02-05T10:00:00Z" if connection.vendor == "postgresql" else "2026-02-05T10:00:59Z"
    assert last_active("acme") == activity_of("acme")["ann"] == moment(kept)
    send.batch(track_in("ann", "acme", "2026-02-05T10:01:00Z"))
    assert last_active("acme") == activity_of("acme")["ann"] == moment("2026-02-05T10:01:00Z")


def test_an_event_that_takes_its_group_from_a_membership_counts_for_it(send, company):
    send.batch(
        {"type": "group", "userId": "ann", "groupId": "acme", "timestamp": "2026-02-01T10:00:00Z"},
        # No group in its context: ann is in acme only, so it takes acme.
        {"type": "track", "userId": "ann", "event": "Report Viewed", "timestamp": "2026-02-05T10:00:00Z"},
    )
    assert last_active("acme") == moment("2026-02-05T10:00:00Z")


def test_a_late_call_with_an_old_timestamp_moves_nothing_back(send, company):
    send.batch(track_in("ann", "acme", "2026-02-05T10:00:00Z"), track_in("bob", "acme", "2026-02-04T10:00:00Z"))
    send.batch(track_in("ann", "acme", "2026-01-01T10:00:00Z"), track_in("bob", "acme", "2026-01-02T10:00:00Z"))
    assert last_active("acme") == moment("2026-02-05T10:00:00Z")
    assert activity_of("acme") == {
        "ann": moment("2026-02-05T10:00:00Z"),
        "bob": moment("2026-02-04T10:00:00Z"),
    }
    # Within one batch too, whatever the order of its calls.
    send.batch(track_in("bob", "acme", "2026-02-07T10:00:00Z"), track_in("bob", "acme", "2026-02-06T10:00:00Z"))
    assert activity_of("acme")["bob"] == last_active("acme") == moment("2026-02-07T10:00:00Z")


def test_a_visitor_who_signs_up_brings_their_activity_along(send, company):
    send.batch(
        track_in("ann", "acme", "2026-02-02T10:00:00Z"),
        {"type": "page", "anonymousId": "visitor-1", "name": "Pricing", "timestamp": "2026-02-04T10:00:00Z",
         "context": {"groupId": "acme"}},
        {"type": "page", "anonymousId": "visitor-1", "name": "Docs", "timestamp": "2026-02-03T10:00:00Z",
         "context": {"groupId": "globex"}},
    )
    send.batch({"type": "identify", "userId": "ann", "anonymousId": "visitor-1",
                "timestamp": "2026-02-05T10:00:00Z"})
    # One person now, with the later of the two moments in acme.
    assert activity_of("acme") == {"ann": moment("2026-02-04T10:00:00Z")}
    assert activity_of("globex") == {"ann": moment("2026-02-03T10:00:00Z")}
    assert last_active("acme") == moment("2026-02-04T10:00:00Z")


# --- deletions and the removal of a group type -----------------------------------------


def test_a_deleted_persons_activity_leaves_the_figures(send, workspace, company):
    send.batch(
        track_in("ann", "acme", "2026-02-05T10:00:00Z"),
        track_in("bob", "acme", "2026-02-03T10:00:00Z"),
        track_in("ann", "solo", "2026-02-04T10:00:00Z"),
        track_in("bob", "globex", "2026-02-06T10:00:00Z"),
    )
    delete_person(Person.objects.get(workspace=workspace, user_id="ann"))
    assert last_active("acme") == moment("2026-02-03T10:00:00Z")  # bob's, now the latest
    assert last_active("solo") is None  # no one else was active in it
    assert last_active("globex") == moment("2026-02-06T10:00:00Z")  # not ann's: untouched
    assert activity_of("acme") == {"bob": moment("2026-02-03T10:00:00Z")}
    assert not GroupActivity.objects.filter(person__user_id="ann").exists()
    delete_person(Person.objects.get(workspace=workspace, user_id="bob"))
    assert last_active("acme") is None and last_active("globex") is None
    assert not GroupActivity.objects.exists()


def test_removing_a_group_type_removes_its_groups_activity_only(send, workspace, company, team):
    send.batch(
        {"type": "track", "userId": "ann", "event": "Chart Shared", "timestamp": "2026-02-05T10:00:00Z",
         "context": {"groups": {"company": "acme", "team": "growth"}}},
    )
    remove_group_type(team)
    assert not GroupActivity.objects.filter(group_type=team.pk).exists()
    assert activity_of("acme") == {"ann": moment("2026-02-05T10:00:00Z")}
    # A type created in the freed slot starts with no activity, until its own.
    project = GroupType.create(workspace=workspace, name="project")
    assert project.slot == team.slot
    send.batch({"type": "track", "userId": "ann", "event": "Chart Shared",
                "timestamp": "2026-02-01T10:00:00Z", "context": {"groups": {"project": "apollo"}}})
    assert GroupActivity.objects.filter(group_type=project).count() == 1
    assert last_active("apollo") == moment("2026-02-01T10:00:00Z")


def test_only_the_activity_module_writes_group_activity_and_last_active(send, workspace, company):
    with writes_to("analytics_groupactivity") as rows, writes_to("analytics_group") as groups:
        send.batch(track_in("ann", "acme", "2026-02-05T10:00:00Z"),
                   {"type": "page", "anonymousId": "v1", "timestamp": "2026-02-06T10:00:00Z",
                    "context": {"groupId": "acme"}})
        send.batch({"type": "identify", "userId": "ann", "anonymousId": "v1"})
        delete_person(Person.objects.get(workspace=workspace, user_id="ann"))
    kept = [(sql, m) for sql, m in groups if sql.startswith("UPDATE") and "last_active_at" in sql]
    # Every kind of write happened, so the check below has something to check.
    assert {sql.split()[0] for sql, _ in rows} == {"INSERT", "DELETE"}
    assert kept
    elsewhere = [sql for sql, modules in rows + kept if "activity.py" not in modules]
    assert elsewhere == []


def test_the_migration_fills_what_ingestion_keeps(send, workspace, company, team):
    send.batch(
        {"type": "group", "userId": "ann", "groupId": "acme", "timestamp": "2026-02-01T10:00:00Z"},
        track_in("ann", "acme", "2026-02-02T10:00:00Z"),
        track_in("ann", "acme", "2026-02-04T10:00:00Z"),
        track_in("bob", "acme", "2026-02-03T10:00:00Z"),
        {"type": "track", "userId": "bob", "event": "Chart Shared", "timestamp": "2026-02-05T10:00:00Z",
         "context": {"groups": {"company": "globex", "team": "growth"}}},
        {"type": "group", "userId": "cy", "groupId": "quiet", "timestamp": "2026-02-09T10:00:00Z"},
    )
    kept = set(GroupActivity.objects.values_list("group__key", "person__user_id", "last_active_at"))
    latest = dict(Group.objects.values_list("key", "last_active_at"))
    GroupActivity.objects.all().delete()
    Group.objects.update(last_active_at=None)

    class Statements:
        """What the migration runs its SQL through (a schema editor's ``execute``)."""

        def execute(self, sql):
            with connection.cursor() as cursor:
                cursor.execute(sql)

    migration = importlib.import_module("analytics.migrations.0014_group_activity")
    migration.fill_from_events(None, Statements())
    assert set(GroupActivity.objects.values_list("group__key", "person__user_id", "last_active_at")) == kept
    assert len(kept) == 4  # ann and bob in acme, bob in globex and in growth
    assert dict(Group.objects.values_list("key", "last_active_at")) == latest
    assert latest["acme"] == moment("2026-02-04T10:00:00Z") and latest["quiet"] is None


# --- active members ------------------------------------------------------------------------

# A Wednesday; in Paris (UTC+1 then) "the last 30 days" began on Feb 3 at midnight, which
# is Feb 2, 23:00 UTC.
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def test_active_members_had_activity_in_the_last_30_days_in_the_workspaces_time_zone(
    send, workspace, company
):
    workspace.time_zone = "Europe/Paris"
    workspace.save()
    send.batch(
        track_in("ann", "acme", "2026-03-04T10:00:00Z"),  # today
        track_in("bob", "acme", "2026-02-02T23:30:00Z"),  # Feb 3, 00:30 in Paris: day 30 of 30
        track_in("cy", "acme", "2026-02-02T22:30:00Z"),  # Feb 2, 23:30 in Paris: 31 days ago
        track_in("dee", "acme", "2026-01-20T10:00:00Z"),  # long ago
        {"type": "group", "userId": "eve", "groupId": "acme", "timestamp": "2026-03-04T09:00:00Z"},
        track_in("ann", "globex", "2026-01-20T10:00:00Z"),
    )
    since = workspace.last_days(30, now=NOW)
    assert since == datetime(2026, 2, 2, 23, 0, tzinfo=UTC)
    counts = dict(Group.objects.with_active_members(since).values_list("key", "active_members"))
    assert counts == {"acme": 2, "globex": 0}
    assert Group.objects.get(key="acme").active_members(since) == 2


def test_groups_table_shows_last_active_and_active_members_with_their_meaning_on_hover(
    alice_client, send, company
):
    send.batch(
        {"type": "group", "userId": "ann", "groupId": "acme", "traits": {"name": "Acme"},
         "timestamp": "2026-03-01T09:00:00Z"},
        track_in("ann", "acme", "2026-03-04T05:06:00Z"),  # months ago
        track_in("bob", "acme", ago(days=2)),
        track_in("cy", "acme", ago(days=40)),
    )
    html = alice_client.get("/groups/company").content.decode()
    titles = header_titles(html)
    assert titles == {
        "Name / Key": None,
        "Properties": None,
        "Last updated": "When a group call last set its properties",
        "Last active": "The latest track, page or screen call carrying it",
        "Active members (30 days)":
            "People with a track, page or screen call carrying it in the last 30 days, today included",
        "Members": "People in it now",
    }
    assert list(titles)[2:] == ["Last updated", "Last active", "Active members (30 days)", "Members"]
    cells = html.split('<a href="/groups/company/acme">')[1].split("</tr>")[0].split("<td")
    assert 'title="Sun, Mar 1, 2026, 09:00:00 UTC"' in cells[2]  # last updated: the group call
    assert ">2 days ago</time>" in cells[3]  # last active: bob's track
    assert cells[4].startswith(' class="num">1</td>')  # bob only: ann's and cy's are too old
    assert cells[5].startswith(' class="num">1</td>')  # members: ann, who joined


def test_sorting_by_last_active_puts_groups_without_activity_last_both_ways(alice_client, send, company):
    send.batch(
        track_in("ann", "early", ago(days=20)),
        track_in("ann", "late", ago(days=1)),
        track_in("bob", "middle", ago(days=5)),
        {"type": "group", "userId": "cy", "groupId": "a-quiet", "timestamp": ago(hours=1)},
        {"type": "group", "userId": "cy", "groupId": "z-quiet", "timestamp": ago(hours=1)},
    )
    newest = table_rows(alice_client, sort="-last_active_at")
    assert newest == ["late", "middle", "early", "a-quiet", "z-quiet"]
    oldest = table_rows(alice_client, sort="last_active_at")
    assert oldest == ["early", "middle", "late", "a-quiet", "z-quiet"]


def test_sorting_by_active_members_counts_every_group_then_orders_by_key(alice_client, send, company):
    send.batch(
        *(track_in(user, "busy", ago(days=3)) for user in ("ann", "bob", "cy")),
        track_in("ann", "b-pair", ago(days=10)), track_in("dee", "b-pair", ago(days=12)),
        track_in("eve", "a-pair", ago(days=1)), track_in("fay", "a-pair", ago(days=29)),
        track_in("gus", "lapsed", ago(days=45)),  # active once, not in the last 30 days
        {"type": "group", "userId": "hal", "groupId": "quiet", "timestamp": ago(hours=1)},
    )
    most = table_rows(alice_client, sort="-active_members")
    assert most == ["busy", "a-pair", "b-pair", "lapsed", "quiet"]
    fewest = table_rows(alice_client, sort="active_members")
    assert fewest == ["lapsed", "quiet", "a-pair", "b-pair", "busy"]


def test_groups_page_takes_seven_queries_in_every_order_but_eight_by_active_members(
    alice_client, send, company, django_assert_num_queries
):
    send.batch(*(track_in(f"u{n}", f"co-{n % 7}", ago(days=n)) for n in range(40)))
    # Those of test_groups_page (the type's cohorts to filter by among them; its active
    # companies load after the page); by active members, the page's ids in order, then
    # its groups (ByActiveMembers).
    for sort, queries in (("", 7), ("-last_active_at", 7), ("last_active_at", 7),
                          ("-active_members", 8), ("active_members", 8)):
        with django_assert_num_queries(queries, info=sort):
            assert alice_client.get("/groups/company", {"sort": sort}).status_code == 200


def test_active_members_are_counted_within_the_search_and_the_page(alice_client, send, company):
    send.batch(
        *(track_in(user, "acme", ago(days=2)) for user in ("ann", "bob")),
        track_in("cy", "initech", ago(days=2)),
    )
    html = alice_client.get("/groups/company", {"q": "acme", "sort": "-active_members"}).content.decode()
    table = html.split('id="groups-table"')[1]
    assert "/groups/company/initech" not in table
    assert '<td class="num">2</td>' in table


def test_sorting_by_active_members_pages_through_every_group(alice_client, send, company):
    # co-01 has one person active, ... co-11 eleven; 44 groups have no one.
    send.batch(*(track_in(f"u{p}", f"co-{n:02d}", ago(days=2)) for n in range(1, 12) for p in range(n)))
    send.batch(*({"type": "group", "userId": "q", "groupId": f"quiet-{n:02d}", "timestamp": ago(hours=1)}
                 for n in range(44)))
    first = table_rows(alice_client, sort="-active_members")
    assert first[:11] == [f"co-{n:02d}" for n in range(11, 0, -1)]
    assert first[11:] == [f"quiet-{n:02d}" for n in range(39)]  # no one: by key
    second = table_rows(alice_client, sort="-active_members", page=2)
    assert second == [f"quiet-{n:02d}" for n in range(39, 44)]
    html = alice_client.get("/groups/company", {"sort": "-active_members", "page": 2}).content.decode()
    assert "51–55 of 55" in html
