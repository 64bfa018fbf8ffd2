"""The copy ClickHouse keeps of the memberships (who was in which group, from when until
when), which the over-count of active groups joins the events to where they are, rather
than reading the memberships of the people concerned from the main database for every
report and sending them along.

The main database records each membership added, changed or deleted, whatever does it
(``MembershipChange``, written by triggers). ``sync`` takes a workspace's records and
writes into ``memberships`` (``schema._memberships``: a ``ReplacingMergeTree`` keyed by
the membership's number) each such membership's state now, with the number of its latest
record for version, or, for one no longer there, a row marked deleted. A membership's
records are numbered in the order of their transactions (each held the membership's row
until it committed, the trigger writing its record before), so a later state has a
greater version. The records are deleted in the same transaction, once ClickHouse has the
rows: a failure leaves them for the next sync. Syncs of a workspace take turns (an
advisory lock on PostgreSQL; SQLite has one writer at a time). Reads ask for ``FINAL``.

Reports of active groups sync before they read, and the task worker at each heartbeat
(few records wait then). ``mirror`` writes a workspace's memberships whole, version 0,
below every record's: ``clickhouse_schema`` after making the table (and with
``--rebuild-rollups``), and the copy command.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime

from django.db import connection, transaction

from analytics import clickhouse
from analytics.clickhouse.schema import MEMBERSHIP_COLUMNS
from analytics.clickhouse.sql import DELETE_SETTINGS, INSERT_SETTINGS_SYNC, command
from analytics.models import Membership, MembershipChange

# PostgreSQL's advisory locks that take turns at syncing a workspace's memberships.
LOCK_SPACE = 0x6D73  # "ms"; advisory locks of other kinds use other spaces
COLUMNS = [name for name, _ in MEMBERSHIP_COLUMNS]
BATCH = 100_000
FIELDS = ("id", "workspace_id", "group_type_id", "person_id", "group_id", "started_at", "ended_at")
# A deleted membership's row: only its key (workspace, number) and version matter.
NOWHERE = datetime(1970, 1, 1, tzinfo=UTC)


def table() -> str:
    return f"{clickhouse.database()}.memberships"


def of_type(group_type_id: int, *, workspace: str = "%(w)s") -> str:
    """SQL of (person_id, group_id, started_at, ended_at): the memberships of groups of
    the type, in the workspace (a placeholder of the query's)."""
    return (
        f"SELECT person_id, group_id, started_at, ended_at FROM {table()} FINAL "
        f"WHERE workspace_id = {workspace} AND group_type_id = {int(group_type_id)}"
    )


def sync(workspace_id: int, *, wait: bool = True) -> int:
    """Write into ClickHouse the workspace's memberships changed since the last sync; how
    many. Nothing is written (no lock taken) when none changed, as for most reports.
    Without ``wait`` (a report), nothing either while another sync or a ``mirror`` of
    the workspace runs: the report reads the copy as it is rather than wait for it."""
    if not MembershipChange.objects.filter(workspace_id=workspace_id).exists():
        return 0
    with transaction.atomic():
        if not _take_turn(workspace_id, wait=wait):
            return 0
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {MembershipChange._meta.db_table} WHERE workspace_id = %s RETURNING id, membership_id",
                [workspace_id],
            )
            taken = cursor.fetchall()
        if not taken:
            return 0
        versions: dict[int, int] = {}
        for record, membership in taken:
            versions[membership] = max(record, versions.get(membership, 0))
        found = {row[0]: row for row in Membership.objects.filter(pk__in=list(versions)).values_list(*FIELDS)}
        rows = [
            [*found[membership], version, 0]
            if membership in found
            else [membership, workspace_id, 0, 0, 0, NOWHERE, None, version, 1]
            for membership, version in sorted(versions.items())
        ]
        return _insert(rows)


def sync_all() -> int:
    """``sync`` every workspace with memberships changed (the task worker's heartbeat);
    how many memberships."""
    workspaces = MembershipChange.objects.values_list("workspace_id", flat=True).distinct().order_by()
    return sum(sync(workspace_id) for workspace_id in list(workspaces))


def mirror(workspace_id: int) -> int:
    """Write the workspace's memberships into ClickHouse whole, in place of what it held
    of them; how many."""
    with transaction.atomic():
        _take_turn(workspace_id)
        MembershipChange.objects.filter(workspace_id=workspace_id).delete()
        command(f"DELETE FROM {table()} WHERE workspace_id = %(w)s", {"w": workspace_id}, settings=DELETE_SETTINGS)
        memberships = Membership.objects.filter(workspace_id=workspace_id).order_by("pk").values_list(*FIELDS)
        return _insert([*row, 0, 0] for row in memberships.iterator(chunk_size=BATCH))


def _take_turn(workspace_id: int, *, wait: bool = True) -> bool:
    """Whether this transaction holds the workspace's turn (waiting for it, or only if
    it is free)."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        if not wait:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", [LOCK_SPACE, workspace_id])
            return cursor.fetchone()[0]
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_SPACE, workspace_id])
        return True


def _insert(rows: Iterable[list]) -> int:
    """Insert ``rows`` (of ``COLUMNS``) a batch at a time; how many."""
    written = 0
    for batch in itertools.batched(rows, BATCH):
        clickhouse.client().insert(table(), batch, column_names=COLUMNS, settings=INSERT_SETTINGS_SYNC)
        written += len(batch)
    return written
