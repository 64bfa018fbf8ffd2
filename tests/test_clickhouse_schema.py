"""The ClickHouse schema (manage.py clickhouse_schema), on ClickHouse's embedded engine
(chdb): created once, brought up to date again, keeping one row of a retried call; and
the statements for a sharded, replicated cluster, which only a real cluster can run
(chdb parses them: a real server would also check the ZooKeeper paths and the cluster's
shards)."""

import re
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError



def run(*args):
    out = StringIO()
    call_command("clickhouse_schema", *args, stdout=out)
    return out.getvalue()


def event(message_id, **values):
    row = {
        "id": 1, "workspace_id": 7, "person_id": 42, "type": "track", "name": "Report Viewed",
        "timestamp": "2026-12-04 10:00:00.123456", "received_at": "2026-12-04 10:00:01",
        "message_id": message_id, "properties": '{"plan": "pro"}', "context": "{}",
        "group_0_id": 3,
    }
    return {**row, **values}


def insert(client, database, rows):
    columns = list(rows[0])
    values = ", ".join(
        "(" + ", ".join("NULL" if row[c] is None else repr(row[c]) for c in columns) + ")" for row in rows
    )
    client.command(f"INSERT INTO {database}.events ({', '.join(columns)}) VALUES {values}")


def test_the_schema_is_created_once_then_found_up_to_date(chdb, settings, db):
    database = settings.CLICKHOUSE["database"]
    assert run() == (
        f"Applied to {database}: 0001_events, 0002_copy_progress, 0003_lightweight_updates, 0004_rollups, "
        "0005_group_day_extremes, 0006_memberships, 0007_person_days, 0008_rollups_caught_up, "
        "0009_rollups_added_by_flushes.\n"
    )
    assert run() == f"The schema of {database} is up to date.\n"
    tables = chdb.query(
        "SELECT name, engine, sorting_key, partition_key FROM system.tables "
        "WHERE database = %(db)s ORDER BY name", parameters={"db": database}
    ).result_rows
    assert tables == [
        ("copy_progress", "MergeTree", "workspace_id, copied_up_to", ""),
        ("events", "ReplacingMergeTree", "workspace_id, type, name, toDate(timestamp), message_id", "toYYYYMM(timestamp)"),
        ("group_days", "AggregatingMergeTree", "workspace_id, slot, day, group_id", "toYYYYMM(day)"),
        ("group_days_of_input", "MaterializedView", "", ""),
        ("group_firsts", "AggregatingMergeTree", "workspace_id, slot, type, name, group_id", ""),
        ("group_firsts_of_input", "MaterializedView", "", ""),
        ("memberships", "ReplacingMergeTree", "workspace_id, id", ""),
        ("person_days", "AggregatingMergeTree", "workspace_id, groups, day, person_id", "toYYYYMM(day)"),
        ("person_days_of_input", "MaterializedView", "", ""),
        # What the rollups' views read: the events to add up, kept nowhere.
        ("rollup_input", "Null", "", ""),
        ("schema_migrations", "MergeTree", "name", ""),
    ]
    assert chdb.query(f"SELECT name FROM {database}.schema_migrations ORDER BY name").result_rows == [
        ("0001_events",), ("0002_copy_progress",), ("0003_lightweight_updates",), ("0004_rollups",),
        ("0005_group_day_extremes",), ("0006_memberships",), ("0007_person_days",), ("0008_rollups_caught_up",),
        ("0009_rollups_added_by_flushes",),
    ]
    # The events numbered after some number are found by each granule's least and greatest.
    assert chdb.query(
        "SELECT name, type, expr FROM system.data_skipping_indices WHERE database = %(db)s AND table = 'events'",
        parameters={"db": database},
    ).result_rows == [("id_range", "minmax", "id")]
    # Lightweight UPDATE needs each row's block number and offset kept.
    create = chdb.command(f"SHOW CREATE TABLE {database}.events")
    assert "enable_block_number_column = 1, enable_block_offset_column = 1" in create
    columns = {
        (table, name): kind
        for table, name, kind in chdb.query(
            "SELECT table, name, type FROM system.columns WHERE database = %(db)s", parameters={"db": database}
        ).result_rows
    }
    assert columns["events", "group_9_id"] == "Nullable(UInt64)"
    assert columns["events", "timestamp"] == "DateTime64(6, 'UTC')"
    assert columns["events", "day"] == "Date"
    assert columns["group_days", "least_person"] == "SimpleAggregateFunction(min, UInt64)"
    assert columns["group_days", "greatest_person"] == "SimpleAggregateFunction(max, UInt64)"


def test_a_call_stored_twice_is_read_once(chdb, settings, db):
    """A retried call is written again with the same moment (fixed at its first
    delivery): the two copies share the sorting key, and reads with FINAL see one."""
    database = settings.CLICKHOUSE["database"]
    run()
    insert(chdb, database, [event("m-1"), event("m-2", id=2)])
    insert(chdb, database, [event("m-1")])  # the retry, in a batch of its own
    assert chdb.command(f"SELECT count() FROM {database}.events") == 3
    assert chdb.command(f"SELECT count() FROM {database}.events FINAL") == 2
    assert chdb.command(f"SELECT uniqExact(message_id) FROM {database}.events FINAL WHERE group_0_id = 3") == 2
    # Another workspace's call with the same message id is another call.
    insert(chdb, database, [event("m-1", id=3, workspace_id=8)])
    assert chdb.command(f"SELECT count() FROM {database}.events FINAL") == 3


def test_without_clickhouse_url_the_command_says_what_to_set(settings):
    settings.CLICKHOUSE = None
    with pytest.raises(CommandError, match=r"^CLICKHOUSE_URL is not set: clickhouse://user:password@host"):
        run()


def test_the_statements_for_a_cluster(chdb):
    """Every table on every server of the cluster (ON CLUSTER); the events replicated
    within a shard, and read and written through a table that keeps each person's events
    on one shard. Each statement parses; only a real cluster runs them."""
    printed = run("--print", "--cluster", "analytics", "--database", "big")
    statements = [s.strip() for s in printed.split(";\n") if s.strip()]
    statements = [re.sub(r"^(--[^\n]*\n)+", "", s) for s in statements]
    # A migration with nothing to run in ClickHouse prints its name alone.
    assert statements[-1] == "-- 0009_rollups_added_by_flushes"
    statements = statements[:-1]
    # The rollups' tables, views and the first filling of each (an INSERT, sent through
    # the Distributed table) after those of the events.
    statements, rollups = statements[:6], statements[6:]
    rollups, extremes, memberships, person_days, caught_up = (
        rollups[:10], rollups[10:16], rollups[16:17], rollups[17:21], rollups[21:]
    )
    assert len(rollups) == 2 + 4 * 2
    assert all(" ON CLUSTER 'analytics'" in s for s in statements + rollups if not s.startswith("INSERT"))
    assert "ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/big/group_days_local', '{replica}')" in rollups[2]
    assert rollups[4].startswith(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS big.group_days_of_events ON CLUSTER 'analytics' TO big.group_days_local "
        "AS SELECT"
    )
    assert " FROM big.events_local ARRAY JOIN " in rollups[4]
    assert rollups[5].startswith("INSERT INTO big.group_days SELECT") and " FROM big.events FINAL " in rollups[5]
    # Group days gain their people's extremes on every server, the view replaced.
    assert extremes[:4] == [
        f"ALTER TABLE big.{table} ON CLUSTER 'analytics' ADD COLUMN IF NOT EXISTS {column}"
        for table in ("group_days_local", "group_days")
        for column in (
            "least_person SimpleAggregateFunction(min, UInt64)", "greatest_person SimpleAggregateFunction(max, UInt64)"
        )
    ]
    assert extremes[4] == "DROP VIEW IF EXISTS big.group_days_of_events ON CLUSTER 'analytics' SYNC"
    assert extremes[5] == rollups[4]
    # The memberships whole on every server.
    assert memberships == [
        "CREATE TABLE IF NOT EXISTS big.memberships ON CLUSTER 'analytics' (\n    id UInt64,\n    workspace_id UInt64,\n"
        "    group_type_id UInt64,\n    person_id UInt64,\n    group_id UInt64,\n    started_at DateTime64(6, 'UTC'),\n"
        "    ended_at Nullable(DateTime64(6, 'UTC')),\n    version UInt64,\n    is_deleted UInt8\n)\n"
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/big/memberships', '{shard}-{replica}', version, "
        "is_deleted)\nORDER BY (workspace_id, id)"
    ]
    # People's days: as the groups' rollups, each shard's own behind a Distributed table.
    assert len(person_days) == 4
    assert person_days[0].startswith("CREATE TABLE IF NOT EXISTS big.person_days_local ON CLUSTER 'analytics' (")
    assert "ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/big/person_days_local', '{replica}')" in person_days[0]
    assert person_days[1].endswith("ENGINE = Distributed('analytics', 'big', 'person_days_local', workspace_id)")
    assert person_days[2].startswith(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS big.person_days_of_events ON CLUSTER 'analytics' TO big.person_days_local"
    )
    assert person_days[3].startswith("INSERT INTO big.person_days SELECT")
    # The rollups' views read the events to add up, on the shard of their person, from
    # a table keeping nothing; those on the events go.
    assert caught_up[:5] == [
        "ALTER TABLE big.events_local ON CLUSTER 'analytics' ADD INDEX IF NOT EXISTS id_range id TYPE minmax GRANULARITY 1",
        "ALTER TABLE big.events_local ON CLUSTER 'analytics' MATERIALIZE INDEX id_range",
        "CREATE TABLE IF NOT EXISTS big.rollup_input_local ON CLUSTER 'analytics' (\n    workspace_id UInt64,\n"
        "    person_id UInt64,\n    type LowCardinality(String),\n    name String,\n"
        "    timestamp DateTime64(6, 'UTC'),\n    day Date,\n"
        + "".join(f"    group_{slot}_id Nullable(UInt64),\n" for slot in range(10))[:-2]
        + "\n)\nENGINE = Null",
        "CREATE TABLE IF NOT EXISTS big.rollup_input ON CLUSTER 'analytics' AS big.rollup_input_local\n"
        "ENGINE = Distributed('analytics', 'big', 'rollup_input_local', sipHash64(workspace_id, person_id))",
        "DROP VIEW IF EXISTS big.group_days_of_events ON CLUSTER 'analytics' SYNC",
    ]
    assert len(caught_up) == 4 + 3 * 2
    assert caught_up[5].startswith(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS big.group_days_of_input ON CLUSTER 'analytics' TO big.group_days_local "
    )
    assert " FROM big.rollup_input_local ARRAY JOIN " in caught_up[5]
    assert caught_up[9].startswith(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS big.person_days_of_input ON CLUSTER 'analytics' TO big.person_days_local "
    )
    for statement in rollups + extremes + memberships + person_days + caught_up:
        chdb.command("SELECT formatQuery(%(sql)s)", parameters={"sql": statement})
    assert statements[0] == "CREATE DATABASE IF NOT EXISTS big ON CLUSTER 'analytics'"
    assert (
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/big/events_local', "
        "'{replica}', _inserted_at)"
    ) in statements[2]
    # The tables on every server name their replicas after the shard too.
    assert "ENGINE = ReplicatedMergeTree('/clickhouse/tables/big/schema_migrations', '{shard}-{replica}')" in statements[1]
    assert "ENGINE = ReplicatedMergeTree('/clickhouse/tables/big/copy_progress', '{shard}-{replica}')" in statements[4]
    assert statements[3] == (
        "CREATE TABLE IF NOT EXISTS big.events ON CLUSTER 'analytics' AS big.events_local\n"
        "ENGINE = Distributed('analytics', 'big', 'events_local', sipHash64(workspace_id, person_id))"
    )
    assert statements[5] == (
        "ALTER TABLE big.events_local ON CLUSTER 'analytics' "
        "MODIFY SETTING enable_block_number_column = 1, enable_block_offset_column = 1"
    )
    for statement in statements:
        formatted = chdb.command("SELECT formatQuery(%(sql)s)", parameters={"sql": statement})
        assert "ON CLUSTER analytics" in formatted


def test_one_server_s_statements_print_without_a_cluster():
    printed = run("--print", "--database", "reports")
    assert "ON CLUSTER" not in printed and "Distributed" not in printed
    assert "CREATE TABLE IF NOT EXISTS reports.events (" in printed
    assert "ENGINE = ReplacingMergeTree(_inserted_at)" in printed


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--print", "--cluster", "x'; DROP"], "--cluster takes a cluster's name"),
        (["--print", "--database", "big-one"], "--database takes letters, digits and underscores"),
        (["--database", "big"], "--database goes with --print"),
    ],
)
def test_names_that_would_not_be_a_name_are_refused(args, error):
    with pytest.raises(CommandError, match=re.escape(error)):
        run(*args)
