"""The events ingestion queued in the main database (``QueuedEvents``), with ClickHouse as
the event store: queued in ingestion's transaction (``enqueue``), and stored in ClickHouse
by ``flush``, many requests' batches in one insert, by the task worker every second and
by every read of a workspace's events first (``flush_to_read``). How a call is stored,
and what its 200 means: ``analytics.clickhouse.store``."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import orjson

from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef
from django.utils import timezone

from analytics import clickhouse
from analytics.clickhouse import rollups
from analytics.clickhouse.copy import COLUMNS, JSON, STORED_COLUMNS, json_text, locked_zone
from analytics.clickhouse.sql import INSERT_SETTINGS, moment_text, query, table
from analytics.clickhouse.store import apply_reassignments
from analytics.models import (
    GROUP_SLOTS,
    DuplicateWindow,
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
    # The workspace's turn at flushing, for this session.
    if not rollups.take_turn(FLUSH_LOCK_SPACE, workspace_id, wait):
        return 0
    try:
        while batches := _claim(workspace_id):
            stored += _store(workspace_id, batches, lock_wait=lock_wait)
            # Once committed (a catch-up holding its turn waits for this row, and the
            # insert's rebuilds for that turn): lost in a crash, a catch-up reads them
            # again, which changes nothing.
            rollups.added_up_to(workspace_id, max(batch.last_id for batch in batches))
            done += 1
            if len(batches) < FLUSHED_AT_ONCE or (inserts is not None and done >= inserts):
                break
    finally:
        rollups.end_turn(FLUSH_LOCK_SPACE, workspace_id)
    return stored


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
