"""Copying a workspace's events from the main database into ClickHouse, in order of
their numbers (ids), a batch at a time.

Resumable: after each batch is stored, the number of its last event is recorded
(``copy_progress``), and a run starts after the highest recorded. Not after the highest
number among the events ClickHouse holds: an insert that failed may have stored some of
a batch's parts (one per month it spans) and not others. A batch stored twice (a run
stopped between storing it and recording it) writes rows with the same sorting key,
which ClickHouse keeps once (reads with ``FINAL``).

Numbers are taken when a batch of calls is stored, and its transaction commits a little
later: one may commit after a later one has. So a run stops at the first event received
less than ``settle`` seconds ago (five minutes by default, far longer than a batch of
calls takes), whose number may still have gaps below it; the next run goes on from
there.
"""

import json
from decimal import Decimal
from collections.abc import Callable, Iterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import orjson
from django.db import connection, transaction
from django.utils import timezone

from analytics.clickhouse.schema import EVENT_COLUMNS, add_up_sql
from analytics.models import DuplicateWindow, Event, Workspace

# The events table's columns that a copy writes (all but the insertion moment), each
# the attname of the main database's field of the same name.
COLUMNS = [name for name, _ in EVENT_COLUMNS if not name.startswith("_")]
# What is written of each event: those, and its day in the workspace's time zone (the
# rollups' day, ``schema._rollups``).
STORED_COLUMNS = [*COLUMNS, "day"]
JSON = {"properties", "context"}
SETTLE = timedelta(minutes=5)
# On a cluster, an insert into the Distributed table returns once every shard stored
# its rows, not once they are queued to be sent (its default): only then is a batch
# recorded as copied.
INSERT_SETTINGS = {"insert_distributed_sync": 1}


def json_text(value) -> str:
    """JSON as text in the form PostgreSQL's jsonb writes it, so that a value read out of
    it in ClickHouse (an array, an object) is the text PostgreSQL's ``->>`` gives: ``, ``
    and ``: `` between items, an object's keys by length then by their bytes, characters
    as they are, numbers without an exponent."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda key: (len(key.encode()), key.encode()))
        return "{" + ", ".join(f"{_scalar_text(key)}: {json_text(value[key])}" for key in keys) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(json_text(item) for item in value) + "]"
    return _scalar_text(value)


def _scalar_text(value) -> str:
    if isinstance(value, float):
        # As PostgreSQL's numeric writes the number the main database was sent
        # (``repr``): 1.5e+23 in full, 150000000000000000000000.
        return format(Decimal(repr(value)), "f")
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # an integer beyond 64 bits
        return json.dumps(value, ensure_ascii=False)


def locked_zone(workspace_id: int) -> ZoneInfo:
    """The workspace's time zone, its row share-locked (``FOR KEY SHARE``, on PostgreSQL)
    until the transaction ends."""
    if connection.vendor != "postgresql":
        return ZoneInfo(Workspace.objects.filter(pk=workspace_id).values_list("time_zone", flat=True).get())
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT time_zone FROM {Workspace._meta.db_table} WHERE id = %s FOR KEY SHARE", [workspace_id]
        )
        (zone,) = cursor.fetchone()
    return ZoneInfo(zone)


def copied_up_to(client, database: str, workspace: Workspace) -> int:
    """The number of the last event of ``workspace`` copied in a batch that was stored
    whole (0 for none)."""
    return int(
        client.command(
            f"SELECT max(copied_up_to) FROM {database}.copy_progress WHERE workspace_id = %(w)s",
            parameters={"w": workspace.pk},
        )
        or 0
    )


def batches(workspace: Workspace, after: int, size: int, *, settle=SETTLE) -> Iterator[list[list]]:
    """The workspace's events numbered above ``after``, in order, ``size`` at a time, as
    rows of ``COLUMNS`` (JSON as text), up to the first received less than ``settle``
    ago."""
    events = Event.objects.filter(workspace=workspace).order_by("pk")
    cutoff = timezone.now() - settle
    received = COLUMNS.index("received_at")
    json_at = [i for i, name in enumerate(COLUMNS) if name in JSON]
    while True:
        rows = list(events.filter(pk__gt=after).values_list(*COLUMNS)[:size])
        batch = []
        for row in rows:
            if row[received] >= cutoff:
                break
            row = list(row)
            for i in json_at:
                row[i] = json_text(row[i])
            batch.append(row)
        if batch:
            yield batch
        if len(batch) < size:
            return
        after = batch[-1][0]


def copy_events(
    client,
    database: str,
    workspace: Workspace,
    *,
    batch_size: int = 50_000,
    settle: timedelta = SETTLE,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Copy the events of ``workspace`` not yet in ClickHouse, but those received in
    the last ``settle``; how many were copied. ``progress(copied, to copy)`` is called
    before the first batch and after each."""
    after = copied_up_to(client, database, workspace)
    total = Event.objects.filter(
        workspace=workspace, pk__gt=after, received_at__lt=timezone.now() - settle
    ).count()
    if progress:
        progress(0, total)
    copied = 0
    moment = COLUMNS.index("timestamp")
    for batch in batches(workspace, after, batch_size, settle=settle):
        # Synchronous: once insert returns, the batch is stored, and only then is it
        # recorded, so the next run starts after it. Each event's day in the
        # workspace's time zone, read under a share lock on its row: a change of zone
        # (which locks it to work every day out again) waits for the batch, or went
        # before it.
        numbers = {"w": workspace.pk, "after": batch[0][0] - 1, "up_to": batch[-1][0]}
        if client.command(
            f"SELECT count() FROM {database}.events WHERE workspace_id = %(w)s AND id > %(after)s AND id <= %(up_to)s",
            parameters=numbers,
        ):
            # Some of the batch were stored by a run that stopped before recording it:
            # their moments may hold two copies until ClickHouse merges them.
            DuplicateWindow.objects.create(
                workspace=workspace, start=min(row[moment] for row in batch), end=max(row[moment] for row in batch)
            )
        with transaction.atomic():
            zone = locked_zone(workspace.pk)
            rows = [[*row, row[moment].astimezone(zone).date()] for row in batch]
            client.insert(f"{database}.events", rows, column_names=STORED_COLUMNS, settings=INSERT_SETTINGS)
        # Added to the rollups at once: their progress may be past these numbers
        # (events ingested into ClickHouse since the switch are numbered after them).
        client.command(
            add_up_sql(database),
            parameters=numbers,
            settings=INSERT_SETTINGS,
        )
        client.insert(
            f"{database}.copy_progress", [[workspace.pk, batch[-1][0]]],
            column_names=["workspace_id", "copied_up_to"], settings=INSERT_SETTINGS,
        )
        copied += len(batch)
        if progress:
            progress(copied, max(total, copied))
    return copied
