"""Events in ClickHouse: what ``analytics.event_store`` does when ``CLICKHOUSE_URL`` is
set, but reading them (``analytics.clickhouse.reads``). The main database keeps everything else, and a receipt of each message id received
in the last days (``EventReceipt``); ClickHouse's ``events`` table holds the events.

Storing a batch of calls happens in two steps:

1. In ingestion's transaction in the main database, with the batch's people, groups and
   memberships: ``take`` gives each new event a receipt, which fixes its number and its
   moment; a call whose receipt is there already but not marked stored (an earlier
   delivery failed half way) keeps that receipt's number and moment.
2. Once that transaction has committed, ``deliver`` inserts the events into ClickHouse,
   waits until they are written, and marks their receipts stored. Only then is the
   client answered 200. If ClickHouse fails, the client is answered 503 and retries: the
   retry is stored again with the same number and moment, so a row ClickHouse may have
   written already has the same sorting key, and reads with ``FINAL`` count it once.
   The receipts are locked while a delivery runs, so a retry sent meanwhile waits, then
   finds its calls stored and writes nothing.

The rollups of the events (``schema.ROLLUPS``, ``schema.PERSON_ROLLUPS``) are not added
to by the insert: ``catch_up`` adds the events stored since the last time, before a
report reads them and at the task worker's heartbeat, recording how far it got
(``RollupProgress``). It claims how far it goes before it reads; a delivery reads that
claim once its insert returned, and adds its events itself if they are numbered up to
it (a number is taken before the insert: a later one may be stored and added up
first). Neither waits for the other.

``deliver`` holds a share lock on the events' people and groups (``FOR KEY SHARE``) while it
inserts. A deletion (which locks them ``FOR UPDATE``) and a merge of a visitor into a
user (which deletes the visitor) wait for it, and a delivery after either finds the
person gone: their events are then not inserted and the client is asked to retry, when
a merged visitor's calls go to the user, and a deleted user's are refused. So no event
of a deleted person is inserted after their deletion removed their events.

The changes to events already stored are statements ClickHouse runs to their end,
each made where nothing of the main database that could still fail comes after it:

- a visitor merged into a user: recorded (``PendingReassignment``) in the transaction
  that merges them, which may still be rolled back and started over, and made once it
  has committed (a lightweight UPDATE: ``apply_reassignments``), before the next
  delivery of the workspace, a deletion, or by the task worker's heartbeat;
- people deleted: a lightweight DELETE, after their rows are deleted in the main
  database, the last statement of the deletion's transaction; then counted, to be sure;
- a group type removed: a mutation, its groups locked first.

Each of them, and a retry whose context differs from its first delivery's, also works
out again the rollups (``schema._rollups``) of the groups it touched
(``rebuild_rollups``); a change of the workspace's time zone writes every event's day
again and works out all of its rollups.

On a cluster (``CLICKHOUSE_CLUSTER``) they go to every shard's ``events_local``. What a
cluster does not do yet: a merged visitor's events stay on the shard of the visitor (the
answers are the same, a funnel of theirs is no longer local to one shard), and a copy of
a retried call written to another shard (its person merged in between) is not collapsed
with the first.

Inserts are buffered by the server (``async_insert``) and waited for: the answer comes
once the rows are written, within a fraction of a second (``async_insert_busy_timeout``),
so many clients' small batches make few parts. A delivery that fails is answered 503
and retried with the same keys.
"""

import contextlib
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import orjson

from django.conf import settings as django_settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from analytics import clickhouse
from analytics.event_store import NotDelivered
from analytics.clickhouse.copy import COLUMNS, STORED_COLUMNS, json_text, locked_zone
from analytics.clickhouse.schema import PERSON_ROLLUPS, ROLLUP_INPUT_COLUMNS, ROLLUPS, add_up_sql, rollup_select
from analytics.models import (
    GROUP_SLOTS,
    DuplicateWindow,
    Event,
    EventReceipt,
    Group,
    GroupType,
    PendingReassignment,
    Person,
    RollupProgress,
    Workspace,
)

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
# PostgreSQL's advisory locks that take turns at rebuilding a workspace's rollups.
ROLLUP_LOCK_SPACE = 0x726F  # "ro"; advisory locks of other kinds use other spaces
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


# -- Writing -------------------------------------------------------------------------


def take(rows: list[dict]) -> None:
    """Give each new event of one workspace (rows of {field attname: value}) its receipt,
    in ingestion's transaction: its ``id``, and its ``timestamp`` kept from an earlier
    delivery whose storing failed (or from a concurrent one: both then write the same
    row, which ClickHouse keeps once). One statement on PostgreSQL when every message id
    is new, as they are but for retries."""
    if not rows:
        return
    workspace_id = rows[0]["workspace_id"]
    fixed = {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {EventReceipt._meta.db_table} (workspace_id, message_id, timestamp, received_at) "
                "SELECT %s, m, t, r FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[]) AS v(m, t, r) "
                "ON CONFLICT (message_id, workspace_id) DO NOTHING RETURNING message_id, id, timestamp",
                [
                    workspace_id,
                    [row["message_id"] for row in rows],
                    [row["timestamp"] for row in rows],
                    [row["received_at"] for row in rows],
                ],
            )
            fixed = {message_id: (pk, moment) for message_id, pk, moment in cursor.fetchall()}
    taken = [row["message_id"] for row in rows if row["message_id"] not in fixed]
    # Receipts there already: retries of calls whose delivery failed (half way, maybe).
    retried = set()
    if taken:
        earlier = list(EventReceipt.objects.filter(workspace_id=workspace_id, message_id__in=taken))
        retried = {r.message_id for r in earlier}
        fixed.update((r.message_id, (r.pk, r.timestamp)) for r in earlier)
        new = [
            EventReceipt(
                workspace_id=workspace_id,
                message_id=row["message_id"],
                timestamp=row["timestamp"],
                received_at=row["received_at"],
            )
            for row in rows
            if row["message_id"] not in fixed
        ]
        # Elsewhere than PostgreSQL (SQLite: one writer at a time).
        EventReceipt.objects.bulk_create(new)
        fixed.update((r.message_id, (r.pk, r.timestamp)) for r in new)
    for row in rows:
        row["id"], row["timestamp"] = fixed[row["message_id"]]
        row["retried"] = row["message_id"] in retried
    if retried:
        # Written again: an earlier delivery may have written them before it failed.
        # Recorded before (this transaction commits before the delivery), so that no
        # count reads the two copies without FINAL.
        moments = [row["timestamp"] for row in rows if row["retried"]]
        DuplicateWindow.objects.create(workspace_id=workspace_id, start=min(moments), end=max(moments))


def values(row: dict) -> list:
    """A row of ``take`` (or of the events table) as the values of ClickHouse's columns."""
    found = []
    for name in COLUMNS:
        value = row.get(name)
        if name in ("properties", "context"):
            value = json_text(value if value is not None else {})
        elif value is None and name in ("name", "user_id", "anonymous_id"):
            value = ""
        found.append(value)
    return found


def json_rows(rows: list[dict], zone: ZoneInfo) -> bytes:
    """The rows as ClickHouse's JSONEachRow, a line each, with their day in ``zone`` (the
    workspace's time zone): written by orjson at once, about half what building its
    native format value by value costs the client."""
    lines = []
    for row in rows:
        line = dict(zip(COLUMNS, values(row)))
        line["day"] = line["timestamp"].astimezone(zone).date().isoformat()
        for name in ("timestamp", "received_at", "sent_at"):
            if line[name] is not None:
                line[name] = moment_text(line[name])
        lines.append(orjson.dumps(line))
    return b"\n".join(lines)


def deliver(rows: list[dict]) -> int:
    """Insert events whose receipts ``take`` gave, once their transaction committed, and
    mark the receipts stored; returns how many. Raises ``NotDelivered`` when some could
    not be stored (ClickHouse failed, or their person or a group of their context is
    gone): the client retries. The receipts are marked first (``_lock``), in the
    transaction that commits once the insert returned: if it fails, they are not."""
    if not rows:
        return 0
    workspace_id = rows[0]["workspace_id"]
    with transaction.atomic():
        people, groups, merges_pending, zone, stored = _lock(rows)
        # Stored by a delivery of the same calls that ran meanwhile: done.
        rows = [row for row in rows if row["id"] not in stored]
        # Earlier merges of this workspace's visitors first, whichever request made them.
        if merges_pending:
            try:
                apply_reassignments(workspace_id)
            except DatabaseError:
                raise
            except Exception as error:  # ClickHouse's
                raise NotDelivered(f"ClickHouse did not make a merge of people: {error}") from error
        kept = [row for row in rows if row["person_id"] in people and _groups_of(row) <= groups]
        if len(kept) < len(rows):  # not stored after all
            kept_ids = {row["id"] for row in kept}
            EventReceipt.objects.filter(pk__in=[row["id"] for row in rows if row["id"] not in kept_ids]).update(
                stored_at=None
            )
        if kept:
            try:
                # A retry of a call written once already by a delivery that failed
                # after, maybe with another group context (its person's memberships
                # changed meanwhile): written again with the same sorting key (reads
                # with FINAL keep this one), and the rollups of the first row's groups
                # and person worked out again once this one replaced it.
                retried = [row for row in kept if row.get("retried")]
                earlier_groups, earlier_people = (
                    _earlier_copies(workspace_id, [row["message_id"] for row in retried]) if retried else (set(), set())
                )
                block = json_rows(kept, zone)
                clickhouse.client().raw_insert(
                    table(), STORED_COLUMNS, insert_block=block, settings=INSERT_SETTINGS, fmt="JSONEachRow"
                )
                # Events numbered up to what a catch-up claimed (numbered before others,
                # stored after them), read once inserted: added up here, since that
                # catch-up read the events before they were there (``catch_up``).
                claimed = RollupProgress.objects.filter(pk=workspace_id).values_list("claimed_to", flat=True).first()
                if claimed is None:  # the workspace's first delivery: the heartbeat's catch-ups include it
                    RollupProgress.objects.bulk_create([RollupProgress(workspace_id=workspace_id)], ignore_conflicts=True)
                elif below := [row for row in kept if row["id"] <= claimed]:
                    roll_up_rows(block if len(below) == len(kept) else json_rows(below, zone))
                if earlier_people:
                    earlier_people |= {row["person_id"] for row in retried}
                    rebuild_rollups(workspace_id, groups=earlier_groups, people=earlier_people)
            except Exception as error:
                raise NotDelivered(f"ClickHouse did not store the events: {error}") from error
    if len(kept) < len(rows):
        raise NotDelivered(f"the person or a group of {len(rows) - len(kept)} event(s) changed; retry them")
    return len(kept)


def roll_up_rows(block: bytes) -> None:
    """Add events (``json_rows``) to the rollups: inserted into ``rollup_input``, which
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


# Below clickhouse-connect's default wait of 300 s.
ROLL_UP_SECONDS = 240


def catch_up(workspace_id: int, *, wait: float = 2.0) -> int:
    """Add to the rollups the workspace's events stored since they were last worked out
    (numbered after ``RollupProgress.rolled_up_to``), before a report reads them (and at
    the task worker's heartbeat); returns the number of the last one added (0 for none).
    Run outside a transaction: its claim must be seen by deliveries before it reads.

    1. The last number ClickHouse holds is claimed (``claimed_to``) and committed.
    2. The events numbered up to it are read and added. A delivery storing events
       numbered up to the claim (numbers are taken before the insert, so a later one
       may be stored first) reads it once its insert returned: before the claim was
       committed, and this catch-up reads its events; after, and it adds them itself.
    3. ``rolled_up_to`` becomes the claim. A catch-up that failed in between leaves the
       claim ahead: the next one adds those events again, which changes nothing.

    One at a time in a workspace, and never while its events are changed (a deletion, a
    merge, a group type's removal: ``_hold_rollups``), in which events read before the
    change would be added after it. That turn is waited for up to ``wait`` seconds (0:
    not at all); then the rollups are read as they are (a report just after others'
    calls may miss them; the next catch-up adds them). Deliveries never wait for it."""
    progress = RollupProgress.objects.filter(pk=workspace_id).values_list("rolled_up_to", "claimed_to").first()
    if progress is None:
        # Before the turn: its key check share-locks the workspace's row, which a change
        # of time zone holding the turn's lock may have locked.
        RollupProgress.objects.bulk_create([RollupProgress(workspace_id=workspace_id)], ignore_conflicts=True)
    elif progress[0] == progress[1] and not _last_event_after(workspace_id, progress[0]):
        return 0
    if not _take_turn(workspace_id, wait):
        return 0
    try:
        # SQLite locks no rows: its one writer at a time keeps deletions (and
        # deliveries, which hold it across their insert) out while this runs.
        with transaction.atomic() if connection.vendor != "postgresql" else contextlib.nullcontext():
            rolled_up_to, claimed_to = RollupProgress.objects.values_list("rolled_up_to", "claimed_to").get(
                pk=workspace_id
            )
            last = max(claimed_to, _last_event_after(workspace_id, rolled_up_to))
            if last > rolled_up_to:
                RollupProgress.objects.filter(pk=workspace_id, claimed_to__lt=last).update(claimed_to=last)
                roll_up(workspace_id, rolled_up_to, last)
                RollupProgress.objects.filter(pk=workspace_id).update(rolled_up_to=last)
        return last if last > rolled_up_to else 0
    finally:
        _end_turn(workspace_id)


def _take_turn(workspace_id: int, wait: float) -> bool:
    """The workspace's turn at changing its rollups (the lock of ``_hold_rollups``, held
    by this session until ``_end_turn``), waited for up to ``wait`` seconds; whether
    taken. SQLite has one writer at a time."""
    if connection.vendor != "postgresql":
        return True
    deadline = time.monotonic() + wait
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [ROLLUP_LOCK_SPACE, workspace_id])
            if cursor.fetchone()[0]:
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


def _end_turn(workspace_id: int) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [ROLLUP_LOCK_SPACE, workspace_id])


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


def _hold_rollups(workspace_id: int) -> None:
    """Until the transaction ends, be the only one changing the workspace's events or
    rollups but by inserting (a deletion, a merge, a group type's removal, a rebuild; a
    catch-up takes the same lock for its session: ``_take_turn``): one reading events
    before another's change must not write its rollups after it. PostgreSQL's advisory
    lock; SQLite has one writer at a time."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [ROLLUP_LOCK_SPACE, workspace_id])


def _groups_of(row: dict) -> set[int]:
    return {group for slot in range(GROUP_SLOTS) if (group := row.get(f"group_{slot}_id")) is not None}


def _lock(rows: list[dict]) -> tuple[set[int], set[int], bool, ZoneInfo, set[int]]:
    """Of the rows' people and groups, those that still exist; whether merges of the
    workspace's visitors wait to be made in ClickHouse; the workspace's time zone; the
    rows' receipts marked stored already (the others are marked now, in the delivery's
    transaction; a receipt purged meanwhile counts as not stored). On PostgreSQL, in one statement
    (a delivery is ingestion's hot path), the people, the groups, the groups' types and
    the workspace are share-locked (``FOR KEY SHARE``) until the transaction ends, so that
    a deletion, a merge, a group type's removal or a change of time zone (each locks its
    rows first) waits for the insert; the receipts are locked (``FOR UPDATE``, in order),
    so that a retry delivered while the first delivery of its call still runs waits for
    it, then finds it stored (SQLite has one writer at a time)."""
    person_ids = sorted({row["person_id"] for row in rows})
    group_ids = sorted(set().union(*map(_groups_of, rows)))
    workspace_id = rows[0]["workspace_id"]
    if connection.vendor != "postgresql":
        people = set(Person.objects.filter(pk__in=person_ids).values_list("pk", flat=True))
        groups = set(Group.objects.filter(pk__in=group_ids).values_list("pk", flat=True))
        pending = PendingReassignment.objects.filter(workspace_id=workspace_id).exists()
        receipts = EventReceipt.objects.filter(pk__in=[row["id"] for row in rows])
        stored = set(receipts.filter(stored_at__isnull=False).values_list("pk", flat=True))
        receipts.filter(stored_at__isnull=True).update(stored_at=timezone.now())
        return people, groups, pending, locked_zone(workspace_id), stored
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH people AS (SELECT id FROM {Person._meta.db_table} WHERE id = ANY(%s) "
            "ORDER BY id FOR KEY SHARE), "
            f"groups AS (SELECT g.id FROM {Group._meta.db_table} g JOIN {GroupType._meta.db_table} t "
            "ON t.id = g.group_type_id WHERE g.id = ANY(%s) ORDER BY g.id FOR KEY SHARE), "
            f"zone AS (SELECT time_zone FROM {Workspace._meta.db_table} WHERE id = %s FOR KEY SHARE), "
            f"receipts AS (SELECT id FROM {EventReceipt._meta.db_table} WHERE id = ANY(%s) "
            "ORDER BY id FOR UPDATE), "
            f"marked AS (UPDATE {EventReceipt._meta.db_table} r SET stored_at = %s FROM receipts "
            "WHERE r.id = receipts.id AND r.stored_at IS NULL RETURNING r.id) "
            "SELECT ARRAY(SELECT id FROM people), ARRAY(SELECT id FROM groups), "
            f"EXISTS(SELECT 1 FROM {PendingReassignment._meta.db_table} WHERE workspace_id = %s), "
            "(SELECT time_zone FROM zone), ARRAY(SELECT id FROM receipts), ARRAY(SELECT id FROM marked), "
            # Its commit need not wait for the disk: lost in a crash, the receipts are
            # back to not stored, and retries write their calls again (``take`` records
            # their moments, which counts then read with FINAL); no more.
            "set_config('synchronous_commit', 'off', true)",
            [
                person_ids, group_ids, workspace_id, sorted(row["id"] for row in rows), timezone.now(),
                workspace_id,
            ],
        )
        people, groups, pending, zone, found, marked, _ = cursor.fetchone()
    return set(people), set(groups), pending, ZoneInfo(zone), set(found) - set(marked)


def reassign(*, workspace_id: int, from_person: int, to_person: int) -> None:
    """Record that the events of ``from_person`` become ``to_person``'s, in the
    transaction that deletes ``from_person``: ClickHouse changes them once it has
    committed (``apply_reassignments``), not before, since the transaction may still be
    rolled back and started over (ingestion's). Its row is locked first, so a delivery
    of its events waits and then finds it gone (``deliver``)."""
    list(Person.objects.select_for_update().filter(pk=from_person).values_list("pk"))
    PendingReassignment.objects.create(
        workspace_id=workspace_id, from_person_id=from_person, to_person_id=to_person
    )


def apply_reassignments(workspace_id: int | None = None) -> int:
    """Make the recorded reassignments of ``workspace_id`` (of every workspace, one after
    another, if None) in ClickHouse, in the order they were made (a visitor merged into
    a user merged into another ends with the last), each a lightweight UPDATE, then
    forget them; returns how many. Safe to run again and side by side: a reassignment
    made twice changes nothing more, and a second run waits for the first's rows."""
    if workspace_id is None:
        pending = PendingReassignment.objects.values_list("workspace_id", flat=True).distinct()
        return sum(apply_reassignments(workspace) for workspace in sorted(set(pending)))
    with transaction.atomic():
        _hold_rollups(workspace_id)
        pending = list(
            PendingReassignment.objects.select_for_update().filter(workspace_id=workspace_id).order_by("pk")
        )
        for change in pending:
            command(
                f"UPDATE {changed_table()} SET person_id = %(to)s "
                "WHERE workspace_id = %(w)s AND person_id = %(from)s",
                {"w": change.workspace_id, "from": change.from_person_id, "to": change.to_person_id},
                settings=UPDATE_SETTINGS,
            )
            # Their groups' days name the visitor among their people: the user now. The
            # visitor's days become the user's.
            rebuild_rollups(change.workspace_id, groups=_groups_of_people(change.workspace_id, [change.from_person_id]))
            _move_person_days(change)
        PendingReassignment.objects.filter(pk__in=[change.pk for change in pending]).delete()
    return len(pending)


def _move_person_days(change: PendingReassignment) -> None:
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


def count_of_events(workspace_ids: list[int], person_ids: list[int]) -> int:
    """How many events these people of these workspaces have."""
    return scalar(
        f"SELECT count() FROM {table()} FINAL WHERE workspace_id IN %(w)s AND person_id IN %(people)s",
        {"w": list(workspace_ids), "people": list(person_ids)},
    )


def delete_of_people(workspace_ids: list[int], person_ids: list[int]) -> int:
    """Delete every event of these people of these workspaces (a lightweight DELETE,
    waited for); returns how many there were. Their rows are locked already (a
    deletion's transaction), so no delivery adds to them; merges into them recorded but
    not made yet are made first. Raises RuntimeError if some are still counted after.
    No catch-up of the rollups runs meanwhile (``_hold_rollups``), in which events read
    before the deletion would be added after it."""
    for workspace_id in workspace_ids:
        _hold_rollups(workspace_id)
    for workspace_id in workspace_ids:
        apply_reassignments(workspace_id)
    where = "workspace_id IN %(w)s AND person_id IN %(people)s"
    parameters = {"w": list(workspace_ids), "people": list(person_ids)}
    total = count_of_events(workspace_ids, person_ids)
    if total:
        command(f"DELETE FROM {changed_table()} WHERE {where}", parameters, settings=DELETE_SETTINGS)
        left = count_of_events(workspace_ids, person_ids)
        if left:
            raise RuntimeError(f"ClickHouse still counts {left} event(s) of the deleted people")
    # The groups whose rollups still name them: also after an earlier attempt deleted
    # their events and failed before working the rollups out again.
    for workspace_id in workspace_ids:
        rebuild_rollups(workspace_id, groups=_groups_of_people(workspace_id, person_ids), people=set(person_ids))
    return total


def clear_group_type(group_type) -> int:
    """Empty ``group_type``'s slot in the context of its workspace's events (a mutation,
    waited for), in the transaction that deletes the type and its groups: the groups are
    locked first, so a delivery of events carrying one of them (which share-locks them)
    either went before, and is cleared here, or waits and then finds it gone. Returns
    how many events lost it."""
    list(Group.objects.select_for_update().filter(group_type=group_type).order_by("pk").values_list("pk"))
    _hold_rollups(group_type.workspace_id)
    # A slot is one type's at a time, and a type's removal empties it: whatever group
    # the workspace's events hold there is one of this type's.
    where = f"workspace_id = %(w)s AND group_{int(group_type.slot)}_id IS NOT NULL"
    parameters = {"w": group_type.workspace_id}
    cleared = scalar(f"SELECT count() FROM {table()} FINAL WHERE {where}", parameters)
    if cleared:
        command(
            f"ALTER TABLE {changed_table()} UPDATE group_{int(group_type.slot)}_id = NULL WHERE {where}",
            parameters,
            settings=MUTATION_SETTINGS,
        )
    for rollup in ROLLUPS:
        command(
            f"DELETE FROM {changed_table(rollup)} WHERE workspace_id = %(w)s AND slot = %(slot)s",
            {**parameters, "slot": int(group_type.slot)},
            settings=DELETE_SETTINGS,
        )
    # People's days of a context with a group there now have none (also when an earlier
    # attempt cleared the events and failed after).
    rebuild_rollups(group_type.workspace_id, people=set(_people_with_groups_in(group_type)))
    return cleared


def _people_with_groups_in(group_type) -> list[int]:
    """The people whose days (``person_days``) had a group of ``group_type``'s slot."""
    rows = query(
        f"SELECT DISTINCT person_id FROM {rollup_table('person_days')} "
        "WHERE workspace_id = %(w)s AND bitTest(groups, %(slot)s)",
        {"w": group_type.workspace_id, "slot": int(group_type.slot)},
    )
    return [int(person) for (person,) in rows]


def rebuild_rollups(
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
    then inserted again: a delivery meanwhile adds rows the insert may add again, which
    changes nothing (the rollups hold sets, earliest and latest moments)."""
    everything = groups is None and people is None
    if not (everything or groups or people):
        return
    _hold_rollups(workspace_id)
    if everything:
        # Every event is added up here, to the last one there is: none is being
        # inserted meanwhile (the caller holds the workspace's row, which a delivery
        # share-locks), and one waiting adds its own (the claim, once committed).
        last = int(scalar(f"SELECT max(id) FROM {table()} WHERE workspace_id = %(w)s", {"w": workspace_id}) or 0)
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


def _groups_of_people(workspace_id: int, person_ids: list[int]) -> set[tuple[int, int]]:
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


def _earlier_copies(workspace_id: int, message_ids: list[str]) -> tuple[set[tuple[int, int]], set[int]]:
    """The (slot, group id) of every group in the context of the rows of these calls
    already written, and their people."""
    columns = ", ".join(f"group_{slot}_id" for slot in range(GROUP_SLOTS))
    rows = query(
        f"SELECT person_id, {columns} FROM {table()} WHERE workspace_id = %(w)s AND message_id IN %(messages)s",
        {"w": workspace_id, "messages": list(message_ids)},
    )
    groups = {(slot, int(group)) for _, *slots in rows for slot, group in enumerate(slots) if group is not None}
    return groups, {int(person) for person, *_ in rows}


def purge_duplicate_windows(now: datetime | None = None) -> int:
    """Delete the duplicate windows (``DuplicateWindow``) recorded at least
    ``KEPT_AT_LEAST`` ago whose calls ClickHouse holds once each now (its merges kept
    one copy): counts of their days need FINAL no more. How many went."""
    cutoff = (now or timezone.now()) - DuplicateWindow.KEPT_AT_LEAST
    merged = []
    for window in DuplicateWindow.objects.filter(created_at__lt=cutoff).order_by("pk")[:1000]:
        where = (
            "workspace_id = %(w)s AND timestamp >= toDateTime64(%(start)s, 6, 'UTC') "
            "AND timestamp <= toDateTime64(%(end)s, 6, 'UTC')"
        )
        parameters = {"w": window.workspace_id, "start": moment_text(window.start), "end": moment_text(window.end)}
        [(rows, calls)] = query(
            f"SELECT count(), (SELECT count() FROM {table()} FINAL WHERE {where}) FROM {table()} WHERE {where}",
            parameters,
        )
        if rows == calls:
            merged.append(window.pk)
    deleted, _ = DuplicateWindow.objects.filter(pk__in=merged).delete()
    return deleted


def continue_numbering() -> None:
    """Number new events (receipts) after every event of the main database, so that a
    copied event and a new one never share a number. Safe to run again."""
    if connection.vendor != "postgresql":
        return
    last = Event.objects.order_by("-pk").values_list("pk", flat=True).first()
    if not last:
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [EventReceipt._meta.db_table])
        (sequence,) = cursor.fetchone()
        # Never back: receipts purged may have numbered events ClickHouse holds.
        cursor.execute(
            f"SELECT setval(%s, GREATEST(%s, (SELECT last_value FROM {sequence})))", [sequence, last]
        )


def moment_text(value: datetime) -> str:
    """A moment as ClickHouse's DateTime64(6) text, in UTC (parameters are formatted by
    the client, which would drop the microseconds of a datetime)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
