"""Copying a workspace's events into ClickHouse (manage.py clickhouse_copy_events), on
ClickHouse's embedded engine (chdb): every call as stored, with progress; a second run
copies only what came since; a batch copied twice is read once."""

import json
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from calls import identify, join, track
from clickhouse_connect.driver.exceptions import DatabaseError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from analytics.clickhouse.copy import COLUMNS, batches, copied_up_to
from analytics.models import DuplicateWindow, Event


def run(command, *args):
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue().splitlines()


def stored(workspace):
    """The workspace's events in the main database, as ClickHouse should hold them."""
    rows = []
    for event in Event.objects.filter(workspace=workspace).order_by("pk"):
        row = {name: getattr(event, name) for name in COLUMNS}
        row["properties"], row["context"] = event.properties, event.context
        rows.append(row)
    return rows


def held(client, database, workspace):
    result = client.query(
        f"SELECT {', '.join(COLUMNS)} FROM {database}.events FINAL WHERE workspace_id = %(w)s ORDER BY id",
        parameters={"w": workspace.pk},
    )
    rows = []
    for values in result.result_rows:
        # The client gives moments in UTC without a zone.
        row = {
            name: value.replace(tzinfo=UTC) if isinstance(value, datetime) else value
            for name, value in zip(COLUMNS, values)
        }
        row["properties"], row["context"] = json.loads(row["properties"]), json.loads(row["context"])
        rows.append(row)
    return rows


@contextmanager
def before_the_switch(settings):
    """Ingestion as it runs until a deployment switches to ClickHouse: into the main
    database, while the copy (this process) has CLICKHOUSE_URL."""
    config, settings.CLICKHOUSE = settings.CLICKHOUSE, None
    try:
        yield
    finally:
        settings.CLICKHOUSE = config


@pytest.fixture
def calls(chdb, settings, send):
    with before_the_switch(settings):
        response = send.batch(
            identify("ann", email="ann@acme.com", plan="pro"),
            join("ann", "acme", name="Acme"),
            track("ann", "Report Viewed", groups={"company": "acme"}, properties={"report": "mrr"}),
            track("ann", "Export"),
            identify("bob", email="bob@beta.com"),
        )
    assert response.status_code == 200, response.content


def test_a_workspace_s_events_are_copied_as_stored_then_only_what_came_since(
    chdb, settings, workspace, other_workspace, send, charlie_send, calls
):
    database = settings.CLICKHOUSE["database"]
    run("clickhouse_schema")
    with before_the_switch(settings):
        charlie_send.batch(track("zed", "Report Viewed"))  # another workspace's call stays behind

    assert run("clickhouse_copy_events", "--workspace", workspace.slug, "--batch-size", "2", "--settle", "0") == [
        "Copied 0 of 5 events (0%).",
        "Copied 2 of 5 events (40%).",
        "Copied 4 of 5 events (80%).",
        "Copied 5 of 5 events (100%).",
        f"Done: ClickHouse holds 5 events of {workspace.slug}.",
        "Memberships copied: 1.",
    ]
    first = stored(workspace)
    assert held(chdb, database, workspace) == first
    assert first[2]["group_0_id"] is not None and first[2]["properties"] == {"report": "mrr"}
    assert chdb.command(f"SELECT count() FROM {database}.events WHERE workspace_id != %(w)s",
                        parameters={"w": workspace.pk}) == 0

    # Two more calls, one dated in the past: the next run copies those two only.
    with before_the_switch(settings):
        response = send.batch(track("bob", "Export"), track("ann", "Report Viewed", at="2026-01-05T09:00:00Z"))
    assert response.status_code == 200
    assert run("clickhouse_copy_events", "--workspace", workspace.slug, "--settle", "0") == [
        "Copied 0 of 2 events (0%).",
        "Copied 2 of 2 events (100%).",
        f"Done: ClickHouse holds 7 events of {workspace.slug}.",
        "Memberships copied: 1.",
    ]
    assert held(chdb, database, workspace) == stored(workspace)
    assert run("clickhouse_copy_events", "--workspace", workspace.slug, "--settle", "0") == [
        "Copied 0 of 0 events.",
        f"Nothing to copy: ClickHouse holds 7 events of {workspace.slug}.",
        "Memberships copied: 1.",
    ]


def test_a_batch_copied_twice_is_read_once(chdb, settings, workspace, calls):
    """A run stopped after a batch was stored but before the next began copies it
    again: the copies share their sorting key, and reads with FINAL see each once."""
    database = settings.CLICKHOUSE["database"]
    run("clickhouse_schema")
    run("clickhouse_copy_events", "--workspace", workspace.slug, "--settle", "0")
    again = next(batches(workspace, 0, 3, settle=timedelta(0)))
    chdb.insert(f"{database}.events", again, column_names=COLUMNS)
    assert chdb.command(f"SELECT count() FROM {database}.events") == 8
    assert held(chdb, database, workspace) == stored(workspace)


def test_a_run_goes_on_after_the_last_batch_stored_whole(chdb, settings, workspace, calls):
    """An insert that failed may have stored some parts of its batch (one per month it
    spans) and not others: the next run starts after the last batch stored whole, not
    after the highest event number ClickHouse holds."""
    database = settings.CLICKHOUSE["database"]
    run("clickhouse_schema")
    first, second = list(batches(workspace, 0, 3, settle=timedelta(0)))
    chdb.insert(f"{database}.events", first, column_names=COLUMNS)
    chdb.insert(f"{database}.copy_progress", [[workspace.pk, first[-1][0]]],
                column_names=["workspace_id", "copied_up_to"])
    chdb.insert(f"{database}.events", second[-1:], column_names=COLUMNS)  # a part of the failed batch
    assert not DuplicateWindow.objects.exists()
    assert run("clickhouse_copy_events", "--workspace", workspace.slug, "--settle", "0")[-2] == (
        f"Done: ClickHouse holds 5 events of {workspace.slug}."
    )
    assert held(chdb, database, workspace) == stored(workspace)
    # The batch stored in part is held twice there until merged: its moments are
    # recorded, which counts read with FINAL.
    moment = COLUMNS.index("timestamp")
    [window] = DuplicateWindow.objects.filter(workspace=workspace)
    assert (window.start, window.end) == (min(r[moment] for r in second), max(r[moment] for r in second))


def test_calls_received_in_the_last_minutes_wait_for_a_later_run(chdb, settings, workspace, calls):
    """A call's number is taken before its batch commits, so a later batch can commit
    first: a run leaves what came in the last --settle seconds, whose numbers may still
    have gaps below them, and does not record itself past them."""
    database = settings.CLICKHOUSE["database"]
    run("clickhouse_schema")
    assert run("clickhouse_copy_events", "--workspace", workspace.slug) == [
        "Copied 0 of 0 events.",
        f"Nothing to copy: ClickHouse holds 0 events of {workspace.slug}.",
        "5 events received in the last 300 seconds (or after one of those) are left for a later run.",
        "Memberships copied: 1.",
    ]
    # The three oldest were received long enough ago; the run stops at the first that
    # was not, even though a later one was received before it.
    numbers = list(Event.objects.filter(workspace=workspace).order_by("pk").values_list("pk", flat=True))
    Event.objects.filter(pk__in=numbers[:3] + numbers[4:]).update(received_at=timezone.now() - timedelta(minutes=6))
    assert run("clickhouse_copy_events", "--workspace", workspace.slug)[-3:] == [
        f"Done: ClickHouse holds 3 events of {workspace.slug}.",
        "2 events received in the last 300 seconds (or after one of those) are left for a later run.",
        "Memberships copied: 1.",
    ]
    assert copied_up_to(chdb, database, workspace) == numbers[2]


def test_a_batch_is_recorded_as_copied_only_once_stored(chdb, settings, workspace, calls):
    database = settings.CLICKHOUSE["database"]
    run("clickhouse_schema")
    numbers = list(Event.objects.filter(workspace=workspace).order_by("pk").values_list("pk", flat=True))
    # ClickHouse refuses (for real) any event numbered from the fourth on.
    chdb.command(f"ALTER TABLE {database}.events ADD CONSTRAINT early CHECK id < {numbers[3]}")
    with pytest.raises(DatabaseError, match="Constraint `early`"):
        run("clickhouse_copy_events", "--workspace", workspace.slug, "--settle", "0", "--batch-size", "2")
    assert copied_up_to(chdb, database, workspace) == numbers[1]
    chdb.command(f"ALTER TABLE {database}.events DROP CONSTRAINT early")
    assert run("clickhouse_copy_events", "--workspace", workspace.slug, "--settle", "0")[:2] == [
        "Copied 0 of 3 events (0%).", "Copied 3 of 3 events (100%).",
    ]
    assert held(chdb, database, workspace) == stored(workspace)


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite keeps 1.5e23 a float; ClickHouse holds numbers as PostgreSQL writes them",
)
def test_numbers_beyond_64_bits_in_properties_are_copied(chdb, settings, workspace, send):
    database = settings.CLICKHOUSE["database"]
    run("clickhouse_schema")
    with before_the_switch(settings):
        response = send.batch(track("ann", "Imported", properties={"rows": 1.5e23, "name": "Ünïcode"}))
    assert response.status_code == 200
    run("clickhouse_copy_events", "--workspace", workspace.slug, "--settle", "0")
    assert held(chdb, database, workspace) == stored(workspace)
    # PostgreSQL's jsonb gives the number back as an integer of 78 bits (SQLite as the
    # float it was), which orjson cannot write.
    if connection.vendor == "postgresql":
        assert stored(workspace)[0]["properties"]["rows"] == 150000000000000000000000


def test_what_the_copy_needs_first(chdb, settings, workspace):
    with pytest.raises(CommandError, match="No workspace has the slug 'nowhere'"):
        run("clickhouse_copy_events", "--workspace", "nowhere")
    with pytest.raises(CommandError, match=r"ClickHouse's schema in t_\w+ is missing or out of date: run manage.py clickhouse_schema first"):
        run("clickhouse_copy_events", "--workspace", workspace.slug, "--settle", "0")
    settings.CLICKHOUSE = None
    with pytest.raises(CommandError, match="CLICKHOUSE_URL is not set"):
        run("clickhouse_copy_events", "--workspace", workspace.slug, "--settle", "0")
