"""The rollups of ClickHouse's events (``schema.ROLLUPS``, ``schema.PERSON_ROLLUPS``):
kept up a batch of events at a time, and worked out again when stored events change.

The insert of events does not add to them (their views would cost an insert a third
of its time): a flush of queued events adds them itself, from the rows it inserted
(``roll_up_rows``), and ``catch_up`` adds the events stored since the last time,
before a report reads them and at the task worker's heartbeat, recording how far it
got (``RollupProgress``), which flushes record too: a safety net, since nothing
stores events without adding them up (the copy command adds its own; events stored by
the version before the queue are worked out by the schema's migration
``0009_rollups_added_by_flushes``). Neither waits for the other.

What changes events already stored (a deletion, a merge, a group type's removal, a
change of time zone) holds the workspace's rollups first (``hold``), then works out
again those of the groups and people it touched (``rebuild``).
"""

import contextlib
import time

from django.db import connection, transaction
from django.db.models.functions import Greatest

from analytics import clickhouse
from analytics.clickhouse.schema import PERSON_ROLLUPS, ROLLUP_INPUT_COLUMNS, ROLLUPS, add_up_sql, rollup_select
from analytics.clickhouse.sql import (
    DELETE_SETTINGS,
    INSERT_SETTINGS,
    INSERT_SETTINGS_SYNC,
    MUTATION_SETTINGS,
    changed_table,
    command,
    query,
    rollup_table,
    scalar,
    table,
)
from analytics.models import PendingReassignment, RollupProgress

# PostgreSQL's advisory locks that take turns at changing a workspace's rollups.
ROLLUP_LOCK_SPACE = 0x726F  # "ro"; advisory locks of other kinds use other spaces
# Below clickhouse-connect's default wait of 300 s.
ROLL_UP_SECONDS = 240


def roll_up_rows(block: bytes) -> None:
    """Add events (``queue.stored_lines``) to the rollups: inserted into ``rollup_input``, which
    keeps nothing, whose views add them up."""
    clickhouse.client().raw_insert(
        f"{clickhouse.database()}.rollup_input", [name for name, _ in ROLLUP_INPUT_COLUMNS],
        insert_block=block, settings=INSERT_SETTINGS, fmt="JSONEachRow",
    )


def roll_up(workspace_id: int, after: int, up_to: int) -> None:
    """Add the workspace's events numbered from ``after`` (excluded) to ``up_to`` to the
    rollups (``schema.add_up_sql``). Stopped by ClickHouse before the client gives up
    waiting (``ROLL_UP_SECONDS``): a statement left running after its turn ended could
    write back people a deletion had just taken out."""
    command(
        add_up_sql(clickhouse.database()),
        {"w": workspace_id, "after": after, "up_to": up_to},
        settings={**INSERT_SETTINGS_SYNC, "max_execution_time": ROLL_UP_SECONDS},
    )


def added_up_to(workspace_id: int, number: int) -> None:
    """Record that the events numbered up to ``number`` were added up by whoever stored
    them (a flush adds its own, from the rows it inserted): a catch-up reads only those
    after. One numbered lower and stored later is added by its own flush."""
    RollupProgress.record(workspace_id)
    RollupProgress.objects.filter(pk=workspace_id).update(
        rolled_up_to=Greatest("rolled_up_to", number), claimed_to=Greatest("claimed_to", number)
    )


def catch_up(workspace_id: int, *, wait: float = 2.0) -> int:
    """Add to the rollups the workspace's events stored since they were last worked out
    (numbered after ``RollupProgress.rolled_up_to``), before a report reads them (and at
    the task worker's heartbeat); returns the number of the last one added (0 for none).
    Run outside a transaction: its claim must be seen by flushes before it reads.

    1. The last number ClickHouse holds is claimed (``claimed_to``) and committed.
    2. The events numbered up to it are read and added. A flush adds its own events
       itself, from the rows it inserted (numbers are taken at ingestion, so a later
       one may be stored first; on a cluster, a replica read may not have them yet):
       what this reads again changes nothing.
    3. ``rolled_up_to`` becomes the claim. A catch-up that failed in between leaves the
       claim ahead: the next one adds those events again, which changes nothing.

    One at a time in a workspace, and never while its events are changed (a deletion, a
    merge, a group type's removal: ``hold``), in which events read before the
    change would be added after it. That turn is waited for up to ``wait`` seconds (0:
    not at all); then the rollups are read as they are (a report just after others'
    calls may miss them; the next catch-up adds them). Deliveries never wait for it."""
    progress = RollupProgress.objects.filter(pk=workspace_id).values_list("rolled_up_to", "claimed_to").first()
    if progress is None:
        # Before the turn: its key check share-locks the workspace's row, which a change
        # of time zone holding the turn's lock may have locked.
        RollupProgress.record(workspace_id)
    elif progress[0] == progress[1] and not _last_event_after(workspace_id, progress[0]):
        return 0
    if not take_turn(ROLLUP_LOCK_SPACE, workspace_id, wait):
        return 0
    try:
        # SQLite locks no rows: its one writer at a time keeps deletions (and
        # flushes, which hold it across their insert) out while this runs.
        with transaction.atomic() if connection.vendor != "postgresql" else contextlib.nullcontext():
            rolled_up_to, claimed_to = RollupProgress.objects.values_list("rolled_up_to", "claimed_to").get(
                pk=workspace_id
            )
            last = max(claimed_to, _last_event_after(workspace_id, rolled_up_to))
            if last > rolled_up_to:
                RollupProgress.objects.filter(pk=workspace_id, claimed_to__lt=last).update(claimed_to=last)
                roll_up(workspace_id, rolled_up_to, last)
                # Not back: a flush meanwhile may have recorded more (``added_up_to``).
                RollupProgress.objects.filter(pk=workspace_id).update(rolled_up_to=Greatest("rolled_up_to", last))
        return last if last > rolled_up_to else 0
    finally:
        end_turn(ROLLUP_LOCK_SPACE, workspace_id)


def take_turn(space: int, key: int, wait: float | None) -> bool:
    """PostgreSQL's advisory lock (``space``, ``key``), held by this session until
    ``end_turn``, waited for up to ``wait`` seconds (for ever if None); whether taken.
    SQLite has one writer at a time."""
    if connection.vendor != "postgresql":
        return True
    with connection.cursor() as cursor:
        if wait is None:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [space, key])
            return True
        deadline = time.monotonic() + wait
        while True:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [space, key])
            if cursor.fetchone()[0]:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


def end_turn(space: int, key: int) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [space, key])


def _last_event_after(workspace_id: int, number: int) -> int:
    """The number of the workspace's last event numbered after ``number``; 0 for none."""
    return int(
        scalar(
            f"SELECT max(id) FROM {table()} WHERE workspace_id = %(w)s AND id > %(after)s",
            {"w": workspace_id, "after": number},
        )
        or 0
    )


def catch_up_all() -> int:
    """``catch_up`` every workspace that has events in ClickHouse, one after another, but
    those whose events are being changed (not waited for); how many had events to add."""
    workspaces = RollupProgress.objects.order_by("pk").values_list("pk", flat=True)
    return sum(1 for workspace_id in workspaces if catch_up(workspace_id, wait=0))


def hold(workspace_id: int) -> None:
    """Until the transaction ends, be the only one changing the workspace's events or
    rollups but by inserting (a deletion, a merge, a group type's removal, a rebuild; a
    catch-up takes the same lock for its session: ``take_turn``): one reading events
    before another's change must not write its rollups after it. PostgreSQL's advisory
    lock; SQLite has one writer at a time."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [ROLLUP_LOCK_SPACE, workspace_id])


def rebuild(
    workspace_id: int,
    *,
    groups: set[tuple[int, int]] | None = None,
    people: set[int] | None = None,
    zone: str | None = None,
):
    """Work the rollups of the workspace out again from its events: the groups' rollups
    (``schema.ROLLUPS``) of ``groups`` ((slot, group id) pairs) and the days of ``people``
    (``schema.PERSON_ROLLUPS``), after their events changed (people deleted or merged, a
    retry in another context); every one, given neither, after the workspace's time zone
    became ``zone`` (each event's ``day`` written again first). Their rows are deleted,
    then inserted again: a flush meanwhile adds rows the insert may add again, which
    changes nothing (the rollups hold sets, earliest and latest moments)."""
    everything = groups is None and people is None
    if not (everything or groups or people):
        return
    hold(workspace_id)
    if everything:
        # Every event is added up here, to the last one there is: none is being
        # inserted meanwhile (the caller holds the workspace's row, which a flush
        # share-locks), and one waiting adds its own (the claim, once committed).
        last = _last_event_after(workspace_id, 0)
    parameters = {"w": workspace_id, "groups": sorted(groups or []), "people": sorted(people or [])}
    if zone is not None:
        command(
            f"ALTER TABLE {changed_table()} UPDATE day = toDate(timestamp, %(zone)s) WHERE workspace_id = %(w)s",
            {**parameters, "zone": zone},
            settings=MUTATION_SETTINGS,
        )
    redo = []
    if everything or groups:
        which, events_which = ("1", "1") if everything else (
            "(slot, group_id) IN %(groups)s", "(slot, assumeNotNull(g)) IN %(groups)s"
        )
        redo += [(rollup, which, events_which) for rollup in ROLLUPS]
    if everything or people:
        which = "1" if everything else "person_id IN %(people)s"
        redo += [(rollup, which, which) for rollup in PERSON_ROLLUPS]
    for rollup, which, events_which in redo:
        command(
            f"DELETE FROM {changed_table(rollup)} WHERE workspace_id = %(w)s AND {which}",
            parameters,
            settings=DELETE_SETTINGS,
        )
        command(
            f"INSERT INTO {clickhouse.database()}.{rollup} "
            f"{rollup_select(rollup, f'{table()} FINAL', f'workspace_id = %(w)s AND {events_which}')}",
            parameters,
            settings=INSERT_SETTINGS_SYNC,
        )
    if everything:
        RollupProgress.objects.update_or_create(
            workspace_id=workspace_id, defaults={"rolled_up_to": last, "claimed_to": last}
        )


def groups_of_people(workspace_id: int, person_ids: list[int]) -> set[tuple[int, int]]:
    """(slot, group id) of every group whose days name any of these people among those
    active (``group_days``): the groups their events were in, whether those events are
    still theirs or not (deleted, or another's after a merge) until the rollups are
    worked out again. ``group_firsts`` holds the same groups (the same events)."""
    rows = query(
        f"SELECT DISTINCT slot, group_id FROM {rollup_table('group_days')} WHERE workspace_id = %(w)s "
        "AND bitmapHasAny(people, bitmapBuild(CAST(%(people)s AS Array(UInt64))))",
        {"w": workspace_id, "people": list(person_ids)},
    )
    return {(int(slot), int(group)) for slot, group in rows}


def clear_slot(group_type) -> None:
    """The rollups after ``group_type``'s slot was emptied in its workspace's events: its
    groups' rows go, and the days of people whose context had a group there are worked
    out again (also when an earlier attempt cleared the events and failed after)."""
    parameters = {"w": group_type.workspace_id, "slot": int(group_type.slot)}
    for rollup in ROLLUPS:
        command(
            f"DELETE FROM {changed_table(rollup)} WHERE workspace_id = %(w)s AND slot = %(slot)s",
            parameters,
            settings=DELETE_SETTINGS,
        )
    rebuild(group_type.workspace_id, people=set(_people_with_groups_in(group_type)))


def _people_with_groups_in(group_type) -> list[int]:
    """The people whose days (``person_days``) had a group of ``group_type``'s slot."""
    rows = query(
        f"SELECT DISTINCT person_id FROM {rollup_table('person_days')} "
        "WHERE workspace_id = %(w)s AND bitTest(groups, %(slot)s)",
        {"w": group_type.workspace_id, "slot": int(group_type.slot)},
    )
    return [int(person) for (person,) in rows]


def move_person_days(change: PendingReassignment) -> None:
    """The days of the merged visitor (``person_days``) become the user's: written again
    as theirs (earliest and latest moments, which add to the user's own as they would
    have), then deleted. Made twice (a run that failed in between), the same rows."""
    parameters = {"w": change.workspace_id, "from": change.from_person_id, "to": change.to_person_id}
    for rollup in PERSON_ROLLUPS:
        command(
            f"INSERT INTO {clickhouse.database()}.{rollup} SELECT workspace_id, day, %(to)s, groups, first, last "
            f"FROM {rollup_table(rollup)} WHERE workspace_id = %(w)s AND person_id = %(from)s",
            parameters,
            settings=INSERT_SETTINGS_SYNC,
        )
        command(
            f"DELETE FROM {changed_table(rollup)} WHERE workspace_id = %(w)s AND person_id = %(from)s",
            parameters,
            settings=DELETE_SETTINGS,
        )
