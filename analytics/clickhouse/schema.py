"""The ClickHouse schema: its migrations, each a list of statements safe to run again
(``IF NOT EXISTS``), for one server or for a sharded, replicated cluster.

One server: ``events``, a ``ReplacingMergeTree``. A cluster (``ON CLUSTER``): on each
shard ``events_local``, a ``ReplicatedReplacingMergeTree`` replicated among the shard's
replicas (ZooKeeper or ClickHouse Keeper, and the ``{shard}`` and ``{replica}`` macros
in each server's configuration), and ``events``, a ``Distributed`` table over them that
sends each person's events to one shard (the sharding key), so that what follows one
person (a funnel, a retention) is worked out where their events are. The servers'
``remote_servers`` configuration sets ``internal_replication`` to true (the replicated
tables copy among a shard's replicas themselves). A person's events can change hands (a
visitor who turns out to be a known user): the store is to move them (inserted again
through ``events``, then deleted where they were), not update them in place, so that
they land on the new person's shard; that part is still to come.

The sorting key is (workspace, call type, name, day, message id): a report reads the
days of the events it names, a few hundredths of a workspace's (a trend of one event
over 90 days read 260 ms sorted by day first, 63 ms so; a funnel 390 and 82, on
10,000,000 events). A retry of a call writes the same row again: its type and name are
the call's, its moment is fixed when the call is first stored (its receipt in the main
database, ``EventReceipt``), so both copies have one key and the table keeps one of
them; reads that must not count a copy twice ask for ``FINAL``, and since the key holds
the day, both copies are in one partition. No column that may change (the person, after
a visitor turns out to be a known user; a group, when its type is deleted) is in the
key: ClickHouse cannot update those.

Applied migrations are recorded in ``schema_migrations``.
"""

from collections.abc import Callable
from dataclasses import dataclass

from analytics.models import ACTIVITY_TYPES, GROUP_SLOTS

MIGRATIONS_TABLE = "schema_migrations"


@dataclass(frozen=True)
class Target:
    """Where the statements go: a database, on one server or on every server of a
    cluster."""

    database: str
    cluster: str | None = None

    @property
    def on_cluster(self) -> str:
        return f" ON CLUSTER '{self.cluster}'" if self.cluster else ""

    def engine(self, table: str, engine: str, *arguments: str, sharded=True) -> str:
        """``engine`` (MergeTree, ReplacingMergeTree) on one server; on a cluster its
        replicated form, replicated among a shard's replicas (``sharded``) or among
        every server."""
        if not self.cluster:
            return f"{engine}({', '.join(arguments)})"
        shard = "{shard}/" if sharded else ""
        path = f"'/clickhouse/tables/{shard}{self.database}/{table}'"
        # A table on every server has every server for a replica: its name must be
        # unique in the whole cluster, where {replica} may repeat from shard to shard.
        replica = "'{replica}'" if sharded else "'{shard}-{replica}'"
        return f"Replicated{engine}({', '.join([path, replica, *arguments])})"


EVENT_COLUMNS = [
    # The event's number, given by the main database when the call is first stored.
    ("id", "UInt64"),
    ("workspace_id", "UInt64"),
    ("person_id", "UInt64"),
    ("type", "LowCardinality(String)"),
    ("name", "String"),
    ("timestamp", "DateTime64(6, 'UTC')"),
    ("received_at", "DateTime64(6, 'UTC')"),
    ("sent_at", "Nullable(DateTime64(6, 'UTC'))"),
    ("message_id", "String"),
    ("user_id", "String"),
    ("anonymous_id", "String"),
    ("properties", "String CODEC(ZSTD(3))"),  # JSON text, read with JSONExtract…
    ("context", "String CODEC(ZSTD(3))"),
    *((f"group_{slot}_id", "Nullable(UInt64)") for slot in range(GROUP_SLOTS)),
    # Which copy of a row a merge keeps (the latest written).
    ("_inserted_at", "DateTime64(6, 'UTC') DEFAULT now64(6)"),
]


def _columns(columns) -> str:
    return ",\n    ".join(f"{name} {kind}" for name, kind in columns)


def _events(target: Target) -> list[str]:
    db = target.database
    local = "events_local" if target.cluster else "events"
    statements = [
        f"CREATE TABLE IF NOT EXISTS {db}.{local}{target.on_cluster} (\n    {_columns(EVENT_COLUMNS)}\n)\n"
        f"ENGINE = {target.engine(local, 'ReplacingMergeTree', '_inserted_at')}\n"
        "PARTITION BY toYYYYMM(timestamp)\n"
        "ORDER BY (workspace_id, type, name, toDate(timestamp), message_id)"
    ]
    if target.cluster:
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {db}.events{target.on_cluster} AS {db}.events_local\n"
            f"ENGINE = Distributed('{target.cluster}', '{db}', 'events_local', "
            "sipHash64(workspace_id, person_id))"
        )
    return statements


def _copy_progress(target: Target) -> list[str]:
    """How far copying each workspace's events from the main database got: a row per
    batch stored (``analytics.clickhouse.copy``)."""
    return [
        f"CREATE TABLE IF NOT EXISTS {target.database}.copy_progress{target.on_cluster} "
        "(workspace_id UInt64, copied_up_to UInt64, at DateTime64(6, 'UTC') DEFAULT now64(6))\n"
        f"ENGINE = {target.engine('copy_progress', 'MergeTree', sharded=False)}\n"
        "ORDER BY (workspace_id, copied_up_to)"
    ]


def _lightweight_updates(target: Target) -> list[str]:
    """Lightweight ``UPDATE`` of events (a visitor's events becoming a user's): it needs
    the parts to keep each row's block number and offset."""
    local = "events_local" if target.cluster else "events"
    return [
        f"ALTER TABLE {target.database}.{local}{target.on_cluster} "
        "MODIFY SETTING enable_block_number_column = 1, enable_block_offset_column = 1"
    ]


# The rollups of the events (``_rollups``): what each holds, by its sorting key, and the
# SELECT that works its rows out of events (``FROM`` and its conditions added).
# The least and the greatest id of a group day's people (migration 0005): a day whose
# extremes are not both internal people had someone else active, which reports leaving
# internal people out learn without reading the day's people (``people``, a bitmap read a
# hundred times slower); 0 in rows written before the columns (unknown: read the people).
PEOPLE_EXTREMES = (
    "least_person SimpleAggregateFunction(min, UInt64)",
    "greatest_person SimpleAggregateFunction(max, UInt64)",
)

ROLLUPS = {
    "group_days": (
        "(workspace_id UInt64, slot UInt8, day Date, group_id UInt64, "
        f"people AggregateFunction(groupBitmap, UInt64), {', '.join(PEOPLE_EXTREMES)})",
        "PARTITION BY toYYYYMM(day) ORDER BY (workspace_id, slot, day, group_id)",
        "SELECT workspace_id, slot, day, assumeNotNull(g) AS group_id, groupBitmapState(person_id) AS people, "
        "min(person_id) AS least_person, max(person_id) AS greatest_person",
        "GROUP BY workspace_id, slot, day, group_id",
    ),
    "group_firsts": (
        "(workspace_id UInt64, slot UInt8, type LowCardinality(String), name String, group_id UInt64, "
        "first SimpleAggregateFunction(min, DateTime64(6, 'UTC')))",
        "ORDER BY (workspace_id, slot, type, name, group_id)",
        "SELECT workspace_id, slot, type, name, assumeNotNull(g) AS group_id, min(timestamp) AS first",
        "GROUP BY workspace_id, slot, type, name, group_id",
    ),
}


# An event's row once for each slot: ``slot``, and ``g`` the group there (NULL for none).
# Which slots of an event's context hold a group: bit N for slot N.
GROUPS_MASK = "toUInt16(" + " + ".join(
    f"bitShiftLeft(toUInt16(group_{slot}_id IS NOT NULL), {slot})" for slot in range(GROUP_SLOTS)
) + ")"

# A person's days of activity (``person_days``, migration 0007): a row per day and set of
# slots holding a group (``groups``, ``GROUPS_MASK``), the first and the last moment of
# the person's activity events of that day with that context. The over-count of active
# groups credits such a row without a group of a type to the groups its person was in
# at some moment from first to last: one of its events was in them then, unless the
# membership began and ended between two of them (only a membership of a single day can:
# those read the events). Sorted by context first: the rows without a group of a type
# are read together.
PERSON_ROLLUPS = {
    "person_days": (
        "(workspace_id UInt64, day Date, person_id UInt64, groups UInt16, "
        "first SimpleAggregateFunction(min, DateTime64(6, 'UTC')), "
        "last SimpleAggregateFunction(max, DateTime64(6, 'UTC')))",
        "PARTITION BY toYYYYMM(day) ORDER BY (workspace_id, groups, day, person_id)",
        f"SELECT workspace_id, day, person_id, {GROUPS_MASK} AS groups, min(timestamp) AS first, "
        "max(timestamp) AS last",
        "GROUP BY workspace_id, day, person_id, groups",
    ),
}

EACH_SLOT = (
    f"ARRAY JOIN [{', '.join(str(slot) for slot in range(GROUP_SLOTS))}] AS slot, "
    f"[{', '.join(f'group_{slot}_id' for slot in range(GROUP_SLOTS))}] AS g"
)


def rollup_select(rollup: str, events: str, where: str = "1") -> str:
    """SQL of ``rollup``'s rows worked out of the activity events of ``events`` (a table,
    with FINAL or not) passing ``where``: one per group of each slot an event carries
    (``ROLLUPS``), or per person (``PERSON_ROLLUPS``)."""
    activity = ", ".join(f"'{kind}'" for kind in ACTIVITY_TYPES)
    if rollup in PERSON_ROLLUPS:
        _, _, select, group_by = PERSON_ROLLUPS[rollup]
        return f"{select} FROM {events} WHERE type IN ({activity}) AND ({where}) {group_by}"
    _, _, select, group_by = ROLLUPS[rollup]
    return (
        f"{select} FROM {events} {EACH_SLOT} "
        f"WHERE type IN ({activity}) AND g IS NOT NULL AND ({where}) {group_by}"
    )


def _rollups(target: Target) -> list[str]:
    """What reports of any activity by a group type read rather than every event, as
    PostgreSQL reads its group days: each group's days of activity in the workspace's
    time zone, with the people active (``group_days``), and the first moment each group
    did each event (``group_firsts``).

    Materialized views add to them as events are inserted (since migration 0008, as
    events stored are added up: ``_rollups_caught_up``). They hold only what a second
    copy of a row leaves as it was (a set of people, the earliest moment), so a retried
    call adds nothing. What changes events already stored works them out again for the
    groups it touches (``analytics.clickhouse.rollups.rebuild``). ``day``, the day
    of the workspace's time zone, is written with each event (the day in UTC for events
    stored before: ``clickhouse_schema`` works every workspace's out again after this
    migration)."""
    db, cluster = target.database, target.cluster
    local = "events_local" if cluster else "events"
    statements = [
        f"ALTER TABLE {db}.{local}{target.on_cluster} ADD COLUMN IF NOT EXISTS day Date DEFAULT toDate(timestamp)"
    ]
    if cluster:
        statements.append(
            f"ALTER TABLE {db}.events{target.on_cluster} ADD COLUMN IF NOT EXISTS day Date DEFAULT toDate(timestamp)"
        )
    return statements + _rollup_tables(target, tuple(ROLLUPS))


def _rollup_tables(target: Target, rollups: tuple[str, ...]) -> list[str]:
    """Each of ``rollups``: its table (on a cluster, each shard's ``…_local`` and a
    ``Distributed`` table over them), the materialized view adding to it, and its rows of
    the events stored so far."""
    db, cluster = target.database, target.cluster
    statements = []
    for rollup in rollups:
        columns, key, _, _ = {**ROLLUPS, **PERSON_ROLLUPS}[rollup]
        table = f"{rollup}_local" if cluster else rollup
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {db}.{table}{target.on_cluster} {columns}\n"
            f"ENGINE = {target.engine(table, 'AggregatingMergeTree')}\n{key}"
        )
        if cluster:
            statements.append(
                f"CREATE TABLE IF NOT EXISTS {db}.{rollup}{target.on_cluster} AS {db}.{table}\n"
                f"ENGINE = Distributed('{cluster}', '{db}', '{table}', workspace_id)"
            )
        statements.append(_rollup_view(target, rollup))
        # The events stored before: a group's rows added twice are the same rows.
        statements.append(f"INSERT INTO {db}.{rollup} {rollup_select(rollup, f'{db}.events FINAL')}")
    return statements


def _rollup_view(target: Target, rollup: str) -> str:
    """The materialized view adding the rows of each insert of events to ``rollup``."""
    db, local = target.database, "events_local" if target.cluster else "events"
    table = f"{rollup}_local" if target.cluster else rollup
    return (
        f"CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.{rollup}_of_events{target.on_cluster} "
        f"TO {db}.{table} AS {rollup_select(rollup, f'{db}.{local}')}"
    )


def _group_day_extremes(target: Target) -> list[str]:
    """``group_days`` gains the least and the greatest person of each day
    (``PEOPLE_EXTREMES``), its view writing them from now on. Rows written before hold
    0 in both until ``clickhouse_schema`` works every workspace's rollups out again
    after this migration (``REBUILD_AFTER``); reads take 0 for "unknown" meanwhile. The
    view is replaced (dropped, then made again): rows inserted in between are in the
    rollups once they are worked out again."""
    db = target.database
    tables = ["group_days_local", "group_days"] if target.cluster else ["group_days"]
    statements = [
        f"ALTER TABLE {db}.{table}{target.on_cluster} ADD COLUMN IF NOT EXISTS {column}"
        for table in tables
        for column in PEOPLE_EXTREMES
    ]
    statements.append(f"DROP VIEW IF EXISTS {db}.group_days_of_events{target.on_cluster} SYNC")
    statements.append(_rollup_view(target, "group_days"))
    return statements


# In order; a migration's name never changes once released.
MEMBERSHIP_COLUMNS = [
    ("id", "UInt64"),
    ("workspace_id", "UInt64"),
    ("group_type_id", "UInt64"),
    ("person_id", "UInt64"),
    ("group_id", "UInt64"),
    ("started_at", "DateTime64(6, 'UTC')"),
    ("ended_at", "Nullable(DateTime64(6, 'UTC'))"),
    ("version", "UInt64"),
    ("is_deleted", "UInt8"),
]


def _memberships(target: Target) -> list[str]:
    """The copy of the main database's memberships (``analytics.clickhouse.memberships``):
    a row per membership, its latest version kept (a deleted one, marked, left out by
    FINAL). Whole on every server of a cluster (replicated among all of them, not
    sharded), so that each shard joins its events to it where they are. Filled by
    ``clickhouse_schema`` once this is applied (``REBUILD_AFTER``)."""
    return [
        f"CREATE TABLE IF NOT EXISTS {target.database}.memberships{target.on_cluster} "
        f"(\n    {_columns(MEMBERSHIP_COLUMNS)}\n)\n"
        f"ENGINE = {target.engine('memberships', 'ReplacingMergeTree', 'version', 'is_deleted', sharded=False)}\n"
        "ORDER BY (workspace_id, id)"
    ]


def _person_days(target: Target) -> list[str]:
    """``person_days`` (``PERSON_ROLLUPS``), made and filled as ``_rollups`` makes the
    groups' rollups."""
    return _rollup_tables(target, ("person_days",))


# What the rollups' views read (``rollup_input``): the columns of events they use.
ROLLUP_INPUT_COLUMNS = [
    ("workspace_id", "UInt64"),
    ("person_id", "UInt64"),
    ("type", "LowCardinality(String)"),
    ("name", "String"),
    ("timestamp", "DateTime64(6, 'UTC')"),
    ("day", "Date"),
    *((f"group_{slot}_id", "Nullable(UInt64)") for slot in range(GROUP_SLOTS)),
]


def add_up_sql(database: str) -> str:
    """The statement adding a workspace's events numbered from ``%(after)s`` (excluded)
    to ``%(up_to)s`` to the rollups, as they are now (``FINAL``: of a call written
    twice, the copy kept); found by the index of each granule's numbers (``id_range``),
    not by reading every event. Adding one twice changes nothing."""
    columns = ", ".join(name for name, _ in ROLLUP_INPUT_COLUMNS)
    return (
        f"INSERT INTO {database}.rollup_input ({columns}) SELECT {columns} FROM {database}.events FINAL "
        "WHERE workspace_id = %(w)s AND id > %(after)s AND id <= %(up_to)s"
    )


def _rollups_caught_up(target: Target) -> list[str]:
    """The rollups are no longer added to as events are inserted (their views cost a
    insert a third of its time) but a batch of events at a time
    (``analytics.clickhouse.rollups.catch_up``): their views read ``rollup_input``, a table
    that keeps nothing (``Null``) which the events to add are inserted into, once stored.
    ``events`` gains an index of each granule's least and greatest number (``id``), by
    which the events numbered after some number are found without reading the others.
    Every workspace's rollups are worked out again after this migration
    (``REBUILD_AFTER``), which records how far they are (``RollupProgress``)."""
    db, cluster = target.database, target.cluster
    events = "events_local" if cluster else "events"
    source = "rollup_input_local" if cluster else "rollup_input"
    statements = [
        f"ALTER TABLE {db}.{events}{target.on_cluster} ADD INDEX IF NOT EXISTS id_range id TYPE minmax GRANULARITY 1",
        # Not waited for (a mutation of every part: minutes at hundreds of millions of
        # events); until it is done, parts without the index are read whole.
        f"ALTER TABLE {db}.{events}{target.on_cluster} MATERIALIZE INDEX id_range",
        f"CREATE TABLE IF NOT EXISTS {db}.{source}{target.on_cluster} (\n    {_columns(ROLLUP_INPUT_COLUMNS)}\n)\n"
        "ENGINE = Null",
    ]
    if cluster:
        # Each person's rows go to the shard that holds their events.
        statements.append(
            f"CREATE TABLE IF NOT EXISTS {db}.rollup_input{target.on_cluster} AS {db}.{source}\n"
            f"ENGINE = Distributed('{cluster}', '{db}', '{source}', sipHash64(workspace_id, person_id))"
        )
    for rollup in (*ROLLUPS, *PERSON_ROLLUPS):
        table = f"{rollup}_local" if cluster else rollup
        statements += [
            f"DROP VIEW IF EXISTS {db}.{rollup}_of_events{target.on_cluster} SYNC",
            f"CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.{rollup}_of_input{target.on_cluster} "
            f"TO {db}.{table} AS {rollup_select(rollup, f'{db}.{source}')}",
        ]
    return statements


def _rollups_added_by_flushes(target: Target) -> list[str]:
    """Nothing changes in ClickHouse: events are now queued by ingestion and stored by
    flushes, each of which adds its own to the rollups and records how far they go
    (``RollupProgress``), past events stored before by requests one at a time and not
    yet added up. So every workspace's rollups are worked out again once this is
    applied (``REBUILD_AFTER``): run after the version that stored events per request
    has stopped."""
    return []


# Migrations after which every workspace's rollups (and memberships) are worked out again
# (``clickhouse_schema``).
REBUILD_AFTER = {
    "0004_rollups",
    "0005_group_day_extremes",
    "0006_memberships",
    "0007_person_days",
    "0008_rollups_caught_up",
    "0009_rollups_added_by_flushes",
}

MIGRATIONS: list[tuple[str, Callable[[Target], list[str]]]] = [
    ("0001_events", _events),
    ("0002_copy_progress", _copy_progress),
    ("0003_lightweight_updates", _lightweight_updates),
    ("0004_rollups", _rollups),
    ("0005_group_day_extremes", _group_day_extremes),
    ("0006_memberships", _memberships),
    ("0007_person_days", _person_days),
    ("0008_rollups_caught_up", _rollups_caught_up),
    ("0009_rollups_added_by_flushes", _rollups_added_by_flushes),
]


def preamble(target: Target) -> list[str]:
    """The database and the table of applied migrations, before any migration."""
    return [
        f"CREATE DATABASE IF NOT EXISTS {target.database}{target.on_cluster}",
        f"CREATE TABLE IF NOT EXISTS {target.database}.{MIGRATIONS_TABLE}{target.on_cluster} "
        "(name String, applied_at DateTime64(6, 'UTC') DEFAULT now64(6))\n"
        f"ENGINE = {target.engine(MIGRATIONS_TABLE, 'MergeTree', sharded=False)}\nORDER BY name",
    ]


def statements(target: Target) -> list[tuple[str, list[str]]]:
    """Every statement of the schema, by migration ("" for the preamble)."""
    return [("", preamble(target))] + [(name, make(target)) for name, make in MIGRATIONS]


def applied(client, target: Target) -> set[str]:
    """The migrations applied to the database (none when it has no schema yet)."""
    exists = client.command(
        "SELECT count() FROM system.tables WHERE database = %(db)s AND name = %(table)s",
        parameters={"db": target.database, "table": MIGRATIONS_TABLE},
    )
    if not exists:
        return set()
    return {
        name for (name,) in client.query(f"SELECT name FROM {target.database}.{MIGRATIONS_TABLE}").result_rows
    }


def up_to_date(client, target: Target) -> bool:
    return applied(client, target) >= {name for name, _ in MIGRATIONS}


def migrate(client, target: Target) -> list[str]:
    """Apply the migrations not applied yet, in order; the names of those applied. Safe
    to run again, also after a migration failed half way (its statements are)."""
    for sql in preamble(target):
        client.command(sql)
    done = applied(client, target)
    now = []
    for name, make in MIGRATIONS:
        if name in done:
            continue
        for sql in make(target):
            client.command(sql)
        client.insert(f"{target.database}.{MIGRATIONS_TABLE}", [[name]], column_names=["name"])
        now.append(name)
    return now
