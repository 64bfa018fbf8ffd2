"""Statements run on ClickHouse: the tables' names, queries, changes, and the settings
they run with. Shared by the store (``store``), its rollups (``rollups``) and the
reads (``reads``, ``analytics.reports.clickhouse``)."""

from datetime import UTC, datetime

from django.conf import settings as django_settings

from analytics import clickhouse

# Inserts are buffered by the server with others (many small batches make few parts)
# and the call returns once they are written to the table; on a cluster, once every
# shard has them.
INSERT_SETTINGS = {
    "async_insert": 1,
    "wait_for_async_insert": 1,
    # The buffer is written 10 ms after its first rows when calls are few, up to 200 ms
    # as they grow many (the server adapts it): a call waits little, and a busy server
    # still writes few parts.
    "async_insert_busy_timeout_min_ms": 10,
    "async_insert_busy_timeout_max_ms": 200,
    "insert_distributed_sync": 1,
}
# A rollup's rows worked out again are written at once (the rest of the change waits),
# and never taken for a copy of a block written before (a replicated table's
# deduplication), since that block's rows may just have been deleted.
INSERT_SETTINGS_SYNC = {"async_insert": 0, "insert_distributed_sync": 1, "insert_deduplicate": 0}
# Changes return once every replica has applied them (a server's default returns at once).
MUTATION_SETTINGS = {"mutations_sync": 2}
DELETE_SETTINGS = {"lightweight_deletes_sync": 2, "mutations_sync": 2}
UPDATE_SETTINGS = {"update_sequential_consistency": 1}


def table() -> str:
    return f"{clickhouse.database()}.events"


def rollup_table(rollup: str) -> str:
    """One of the rollups (``schema.ROLLUPS``), as reports read it."""
    return f"{clickhouse.database()}.{rollup}"


def changed_table(name: str = "events") -> str:
    """The table that changes to stored events (UPDATE, DELETE, mutations), or to the
    rollup ``name``, are made to: the table, or on a cluster (``CLICKHOUSE_CLUSTER``)
    every shard's local one (a Distributed table takes no change)."""
    cluster = django_settings.CLICKHOUSE_CLUSTER
    if cluster:
        return f"{clickhouse.database()}.{name}_local ON CLUSTER '{cluster}'"
    return f"{clickhouse.database()}.{name}"


# Queries may name many ids (a group's members, everyone deleted at an email domain).
QUERY_SETTINGS = {"max_query_size": 256 * 1024 * 1024}


def query(sql: str, parameters: dict | None = None, *, settings: dict | None = None):
    """The rows of a SELECT, as tuples."""
    return (
        clickhouse.client()
        .query(sql, parameters=parameters or {}, settings={**QUERY_SETTINGS, **(settings or {})})
        .result_rows
    )


def scalar(sql: str, parameters: dict | None = None):
    """The value of a SELECT of one row of one column. A query, not a command: the
    embedded engine's client applies a command's settings by setting them for its
    session and back (five statements more, 2 ms), a query's in its SETTINGS clause."""
    return query(sql, parameters)[0][0]


def command(sql: str, parameters: dict | None = None, *, settings: dict | None = None):
    """A statement that changes something, run to its end (``settings`` say how far)."""
    clickhouse.client().command(sql, parameters=parameters or {}, settings={**QUERY_SETTINGS, **(settings or {})})


def moment_text(value: datetime) -> str:
    """A moment as ClickHouse's DateTime64(6) text, in UTC (parameters are formatted by
    the client, which would drop the microseconds of a datetime)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
