"""Events in ClickHouse: what ``analytics.event_store`` does when ``CLICKHOUSE_URL`` is
set, but reading them (``analytics.clickhouse.reads``). The main database keeps
everything else, a receipt of each message id received in the last days
(``EventReceipt``) and the events not stored in ClickHouse yet (``QueuedEvents``);
ClickHouse's ``events`` table holds the events.

Storing a batch of calls happens in two steps, as in PostHog's design with the main
database's ``QueuedEvents`` in Kafka's place:

1. In ingestion's transaction in the main database, with the batch's people, groups and
   memberships: ``take`` gives each new event a receipt, marked stored, which fixes its
   number and its moment, and ``queue.enqueue`` queues the batch's events, as ClickHouse's
   rows. Once that transaction has committed, the events are held durably and the client
   is answered 200. A retry of the call is a duplicate from then on.
2. ``queue.flush`` stores the queued events of a workspace in ClickHouse, hundreds of batches
   in one insert (one part, where an insert per request wrote one part per request),
   and deletes them from the queue in the transaction that commits once the insert
   returned. The task worker flushes every second; every read of a workspace's events
   flushes it first, so it counts every call answered. A flush that fails leaves the
   batches queued, counted as tried: the next writes them again with the same numbers
   and moments (the same sorting keys: reads with ``FINAL`` count them once), their
   moments recorded first as maybe held twice (``DuplicateWindow``).

The rollups of the events are not added to by their table's insert (views on it would
cost each insert a third of its time): a flush adds its events to them from the rows in
hand, in one insert (``rollups.roll_up_rows``), and a catch-up adds any stored
otherwise (``rollups.catch_up``).

A flush holds a share lock on the events' people and groups (``FOR KEY SHARE``) while
it inserts. A deletion (which locks them ``FOR UPDATE``), a merge of a visitor into a
user (which deletes the visitor) and a group type's removal wait for it, or went before
it: the events are then stored as they left them (``queue.stored_lines``): a deleted person's are
not, a merged visitor's are the user's (``PendingReassignment``, kept an hour once made
and while events queued before it wait), a removed type's group leaves their context,
and their days are the workspace's time zone's now. So no event of a deleted person is
inserted after their deletion removed their events (``analytics.clickhouse.queue``).

The changes to events already stored are statements ClickHouse runs to their end,
each made where nothing of the main database that could still fail comes after it:

- a visitor merged into a user: recorded (``PendingReassignment``) in the transaction
  that merges them, which may still be rolled back and started over, and made once it
  has committed (a lightweight UPDATE: ``apply_reassignments``), before the next
  flush of the workspace, a deletion, or by the task worker's heartbeat;
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

On a server, inserts are also buffered (``async_insert``) and waited for, so that
flushes of several workspaces make few parts.
"""

from datetime import datetime


from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from analytics.clickhouse import rollups
from analytics.clickhouse.sql import (
    DELETE_SETTINGS,
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
    DuplicateWindow,
    Event,
    EventReceipt,
    Group,
    PendingReassignment,
    Person,
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
    # Stored once this transaction commits: the events are queued in it (``queue.enqueue``).
    stored_at = timezone.now()
    fixed = {}
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {EventReceipt._meta.db_table} "
                "(workspace_id, message_id, timestamp, received_at, stored_at) "
                "SELECT %s, m, t, r, %s FROM unnest(%s::text[], %s::timestamptz[], %s::timestamptz[]) AS v(m, t, r) "
                "ON CONFLICT (message_id, workspace_id) DO NOTHING RETURNING message_id, id, timestamp",
                [
                    workspace_id,
                    stored_at,
                    [row["message_id"] for row in rows],
                    [row["timestamp"] for row in rows],
                    [row["received_at"] for row in rows],
                ],
            )
            fixed = {message_id: (pk, moment) for message_id, pk, moment in cursor.fetchall()}
    taken = [row["message_id"] for row in rows if row["message_id"] not in fixed]
    # Receipts there already: retries of calls whose delivery failed (half way, maybe),
    # in the days when deliveries inserted into ClickHouse before answering; or calls a
    # concurrent request stored meanwhile, when the whole batch starts over (as the
    # events' unique constraint makes it in the main database) and finds them stored.
    retried = set()
    if taken:
        earlier = list(EventReceipt.objects.filter(workspace_id=workspace_id, message_id__in=taken))
        if any(r.stored_at is not None for r in earlier):
            raise IntegrityError("a call of the batch was stored meanwhile")
        retried = {r.message_id for r in earlier}
        EventReceipt.objects.filter(pk__in=[r.pk for r in earlier]).update(stored_at=stored_at)
        fixed.update((r.message_id, (r.pk, r.timestamp)) for r in earlier)
        new = [
            EventReceipt(
                workspace_id=workspace_id,
                message_id=row["message_id"],
                timestamp=row["timestamp"],
                received_at=row["received_at"],
                stored_at=stored_at,
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
        # Recorded before (this transaction commits before the flush), so that no
        # count reads the two copies without FINAL.
        moments = [row["timestamp"] for row in rows if row["retried"]]
        DuplicateWindow.objects.create(workspace_id=workspace_id, start=min(moments), end=max(moments))


def reassign(*, workspace_id: int, from_person: int, to_person: int) -> None:
    """Record that the events of ``from_person`` become ``to_person``'s, in the
    transaction that deletes ``from_person``: ClickHouse changes them once it has
    committed (``apply_reassignments``), not before, since the transaction may still be
    rolled back and started over (ingestion's). Its row is locked first, so a flush
    of its events waits and then finds it gone (``queue.flush``)."""
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
        pending = PendingReassignment.objects.filter(made_at__isnull=True).values_list("workspace_id", flat=True)
        return sum(apply_reassignments(workspace) for workspace in sorted(set(pending)))
    with transaction.atomic():
        rollups.hold(workspace_id)
        pending = list(
            PendingReassignment.objects.select_for_update()
            .filter(workspace_id=workspace_id, made_at__isnull=True)
            .order_by("pk")
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
        # Kept a while: events of the first person still queued become the other's.
        PendingReassignment.objects.filter(pk__in=[change.pk for change in pending]).update(made_at=timezone.now())
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
    deletion's transaction), so no flush adds to them; merges into them recorded but
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
    locked first, so a flush of events carrying one of them (which share-locks them)
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


