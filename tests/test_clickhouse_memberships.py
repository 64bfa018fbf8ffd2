"""The copy ClickHouse keeps of the memberships (``analytics.clickhouse.memberships``), on
its embedded engine (chdb): after calls that open and close memberships, a visitor
merged into a user, a user deleted, a group type removed, each sync leaves it holding
exactly the main database's; a sync that fails leaves the changes for the next one; the
schema command copies memberships made before any change was recorded. Without
ClickHouse the records of changes are forgotten."""

from datetime import UTC
from io import StringIO

import psycopg
import pytest
from calls import feb, identify, join, track
from django.core.management import call_command
from django.db import connection

from analytics import clickhouse, event_store
from analytics.clickhouse import memberships
from analytics.deletion import delete_person
from analytics.group_types import remove_group_type
from analytics.models import Membership, MembershipChange, Person

FIELDS = ("id", "person_id", "group_id", "group_type_id", "started_at", "ended_at")


def copied(client, workspace):
    """The memberships ClickHouse holds for the workspace, moments in UTC."""
    rows = client.query(
        f"SELECT {', '.join(FIELDS)} FROM {memberships.table()} FINAL WHERE workspace_id = %(w)s ORDER BY id",
        parameters={"w": workspace.pk},
    ).result_rows
    return [(*row[:4], *(utc(moment) for moment in row[4:])) for row in rows]


def held(workspace):
    rows = Membership.objects.filter(workspace=workspace).order_by("pk").values_list(*FIELDS)
    return [(*row[:4], *(utc(moment) for moment in row[4:])) for row in rows]


def utc(moment):
    if moment is None:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def assert_synced(client, workspace):
    memberships.sync(workspace.pk)
    assert not MembershipChange.objects.filter(workspace_id=workspace.pk).exists()
    found = copied(client, workspace)
    assert found == held(workspace)
    return found


def test_each_sync_leaves_the_copy_equal_to_the_memberships(clickhouse_events, workspace, send, team):
    assert send.batch(
        identify("ann"), identify("bob"),
        join("ann", "acme", feb(1, 9)), join("ann", "beta", feb(1, 9)), join("bob", "acme", feb(1, 10)),
        join("ann", "growth", feb(1, 9), group_type="team"),
    ).status_code == 200
    assert len(assert_synced(clickhouse_events, workspace)) == 4
    # ann leaves beta: her membership there ends (a change of a row copied before).
    assert send.batch(track("ann", "Account Removed User", feb(3, 12), groups={"company": "beta"})).status_code == 200
    [beta] = [row for row in assert_synced(clickhouse_events, workspace) if row[5] is not None]
    assert beta[5].isoformat() == "2026-02-03T12:00:00+00:00"
    # A visitor in gamma turns out to be bob: the membership becomes his.
    visitor = {"type": "group", "anonymousId": "v-1", "groupId": "gamma", "timestamp": feb(2, 9)}
    assert send.batch(visitor).status_code == 200
    assert send.batch({"type": "identify", "userId": "bob", "anonymousId": "v-1", "timestamp": feb(2, 11)}).status_code == 200
    bob = Person.objects.get(user_id="bob")
    assert len([row for row in assert_synced(clickhouse_events, workspace) if row[1] == bob.pk]) == 2
    # Deleted with ann (a cascade in the main database), then with the type of team.
    delete_person(Person.objects.get(user_id="ann"), suppress=False)
    assert [row[1] for row in assert_synced(clickhouse_events, workspace)] == [bob.pk, bob.pk]
    assert send.batch(join("bob", "growth", feb(4, 9), group_type="team")).status_code == 200
    assert len(assert_synced(clickhouse_events, workspace)) == 3
    remove_group_type(team)
    assert len(assert_synced(clickhouse_events, workspace)) == 2


def test_a_failed_sync_leaves_the_changes_for_the_next(clickhouse_events, workspace, send):
    assert send.batch(join("ann", "acme"), join("bob", "acme")).status_code == 200
    assert_synced(clickhouse_events, workspace)
    assert send.batch(join("cy", "acme")).status_code == 200
    database = clickhouse.database()
    clickhouse_events.command(f"RENAME TABLE {database}.memberships TO {database}.away")
    with pytest.raises(Exception, match="memberships"):
        memberships.sync(workspace.pk)
    assert MembershipChange.objects.filter(workspace_id=workspace.pk).count() == 1
    clickhouse_events.command(f"RENAME TABLE {database}.away TO {database}.memberships")
    assert len(assert_synced(clickhouse_events, workspace)) == 3


def test_the_schema_command_copies_memberships_made_before_changes_were_recorded(
    clickhouse_events, workspace, send
):
    assert send.batch(join("ann", "acme"), join("bob", "beta")).status_code == 200
    MembershipChange.objects.all().delete()  # as on a site that ran without ClickHouse
    assert copied(clickhouse_events, workspace) == []
    out = StringIO()
    call_command("clickhouse_schema", "--rebuild-rollups", stdout=out)
    assert "memberships copied: 2." in out.getvalue()
    assert copied(clickhouse_events, workspace) == held(workspace)


def test_reports_read_the_memberships_changed_since_the_last_sync(clickhouse_events, workspace, send):
    """The over-count credits ann's events without a company to acme, which she joined
    after the last sync: the report syncs first."""
    from test_reports_cohorts import query

    from analytics import reports

    assert send.batch(join("bob", "beta")).status_code == 200
    assert_synced(clickhouse_events, workspace)
    assert send.batch(join("ann", "acme", feb(1, 9)), join("ann", "beta", feb(1, 9)), track("ann", "Export", feb(2, 10))).status_code == 200
    assert MembershipChange.objects.filter(workspace_id=workspace.pk).exists()
    result = reports.active_groups(
        workspace, query("active_groups", workspace, type="company", **{"from": "2026-02-02", "to": "2026-02-02"})
    )
    assert (result.strict, result.overcount) == ([0], [2])


def test_without_clickhouse_the_records_of_changes_are_forgotten(workspace, send):
    assert send.batch(join("ann", "acme"), join("bob", "acme")).status_code == 200
    assert MembershipChange.objects.filter(workspace_id=workspace.pk).count() == 2
    assert event_store.sync_memberships() == 2
    assert not MembershipChange.objects.exists()


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_report_does_not_wait_for_a_sync_running_elsewhere(clickhouse_events, workspace, send):
    """While another process syncs or copies the workspace's memberships (it holds the
    workspace's turn), a report reads the copy as it is rather than wait; the process
    that waits for its turn syncs once it is free."""
    assert send.batch(join("ann", "acme")).status_code == 200
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", [memberships.LOCK_SPACE, workspace.pk])
        assert memberships.sync(workspace.pk, wait=False) == 0
        assert MembershipChange.objects.filter(workspace_id=workspace.pk).exists()
    assert memberships.sync(workspace.pk) == 1
    assert copied(clickhouse_events, workspace) == held(workspace)
