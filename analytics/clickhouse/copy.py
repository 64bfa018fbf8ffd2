"""Copying a workspace's events from the main database into ClickHouse, in order of
their numbers (ids), a batch at a time.

Resumable: after each batch is stored, the number of its last event is recorded
(``copy_progress``), and a run starts after the highest recorded. Not after the highest
number among the events ClickHouse holds: an insert that failed may have stored some of
a batch's parts (one per month it spans) and not others. A batch stored twice (a run
stopped between storing it and recording it) writes rows with the same sorting key,
which ClickHouse keeps once (reads with ``FINAL``)."""

from collections.abc import Callable, Iterator

import orjson

from analytics.clickhouse.schema import EVENT_COLUMNS
from analytics.models import Event, Workspace

# The events table's columns that a copy writes (all but the insertion moment), each
# the attname of the main database's field of the same name.
COLUMNS = [name for name, _ in EVENT_COLUMNS if not name.startswith("_")]
JSON = {"properties", "context"}


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


def batches(workspace: Workspace, after: int, size: int) -> Iterator[list[list]]:
    """The workspace's events numbered above ``after``, in order, ``size`` at a time, as
    rows of ``COLUMNS`` (JSON as text)."""
    events = Event.objects.filter(workspace=workspace).order_by("pk")
    while True:
        rows = list(events.filter(pk__gt=after).values_list(*COLUMNS)[:size])
        if not rows:
            return
        json_at = [i for i, name in enumerate(COLUMNS) if name in JSON]
        batch = []
        for row in rows:
            row = list(row)
            for i in json_at:
                row[i] = orjson.dumps(row[i]).decode()
            batch.append(row)
        yield batch
        after = rows[-1][0]


def copy_events(
    client,
    database: str,
    workspace: Workspace,
    *,
    batch_size: int = 50_000,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Copy the events of ``workspace`` not yet in ClickHouse; how many were copied.
    ``progress(copied, to copy)`` is called before the first batch and after each."""
    after = copied_up_to(client, database, workspace)
    total = Event.objects.filter(workspace=workspace, pk__gt=after).count()
    if progress:
        progress(0, total)
    copied = 0
    for batch in batches(workspace, after, batch_size):
        # Synchronous: once insert returns, the batch is stored, and the next run
        # starts after it.
        client.insert(f"{database}.events", batch, column_names=COLUMNS)
        client.insert(
            f"{database}.copy_progress", [[workspace.pk, batch[-1][0]]],
            column_names=["workspace_id", "copied_up_to"],
        )
        copied += len(batch)
        if progress:
            progress(copied, max(total, copied))
    return copied
