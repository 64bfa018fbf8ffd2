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

The rollups of the events are not added to by the insert (``rollups.catch_up``): a
delivery only adds its events itself when a catch-up claimed their numbers already.

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
(``rollups.rebuild``); a change of the workspace's time zone writes every event's day
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

from datetime import datetime
from zoneinfo import ZoneInfo

import orjson

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from analytics import clickhouse
from analytics.event_store import NotDelivered
from analytics.clickhouse import rollups
from analytics.clickhouse.copy import COLUMNS, STORED_COLUMNS, json_text, locked_zone
from analytics.clickhouse.sql import (
    DELETE_SETTINGS,
    INSERT_SETTINGS,
    MUTATION_SETTINGS,
    UPDATE_SETTINGS,
    changed_table,
    command,
    moment_text,
    query,
    scalar,
    table,
)
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
                    RollupProgress.record(workspace_id)
                elif below := [row for row in kept if row["id"] <= claimed]:
                    rollups.roll_up_rows(block if len(below) == len(kept) else json_rows(below, zone))
                if earlier_people:
                    earlier_people |= {row["person_id"] for row in retried}
                    rollups.rebuild(workspace_id, groups=earlier_groups, people=earlier_people)
            except Exception as error:
                raise NotDelivered(f"ClickHouse did not store the events: {error}") from error
    if len(kept) < len(rows):
        raise NotDelivered(f"the person or a group of {len(rows) - len(kept)} event(s) changed; retry them")
    return len(kept)


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
        rollups.hold(workspace_id)
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
            rollups.rebuild(change.workspace_id, groups=rollups.groups_of_people(change.workspace_id, [change.from_person_id]))
            rollups.move_person_days(change)
        PendingReassignment.objects.filter(pk__in=[change.pk for change in pending]).delete()
    return len(pending)


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
    No catch-up of the rollups runs meanwhile (``rollups.hold``), in which events read
    before the deletion would be added after it."""
    for workspace_id in workspace_ids:
        rollups.hold(workspace_id)
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
        rollups.rebuild(workspace_id, groups=rollups.groups_of_people(workspace_id, person_ids), people=set(person_ids))
    return total


def clear_group_type(group_type) -> int:
    """Empty ``group_type``'s slot in the context of its workspace's events (a mutation,
    waited for), in the transaction that deletes the type and its groups: the groups are
    locked first, so a delivery of events carrying one of them (which share-locks them)
    either went before, and is cleared here, or waits and then finds it gone. Returns
    how many events lost it."""
    list(Group.objects.select_for_update().filter(group_type=group_type).order_by("pk").values_list("pk"))
    rollups.hold(group_type.workspace_id)
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
    rollups.clear_slot(group_type)
    return cleared


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


