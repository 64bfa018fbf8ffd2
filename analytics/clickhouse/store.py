"""Events in ClickHouse: what ``analytics.event_store`` does when ``CLICKHOUSE_URL`` is
set, but reading them (``analytics.clickhouse.reads``). The main database keeps
everything else, a receipt of each message id received in the last days
(``EventReceipt``) and the events not stored in ClickHouse yet (``QueuedEvents``);
ClickHouse's ``events`` table holds the events.

Storing a batch of calls happens in two steps, as in PostHog's design with the main
database's ``QueuedEvents`` in Kafka's place:

1. In ingestion's transaction in the main database, with the batch's people, groups and
   memberships: ``take`` gives each new event a receipt, marked stored, which fixes its
   number and its moment, and ``enqueue`` queues the batch's events, as ClickHouse's
   rows. Once that transaction has committed, the events are held durably and the client
   is answered 200. A retry of the call is a duplicate from then on.
2. ``flush`` stores the queued events of a workspace in ClickHouse, hundreds of batches
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
it: the events are then stored as they left them (``stored_lines``): a deleted person's are
not, a merged visitor's are the user's (``PendingReassignment``, kept an hour once made
and while events queued before it wait), a removed type's group leaves their context,
and their days are the workspace's time zone's now. So no event of a deleted person is
inserted after their deletion removed their events.

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

import time
from contextlib import contextmanager
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import orjson

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from analytics import clickhouse
from analytics.clickhouse import rollups
from analytics.clickhouse.copy import COLUMNS, JSON, STORED_COLUMNS, json_text, locked_zone
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
    QueuedEvents,
    Workspace,
)

FLUSH_LOCK_SPACE = 0x666C  # "fl"; advisory locks of other kinds use other spaces
# Queued batches stored in one insert: about 20,000 events of requests of 100 calls, a
# second's worth at the benchmark's rate, their people locked for under a second.
FLUSHED_AT_ONCE = 200
# A read stores at most this many inserts' worth before it reads (a backlog left by a
# task worker that was down is the worker's to store), waits at most this long for
# another flush of the workspace or for rows a deletion or merge holds, and then reads
# what ClickHouse holds.
READ_FLUSHES = 10
READ_WAIT = 2.0
# The task worker stores at most this many inserts of a workspace at a time (then the
# others'), and waits at most this long for rows a deletion or merge holds.
WORKER_FLUSHES = 10
WORKER_LOCK_WAIT = 10.0


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
    # Stored once this transaction commits: the events are queued in it (``enqueue``).
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


def queued_rows(rows: list[dict], zone: ZoneInfo) -> bytes:
    """The rows as ClickHouse's JSONEachRow, a line each, with their day in ``zone`` (the
    workspace's time zone), as queued: their JSON columns still JSON, which the flush
    writes as ClickHouse holds them (``stored_lines``), in the task worker rather than in
    the request (a tenth of the request's time). Ingestion read the calls with orjson,
    which writes back whatever it read."""
    lines = []
    for row in rows:
        line = {name: row.get(name) for name in COLUMNS}
        for name in ("name", "user_id", "anonymous_id"):
            if line[name] is None:
                line[name] = ""
        for name in JSON:
            if line[name] is None:
                line[name] = {}
        line["day"] = line["timestamp"].astimezone(zone).date().isoformat()
        for name in ("timestamp", "received_at", "sent_at"):
            if line[name] is not None:
                line[name] = moment_text(line[name])
        lines.append(orjson.dumps(line))
    return b"\n".join(lines)


def stored_lines(
    lines: list[bytes], *, people: set[int], moved: dict[int, int], groups: set[int], zone: ZoneInfo | None
) -> list[bytes]:
    """Queued events (``queued_rows``' lines) as they are stored now: their JSON columns
    as text in the form PostgreSQL's jsonb writes (``copy.json_text``); those of a person
    deleted since left out, a merged visitor's given to the user (``moved``), groups
    removed since (with their type) left out of the context, and their day in ``zone``
    if the workspace's time zone changed since (else None)."""
    found = []
    for line in lines:
        event = orjson.loads(line)
        person = moved.get(event["person_id"], event["person_id"])
        if person not in people:
            continue  # deleted
        event["person_id"] = person
        for slot in range(GROUP_SLOTS):
            if event[f"group_{slot}_id"] not in groups:
                event[f"group_{slot}_id"] = None
        if zone is not None:
            moment = datetime.fromisoformat(event["timestamp"]).replace(tzinfo=UTC)
            event["day"] = moment.astimezone(zone).date().isoformat()
        for name in JSON:
            event[name] = json_text(event[name])
        found.append(orjson.dumps(event))
    return found


def enqueue(rows: list[dict], zone: ZoneInfo) -> None:
    """Queue the events ``take`` numbered (``QueuedEvents``), in ingestion's transaction:
    once it commits, they are held durably, and the call can be answered. They are
    stored in ClickHouse by ``flush``."""
    if not rows:
        return
    moments = [row["timestamp"] for row in rows]
    ids = [row["id"] for row in rows]
    QueuedEvents.objects.create(
        workspace_id=rows[0]["workspace_id"],
        zone=zone.key,
        block=queued_rows(rows, zone),
        people=sorted({row["person_id"] for row in rows}),
        groups=sorted(set().union(*map(_groups_of, rows))),
        retried=[row["message_id"] for row in rows if row.get("retried")],
        first_id=min(ids),
        last_id=max(ids),
        first_at=min(moments),
        last_at=max(moments),
    )


def flush_all() -> int:
    """``flush`` every workspace with queued events (the task worker does every second),
    then forget the merges no queued event needs any more; how many events were stored.
    A workspace whose flush failed does not hold up the others: the first error is
    raised once they are done."""
    workspaces = sorted(set(QueuedEvents.objects.values_list("workspace_id", flat=True)))
    stored, failed = 0, None
    for workspace_id in workspaces:
        try:
            stored += flush(workspace_id, wait=0, lock_wait=WORKER_LOCK_WAIT, inserts=WORKER_FLUSHES)
        except Exception as error:  # ClickHouse's or the main database's
            failed = failed or error
    _forget_made_reassignments()
    if failed is not None:
        raise failed
    return stored


def flush_to_read(workspace_id: int) -> int:
    """``flush`` before a read of the workspace's events, so that it reads every event
    answered 200: waiting at most ``READ_WAIT`` for another flush or for rows a change
    holds, storing at most ``READ_FLUSHES`` inserts' worth."""
    return flush(workspace_id, wait=READ_WAIT, lock_wait=READ_WAIT, inserts=READ_FLUSHES)


def flush(
    workspace_id: int, *, wait: float | None = None, lock_wait: float | None = None, inserts: int | None = None
) -> int:
    """Store in ClickHouse the events queued for the workspace (``enqueue``), up to
    ``FLUSHED_AT_ONCE`` batches an insert, at most ``inserts`` inserts (all, if None);
    how many were stored. Run by the task worker, and by reads (``flush_to_read``). One
    flush of a workspace at a time: another waits for the one running up to ``wait``
    seconds (for ever if None) and stores nothing if it is still running; the rows of
    people a deletion or a merge holds are waited for up to ``lock_wait`` seconds (for
    ever if None). Raises ClickHouse's error (or the main database's: waited too long)
    if it fails: the batches stay queued, and the next flush stores them."""
    if not QueuedEvents.objects.filter(workspace_id=workspace_id).exists():
        return 0
    stored, done = 0, 0
    with _flush_turn(workspace_id, wait) as turn:
        while turn and (batches := _claim(workspace_id)):
            stored += _store(workspace_id, batches, lock_wait=lock_wait)
            # Once committed (a catch-up holding its turn waits for this row, and the
            # insert's rebuilds for that turn): lost in a crash, a catch-up reads them
            # again, which changes nothing.
            rollups.added_up_to(workspace_id, max(batch.last_id for batch in batches))
            done += 1
            if len(batches) < FLUSHED_AT_ONCE or (inserts is not None and done >= inserts):
                break
    return stored


@contextmanager
def _flush_turn(workspace_id: int, wait: float | None):
    """Whether this session took the workspace's turn at flushing (PostgreSQL's advisory
    lock, held until the block ends), waited for up to ``wait`` seconds (for ever if
    None); SQLite has one writer at a time."""
    if connection.vendor != "postgresql":
        yield True
        return
    with connection.cursor() as cursor:
        if wait is None:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [FLUSH_LOCK_SPACE, workspace_id])
            taken = True
        else:
            deadline = time.monotonic() + wait
            while True:
                cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [FLUSH_LOCK_SPACE, workspace_id])
                taken = cursor.fetchone()[0]
                if taken or time.monotonic() >= deadline:
                    break
                time.sleep(0.05)
    try:
        yield taken
    finally:
        if taken:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [FLUSH_LOCK_SPACE, workspace_id])


def _claim(workspace_id: int) -> list[QueuedEvents]:
    """The workspace's first queued batches, their tries counted (committed before
    ClickHouse is written to). Those tried before may be in ClickHouse already: their
    moments are recorded (``DuplicateWindow``), so that counts read them with FINAL."""
    with transaction.atomic():
        batches = list(QueuedEvents.objects.filter(workspace_id=workspace_id).order_by("pk")[:FLUSHED_AT_ONCE])
        if not batches:
            return []
        QueuedEvents.objects.filter(pk__in=[batch.pk for batch in batches]).update(tries=F("tries") + 1)
        if tried := [batch for batch in batches if batch.tries]:
            start, end = min(batch.first_at for batch in tried), max(batch.last_at for batch in tried)
            # Once, however often ClickHouse keeps failing: a recent window covers them
            # (not one the purge may forget before the second copy is written).
            covered = DuplicateWindow.objects.filter(
                workspace_id=workspace_id, start__lte=start, end__gte=end,
                created_at__gte=timezone.now() - DuplicateWindow.KEPT_AT_LEAST / 2,
            )
            if not covered.exists():
                DuplicateWindow.objects.create(workspace_id=workspace_id, start=start, end=end)
    return batches


def _store(workspace_id: int, batches: list[QueuedEvents], *, lock_wait: float | None = None) -> int:
    """Insert queued batches into ClickHouse in one statement, and delete them from the
    queue in the transaction that commits once the insert returned; how many events.
    Their people, groups and workspace are share-locked first (``_lock_as_now``, waited
    for up to ``lock_wait`` seconds if given): a deletion, a merge, a group type's removal or
    a change of time zone waits for the insert, or went before it, and the events are
    then stored as it left them (``stored_lines``)."""
    with transaction.atomic():
        if lock_wait is not None and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT set_config('lock_timeout', %s, true)", [f"{int(lock_wait * 1000) or 1}ms"])
        people, groups, merges_pending, zone, moved = _lock_as_now(
            workspace_id,
            set().union(*(batch.people for batch in batches)),
            set().union(*(batch.groups for batch in batches)),
        )
        # Earlier merges of this workspace's visitors first, whichever request made them.
        if merges_pending:
            apply_reassignments(workspace_id)
        blocks = []
        for batch in batches:
            lines = stored_lines(
                batch.block.split(b"\n") if batch.block else [],
                people=people, moved=moved, groups=groups, zone=zone if batch.zone != zone.key else None,
            )
            blocks.extend(lines)
        retried = [message_id for batch in batches for message_id in batch.retried]
        # A retry of a call written once already by a delivery that failed after, maybe
        # with another group context (its person's memberships changed meanwhile):
        # written again with the same sorting key (reads with FINAL keep this one), and
        # the rollups of the first row's groups and person worked out again.
        earlier_groups, earlier_people = _earlier_copies(workspace_id, retried) if retried else (set(), set())
        if blocks:
            clickhouse.client().raw_insert(
                table(), STORED_COLUMNS, insert_block=b"\n".join(blocks), settings=INSERT_SETTINGS, fmt="JSONEachRow"
            )
        # Added to the rollups from the rows in hand, not read back: on a cluster a
        # read may reach a replica without them yet. A catch-up reading them again
        # later adds nothing more (the rollups hold sets, earliest and latest moments).
        if blocks:
            rollups.roll_up_rows(b"\n".join(blocks))
        if earlier_people:
            again = set(retried)
            earlier_people |= {
                event["person_id"] for event in map(orjson.loads, blocks) if event["message_id"] in again
            }
            rollups.rebuild(workspace_id, groups=earlier_groups, people=earlier_people)
        QueuedEvents.objects.filter(pk__in=[batch.pk for batch in batches]).delete()
    return len(blocks)


def _lock_as_now(workspace_id: int, wanted: set[int], group_ids: set[int]):
    """``_lock`` of the people ``wanted`` as they are now, and of the groups: those still
    there, and for those merged since into another, the other ({person: the other},
    read before the lock, so that all are locked in one statement, in order, as
    deletions lock theirs). What changed between that read and the lock (a person merged
    or deleted meanwhile, the other merged on) is read again; a person merged into one
    who is gone with no merge of theirs, read twice, was deleted. Returns the people
    locked, the groups, whether merges wait, the zone, and the merges."""
    before = None
    for _ in range(10):
        try:
            # A pass that found changes lets go of its locks (its savepoint rolled
            # back), so that the next one takes them all in order again.
            with transaction.atomic():
                present = set(Person.objects.filter(pk__in=wanted).values_list("pk", flat=True))
                moved = _moved(workspace_id, wanted - present) if wanted - present else {}
                people, groups, pending, zone = _lock(workspace_id, present | set(moved.values()), group_ids)
                if present <= people and (set(moved.values()) <= people or moved == before):
                    return people, groups, pending, zone, moved
                raise _Changed
        except _Changed:
            before = moved
    raise RuntimeError("the people of the queued events kept changing; tried again at the next flush")


class _Changed(Exception):
    """People changed between a flush's read of them and its lock."""


def _moved(workspace_id: int, people: set[int]) -> dict[int, int]:
    """{person: the person they were last merged into} of these people gone, following
    merges of merges (``PendingReassignment``, made or not); a person deleted is not in
    it."""
    merges = dict(
        PendingReassignment.objects.filter(workspace_id=workspace_id)
        .order_by("pk")
        .values_list("from_person_id", "to_person_id")
    )
    moved = {}
    for person in people:
        target, seen = person, set()
        while target in merges and target not in seen:
            seen.add(target)
            target = merges[target]
        if target != person:
            moved[person] = target
    return moved


def _forget_made_reassignments() -> int:
    """Forget the merges made in ClickHouse ``KEPT_MADE`` ago and before every event
    still queued of their workspace was; how many."""
    cutoff = timezone.now() - PendingReassignment.KEPT_MADE
    queued_before = QueuedEvents.objects.filter(workspace_id=OuterRef("workspace_id"), created_at__lte=OuterRef("made_at"))
    deleted, _ = (
        PendingReassignment.objects.filter(made_at__lt=cutoff).exclude(Exists(queued_before)).delete()
    )
    return deleted


def _groups_of(row: dict) -> set[int]:
    return {group for slot in range(GROUP_SLOTS) if (group := row.get(f"group_{slot}_id")) is not None}


def _lock(workspace_id: int, person_ids: set[int], group_ids: set[int]) -> tuple[set[int], set[int], bool, ZoneInfo]:
    """Of these people and groups, those that still exist; whether merges of the
    workspace's visitors wait to be made in ClickHouse; the workspace's time zone. On
    PostgreSQL, in one statement, the people, the groups, the groups' types and the
    workspace are share-locked (``FOR KEY SHARE``) until the transaction ends, so that a
    deletion, a merge, a group type's removal or a change of time zone (each locks its
    rows first) waits for the insert (SQLite has one writer at a time)."""
    person_ids, group_ids = sorted(person_ids), sorted(group_ids)
    pending = PendingReassignment.objects.filter(workspace_id=workspace_id, made_at__isnull=True)
    if connection.vendor != "postgresql":
        people = set(Person.objects.filter(pk__in=person_ids).values_list("pk", flat=True))
        groups = set(Group.objects.filter(pk__in=group_ids).values_list("pk", flat=True))
        return people, groups, pending.exists(), locked_zone(workspace_id)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH people AS (SELECT id FROM {Person._meta.db_table} WHERE id = ANY(%s) "
            "ORDER BY id FOR KEY SHARE), "
            f"groups AS (SELECT g.id FROM {Group._meta.db_table} g JOIN {GroupType._meta.db_table} t "
            "ON t.id = g.group_type_id WHERE g.id = ANY(%s) ORDER BY g.id FOR KEY SHARE), "
            f"zone AS (SELECT time_zone FROM {Workspace._meta.db_table} WHERE id = %s FOR KEY SHARE) "
            "SELECT ARRAY(SELECT id FROM people), ARRAY(SELECT id FROM groups), "
            f"EXISTS(SELECT 1 FROM {PendingReassignment._meta.db_table} "
            "WHERE workspace_id = %s AND made_at IS NULL), (SELECT time_zone FROM zone), "
            # Its commit need not wait for the disk: lost in a crash, the batches are
            # queued again, tried once already, and stored again as such (``_claim``).
            "set_config('synchronous_commit', 'off', true)",
            [person_ids, group_ids, workspace_id, workspace_id],
        )
        people, groups, pending, zone, _ = cursor.fetchone()
    return set(people), set(groups), pending, ZoneInfo(zone)


def reassign(*, workspace_id: int, from_person: int, to_person: int) -> None:
    """Record that the events of ``from_person`` become ``to_person``'s, in the
    transaction that deletes ``from_person``: ClickHouse changes them once it has
    committed (``apply_reassignments``), not before, since the transaction may still be
    rolled back and started over (ingestion's). Its row is locked first, so a flush
    of its events waits and then finds it gone (``flush``)."""
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


