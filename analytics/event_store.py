"""The event store: every write to events goes through here.

Events are the one table that grows with the customer's traffic. Today they are rows of
``analytics.models.Event`` in the main database (PostgreSQL; SQLite in development).
Another store for big workspaces (ClickHouse) plugs in behind these functions, chosen
by settings when they are called: they take plain values (rows, ids) or a model
instance, never querysets, so that a store with no Django model can carry them out.
Reading events goes through here too where a page lists or counts them (``Selection``,
``newest``, the counts by person); reports read them through ``analytics.reports``.

With ``CLICKHOUSE_URL`` set, events are stored in ClickHouse instead
(``analytics.clickhouse.store``): ``insert`` takes their receipts and queues them in the
caller's transaction, and the task worker stores them there (``flush_queued``), or a
read of the workspace's events first. The main database then
keeps no daily activity: reports read ClickHouse.

What is derived from events is kept here with them, so that it stays exact whatever
changes them: ``EventName`` (the names seen) and ``DailyActivity`` (each person's
activity per day and group context, which reports about any activity read). The
database keeps ``GroupDay`` (each group's days in the daily activity) and ``DayTotal``
(each day's events, in all and without a group of each slot) from the daily activity by
triggers, whatever writes it.

The database's own rules stay as a safety net: a deleted person's events go with them
(``DB_CASCADE``), and a deleted group's place in events' context is emptied
(``DB_SET_NULL``); the functions here do both first, explicitly, so another store is
told. ``tests/test_event_store.py`` checks that no other code writes to the event table.

Exceptions, each for a reason: migrations change the table itself, against its state at
that point of history; ``scripts/bench_ingest.py`` COPYs rows straight in, as the
reference it measures ingestion against, and ``scripts/bench_reports.py`` writes its ten
million generated events the same way, as ingestion would have stored them (through
ingestion they would take most of an hour); deleting a whole workspace, which only the benchmark
scripts do, leaves its events to the database's cascade. Demo and generated data
(``demo_data``, ``generate_data``) are stored through ingestion, so through here.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Count, F, Max, Min, OuterRef, Subquery
from django.db.models.functions import Coalesce, TruncDate, TruncWeek
from django.utils import timezone

from analytics.models.bulk import add_up, copy_rows
from analytics.models.events import (
    ACTIVITY_TYPES,
    GROUP_SLOTS,
    DailyActivity,
    Event,
    EventName,
    EventReceipt,
    event_q,
    report_event,
)
from analytics.models.people import MembershipChange, Person

logger = logging.getLogger(__name__)

# Events are deleted this many at a time, with progress reported after each chunk.
DELETE_CHUNK = 5000


def in_clickhouse() -> bool:
    """Whether events are stored in ClickHouse (``CLICKHOUSE_URL``)."""
    return _clickhouse() is not None


def _clickhouse():
    """The ClickHouse store (``analytics.clickhouse.store``) when ``CLICKHOUSE_URL`` is
    set, else None."""
    from analytics import clickhouse

    if not clickhouse.configured():
        return None
    from analytics.clickhouse import store

    return store


def _clickhouse_rollups():
    """The rollups of ClickHouse's events (``analytics.clickhouse.rollups``) when
    ``CLICKHOUSE_URL`` is set, else None."""
    if not _clickhouse():
        return None
    from analytics.clickhouse import rollups

    return rollups


def _clickhouse_queue():
    """The events queued for ClickHouse (``analytics.clickhouse.queue``) when
    ``CLICKHOUSE_URL`` is set, else None."""
    if not _clickhouse():
        return None
    from analytics.clickhouse import queue

    return queue


def _clickhouse_reads(*workspace_ids: int):
    """What reads events in ClickHouse (``analytics.clickhouse.reads``) when
    ``CLICKHOUSE_URL`` is set, the events queued for these workspaces stored first
    (``store_queued``); else None."""
    if not _clickhouse():
        return None
    store_queued(*workspace_ids)
    from analytics.clickhouse import reads

    return reads


# The workspaces whose queued events this thread stored in ClickHouse for the request or
# task it runs (``store_queued``), and has not queued events of since.
_stored = threading.local()


def store_queued(*workspace_ids: int) -> None:
    """With ClickHouse as the event store, store there the events queued for these
    workspaces (``analytics.clickhouse.queue.flush_to_read``), before reading theirs:
    once a request or task (a page reads events several times), and again after it
    queued events of theirs; not inside a transaction (``_in_transaction``). If that
    fails (ClickHouse failed, or a deletion held the rows too long), the read reads
    what ClickHouse holds, and the task worker stores the rest. Nothing to do
    otherwise."""
    if not (queue := _clickhouse_queue()) or _in_transaction():
        return
    done = _stored.__dict__.setdefault("workspaces", set())
    for workspace_id in workspace_ids:
        if workspace_id not in done:
            try:
                queue.flush_to_read(workspace_id)
            except Exception as error:  # ClickHouse's, or a wait too long: read what is there
                logger.warning("Storing the queued events of workspace %s before a read failed: %s", workspace_id, error)
            done.add(workspace_id)  # tried once a request, not at every read of it


def _in_transaction() -> bool:
    """Whether a transaction of the code's own is open (a test's own does not count).
    A flush in it could not commit its claim before writing to ClickHouse: a rollback
    after would bring back batches ClickHouse holds, not counted as maybe held twice.
    So reads in a transaction do not store the queued events: the caller stores them
    before it begins (``deletion.delete_people``)."""
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


def forget_stored_queues(**kwargs) -> None:
    """At the start of each request and task (``AnalyticsConfig.ready``): the events
    other processes queued since must be stored before this one reads."""
    _stored.__dict__.pop("workspaces", None)


def stored(workspace, message_ids: list[str]) -> list:
    """Querysets (to be united) of the rows whose ``message_id`` is among
    ``message_ids`` and whose event is stored: events of the main database, and with
    ClickHouse as the store also the receipts of those it holds (a call stored in the
    main database before the switch is a duplicate too)."""
    found = [Event.objects.filter(workspace=workspace, message_id__any=message_ids)]
    if _clickhouse():
        found.append(
            EventReceipt.objects.filter(workspace=workspace, message_id__any=message_ids, stored_at__isnull=False)
        )
    return found


def apply_reassignments() -> int:
    """With ClickHouse as the event store, make there the reassignments of events
    recorded and not made yet (``reassign``); how many. Nothing to do otherwise."""
    if store := _clickhouse():
        return store.apply_reassignments()
    return 0


def sync_memberships() -> int:
    """With ClickHouse as the event store, write there the memberships changed since the
    last sync (``analytics.clickhouse.memberships``; the task worker does at each
    heartbeat, reports before they read them); how many. Without it, forget the records
    of those changes, which nothing reads."""
    if _clickhouse():
        from analytics.clickhouse import memberships

        return memberships.sync_all()
    if MembershipChange.objects.exists():
        deleted, _ = MembershipChange.objects.all().delete()
        return deleted
    return 0


def catch_up_rollups() -> int:
    """With ClickHouse as the event store, add the events stored since the last time to
    its rollups (``analytics.clickhouse.rollups.catch_up``: the task worker does at each
    heartbeat, so that a report finds few to add); how many workspaces had some. Nothing
    to do otherwise (the main database's days of activity are written with the events)."""
    if rollups := _clickhouse_rollups():
        return rollups.catch_up_all()
    return 0


def purge_receipts(now: datetime | None = None) -> int:
    """Delete the receipts older than ``EventReceipt.KEPT`` (the task worker does, once an
    hour); how many."""
    cutoff = (now or timezone.now()) - EventReceipt.KEPT
    deleted, _ = EventReceipt.objects.filter(received_at__lt=cutoff).delete()
    return deleted


def purge_duplicate_windows() -> int:
    """With ClickHouse as the event store, forget the moments of calls it held twice
    once it has merged them (``analytics.clickhouse.store.purge_duplicate_windows``; the
    task worker does, once an hour); how many. Nothing to do otherwise."""
    if store := _clickhouse():
        return store.purge_duplicate_windows()
    return 0


def insert(rows: list[dict], *, zone: ZoneInfo) -> int:
    """Insert new events of one workspace, given as {field attname: value}; returns how
    many. ``zone`` is the workspace's time zone, whose days ``DailyActivity`` counts.

    With ClickHouse as the store, this only gives each event its receipt (its number and
    moment, ``rows`` are updated with them) and queues them in the caller's transaction:
    once it has committed, they are held, and stored there by ``flush_queued`` or by a
    read first.

    The caller has left out message ids stored already; one arriving meanwhile from a
    concurrent retry makes the database refuse the whole insert (IntegrityError), so
    exactly-once holds and the caller can start over. On PostgreSQL the rows go in
    through COPY. The report events they are of join the workspace's ``EventName``s, and
    their activity adds up into ``DailyActivity`` (late ones into their own past day).
    """
    if queue := _clickhouse_queue():
        _clickhouse().take(rows)
        queue.enqueue(rows, zone)
        if rows:
            _stored.__dict__.get("workspaces", set()).discard(rows[0]["workspace_id"])
    else:
        copy_rows(Event, rows)
        _add_daily_activity(rows, zone)
    names = {
        (row["workspace_id"], name)
        for row in rows
        if (name := report_event(row["type"], row["name"])) is not None
    }
    EventName.objects.bulk_create(
        [EventName(workspace_id=w, name=name) for w, name in sorted(names)], ignore_conflicts=True
    )
    return len(rows)


def flush_queued() -> int:
    """With ClickHouse as the event store, store there the events queued by ingestion
    (``analytics.clickhouse.queue.flush_all``; the task worker does at each heartbeat,
    reads of a workspace's events first); how many. Nothing to do otherwise."""
    if queue := _clickhouse_queue():
        return queue.flush_all()
    return 0


def _add_daily_activity(rows: list[dict], zone: ZoneInfo) -> None:
    days = {}
    for row in rows:
        if row["type"] not in ACTIVITY_TYPES:
            continue
        moment = row["timestamp"]
        key = (
            row["person_id"],
            moment.astimezone(zone).date(),
            *(row.get(f"group_{slot}_id") or 0 for slot in range(GROUP_SLOTS)),
        )
        found = days.get(key)
        if found is None:
            days[key] = {"workspace_id": row["workspace_id"], "events": 1, "first_at": moment, "last_at": moment}
        else:
            found["events"] += 1
            found["first_at"] = min(found["first_at"], moment)
            found["last_at"] = max(found["last_at"], moment)
    _add_up_days([dict(zip(DailyActivity.KEY, key), **totals) for key, totals in days.items()])


def _add_up_days(rows: list[dict]) -> None:
    add_up(
        DailyActivity, rows, unique=list(DailyActivity.KEY),
        add=["events"], least=["first_at"], greatest=["last_at"], parent="person_id",
    )


def reassign(*, workspace_id: int, from_person: int, to_person: int) -> None:
    """Make every event of the person ``from_person`` (an id) one of ``to_person``'s: an
    anonymous visitor turned out to be a known user, and ``from_person`` is deleted in
    this transaction. Their days of activity add up into the other's. With ClickHouse,
    it is recorded here and made there once the transaction has committed
    (the next flush of the workspace's events, or the task worker's heartbeat:
    ``apply_reassignments``)."""
    if store := _clickhouse():
        store.reassign(workspace_id=workspace_id, from_person=from_person, to_person=to_person)
        return
    Event.objects.filter(person_id=from_person).update(person_id=to_person)
    moved = DailyActivity.objects.filter(person_id=from_person)
    fields = ["workspace_id", *DailyActivity.KEY, "events", "first_at", "last_at"]
    _add_up_days([{**row, "person_id": to_person} for row in moved.values(*fields)])
    moved.delete()


def rebuild_daily_activity(workspace) -> None:
    """Work ``workspace``'s ``DailyActivity`` out again from its events, in its time zone
    (``workspace.zone``): after the zone changed, or a group type's context was cleared.
    Two statements. With ClickHouse as the store, its events' days and its rollups are
    worked out again instead, the workspace's row locked first: a flush (which
    share-locks it and writes each event's day in the zone it reads there) waits, or
    went before and is worked out again here."""
    if rollups := _clickhouse_rollups():
        list(type(workspace).objects.select_for_update().filter(pk=workspace.pk).values_list("pk"))
        rollups.rebuild(workspace.pk, zone=workspace.time_zone)
        return
    DailyActivity.objects.filter(workspace=workspace).delete()
    groups = {f"g{slot}": Coalesce(f"group_{slot}_id", 0) for slot in range(GROUP_SLOTS)}
    per_day = (
        Event.objects.filter(workspace=workspace)
        .activity()
        .values(w=F("workspace_id"), p=F("person_id"), d=TruncDate("timestamp", tzinfo=workspace.zone), **groups)
        .annotate(n=Count("id"), f=Min("timestamp"), l=Max("timestamp"))
        .order_by()
    )
    sql, params = per_day.query.sql_with_params()
    meta = DailyActivity._meta
    columns = ["workspace_id", *DailyActivity.KEY, "events", "first_at", "last_at"]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {meta.db_table} ({', '.join(meta.get_field(c).column for c in columns)}) "
            f"SELECT w, p, d, {', '.join(groups)}, n, f, l FROM ({sql}) per_day",
            params,
        )


def delete_people_and_events(
    people, workspace_of: dict[int, int], *, progress: Callable[[int, int], None] | None = None
) -> None:
    """Delete the people ``people`` (a queryset; ``workspace_of`` maps each one's id to
    its workspace's) and every event of theirs, a chunk at a time; ``progress``, if
    given, is called as ``progress(deleted so far, to delete)`` before the first chunk
    and after each. Their rows should be locked, so that no call adds events meanwhile.

    In the main database the events go first (the people's deletion would take them by
    cascade, without progress). With ClickHouse, they go last: once gone there they
    cannot come back with a rollback, so no statement that could still fail comes
    after."""
    person_ids = list(workspace_of)
    if store := _clickhouse():
        workspaces = sorted(set(workspace_of.values()))
        # One statement there, done or not: the progress is reported before it only (the
        # people's deletion below changes the deletion's own row, which a report of
        # progress, written by another connection, would then wait for).
        if progress:
            progress(0, store.count_of_events(workspaces, person_ids))
        people.delete()
        store.delete_of_people(workspaces, person_ids)
        return
    # The ids are read once, then deleted by primary key: selecting "the next chunk"
    # again each time would walk every row deleted so far, which stays in the index
    # until the transaction ends.
    ids = list(
        Event.objects.filter(person_id__in=person_ids).order_by().values_list("pk", flat=True)
    )
    if progress:
        progress(0, len(ids))
    for start in range(0, len(ids), DELETE_CHUNK):
        Event.objects.filter(pk__in=ids[start : start + DELETE_CHUNK]).delete()
        if progress:
            progress(min(start + DELETE_CHUNK, len(ids)), len(ids))
    # Last: deleting their days of activity locks their groups' days (GroupDay), which
    # new calls of those groups' other members then wait for until the deletion commits.
    DailyActivity.objects.filter(person_id__in=person_ids).delete()
    people.delete()


def clear_group_type(group_type) -> int:
    """Empty ``group_type``'s place in the context of its workspace's events (the
    column of its slot), before the type and its groups are deleted; the events stay,
    and their days of activity are worked out again. Returns how many events lost it."""
    if store := _clickhouse():
        return store.clear_group_type(group_type)
    slot = group_type.slot_field
    cleared = Event.objects.filter(
        workspace_id=group_type.workspace_id, **{f"{slot}__in": group_type.groups.values("pk")}
    ).update(**{slot: None})
    if cleared:
        rebuild_daily_activity(group_type.workspace)
    return cleared


# -- Reading ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Selection:
    """Which events of a workspace a list or a count is of: the read API's filters, a
    person's or a group's timeline. Each field left None selects any."""

    workspace_id: int
    person_id: int | None = None
    # The group in whose context they happened, by its type's slot and its id.
    slot: int | None = None
    group_id: int | None = None
    name: str | None = None
    type: str | None = None
    since: datetime | None = None  # from this moment on
    until: datetime | None = None  # before this moment
    # With a group: also the activity of these people carrying no group of its type (a
    # group's timeline with its members' unassigned events).
    unassigned_of: tuple[int, ...] | None = None
    people: tuple[int, ...] | None = None  # of any of these people
    without_slot: int | None = None  # carrying no group of this slot

    def queryset(self):
        """The selected events in the main database, in no order."""
        events = Event.objects.filter(workspace_id=self.workspace_id)
        if self.person_id is not None:
            events = events.filter(person_id=self.person_id)
        if self.name is not None:
            events = events.filter(name=self.name)
        if self.type is not None:
            events = events.filter(type=self.type)
        events = events.between(self.since, self.until)
        if self.slot is not None:
            events = events.filter(**{f"group_{self.slot}_id": self.group_id})
        if self.people is not None:
            events = events.filter(person_id__any=list(self.people))
        if self.without_slot is not None:
            events = events.filter(**{f"group_{self.without_slot}__isnull": True})
        return events

    def unassigned_queryset(self):
        return (
            Event.objects.activity()
            .filter(workspace_id=self.workspace_id, person_id__any=list(self.unassigned_of))
            .filter(**{f"group_{self.slot}__isnull": True})
            .between(self.since, self.until)
        )


def newest(selection: Selection, *, limit: int, cursor: str | None = None) -> list[Event]:
    """The newest ``limit`` selected events, newest first (by moment, then number),
    after ``cursor`` (``Event.cursor`` of the last event of the page before, checked by
    the caller)."""
    if reads := _clickhouse_reads(selection.workspace_id):
        return reads.newest(selection, limit=limit, cursor=cursor)
    events = _after(selection.queryset(), cursor).newest_first()
    if selection.unassigned_of is None:
        return list(events[:limit])
    # Read first and sent as an array, the members' ids let PostgreSQL pick its plan by
    # their number: a few members' events by person, thousands' by time.
    unassigned = _after(selection.unassigned_queryset(), cursor).newest_first()
    if connection.features.supports_slicing_ordering_in_compound:
        # Each side stops at a page, read newest first from its own index.
        events, unassigned = events[:limit], unassigned[:limit]
    else:
        events, unassigned = events.order_by(), unassigned.order_by()
    return list(events.union(unassigned, all=True).order_by("-timestamp", "-id")[:limit])


def count(selection: Selection) -> int:
    """How many events ``selection`` selects."""
    if reads := _clickhouse_reads(selection.workspace_id):
        return reads.count(selection)
    if selection.unassigned_of is not None:
        return selection.queryset().count() + selection.unassigned_queryset().count()
    return selection.queryset().count()


def _after(events, cursor):
    return events.older_than(cursor) if cursor else events


def events_of(person):
    """The number of events of the person ``person`` refers to (a field path), counted
    from the (person, timestamp) index for each row fetched: a page of 50 people costs
    50 short index scans, and nothing has to be kept up to date at ingestion."""
    events = (
        Event.objects.filter(person=OuterRef(person))
        .order_by()
        .values("person")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(events), 0)


def with_event_count(queryset, *, person: str = "pk"):
    """``queryset`` (of people, or of rows with a person: ``person`` names its field)
    with each row's ``event_count``, its person's events: annotated in the main
    database (``events_of``), or counted in ClickHouse in one query for the rows
    fetched."""
    if _clickhouse():
        attname = "pk" if person == "pk" else f"{person}_id"

        def attach(rows):
            counts = count_of_people({row.workspace_id for row in rows}, [getattr(row, attname) for row in rows])
            for row in rows:
                row.event_count = counts.get(getattr(row, attname), 0)

        return queryset.attach(attach)
    return queryset.annotate(event_count=events_of(person))


def with_activity_in(memberships, group, *, since: datetime):
    """``memberships`` of ``group`` with each one's ``recent_events``: its person's
    activity carrying the group since ``since``, counted for the rows fetched only
    (sorting thousands of members by it would read all their events on every page)."""
    if _clickhouse():

        def attach(rows):
            counts = activity_in_group(group, [row.person_id for row in rows], since=since)
            for row in rows:
                row.recent_events = counts.get(row.person_id, 0)

        return memberships.attach(attach)
    recent = (
        group.activity_events()
        .filter(person=OuterRef("person"), timestamp__gte=since)
        .order_by()
        .values("person")
        .annotate(n=Count("*"))
        .values("n")
    )
    return memberships.annotate(recent_events=Coalesce(Subquery(recent), 0))


def count_by_type(workspace_ids, person_ids: list[int]) -> dict[int, dict[str, int]]:
    """{person id: {call type: events}} of these people's events (types with none left
    out); ``workspace_ids`` are their workspaces'."""
    if reads := _clickhouse_reads(*workspace_ids):
        return reads.count_by_type(workspace_ids, person_ids)
    found = {}
    events = Event.objects.filter(person_id__in=person_ids).order_by()
    for person_id, call_type, n in events.values_list("person_id", "type").annotate(n=Count("*")):
        found.setdefault(person_id, {})[call_type] = n
    return found


def count_of_people(workspace_ids, person_ids: list[int]) -> dict[int, int]:
    """{person id: their events} (people without any left out); ``workspace_ids`` are
    their workspaces'."""
    if reads := _clickhouse_reads(*workspace_ids):
        return reads.count_of_people(workspace_ids, person_ids)
    events = Event.objects.filter(person_id__in=person_ids).order_by()
    return dict(events.values_list("person_id").annotate(n=Count("*")))


def activity_in_group(group, person_ids: list[int], *, since: datetime) -> dict[int, int]:
    """{person id: their activity carrying ``group`` since ``since``} (people without
    any left out)."""
    if reads := _clickhouse_reads(group.workspace_id):
        return reads.activity_in_group(group, person_ids, since=since)
    events = (
        Event.objects.activity()
        .filter(person_id__in=person_ids, timestamp__gte=since)
        .filter(**{group.group_type.slot_field: group})
        .order_by()
    )
    return dict(events.values_list("person_id").annotate(n=Count("*")))


def has_activity(workspace_id: int) -> bool:
    """Whether the workspace has had any activity (track, page or screen calls)."""
    if reads := _clickhouse_reads(workspace_id):
        return reads.has_activity(workspace_id)
    return Event.objects.filter(workspace_id=workspace_id).activity().exists()


def count_in_slot(workspace_id: int, slot: int) -> int:
    """How many of the workspace's events carry a group of slot ``slot``."""
    if reads := _clickhouse_reads(workspace_id):
        return reads.count_in_slot(workspace_id, slot)
    return Event.objects.filter(workspace_id=workspace_id, **{f"group_{slot}__isnull": False}).count()


def weeks_in_group(group, *, since: datetime, zone: ZoneInfo) -> dict:
    """{Monday: (activity events, people who sent them)} of the weeks (cut at midnight in
    ``zone``) with activity carrying ``group`` since ``since``."""
    if reads := _clickhouse_reads(group.workspace_id):
        return reads.weeks_in_group(group, since=since, zone=zone)
    rows = (
        group.activity_events()
        .between(since)
        .annotate(week=TruncWeek("timestamp", tzinfo=zone))
        .order_by()
        .values_list("week")
        .annotate(events=Count("*"), people=Count("person", distinct=True))
    )
    return {timezone.localtime(week, zone).date(): (events, people) for week, events, people in rows}


def top_in_group(group, *, since: datetime, limit: int) -> list[tuple[str, str, int]]:
    """The most frequent activity carrying ``group`` since ``since``: (call type, name,
    events), most first, then by type and name."""
    if reads := _clickhouse_reads(group.workspace_id):
        return reads.top_in_group(group, since=since, limit=limit)
    return list(
        group.activity_events()
        .between(since)
        .order_by()
        .values_list("type", "name")
        .annotate(n=Count("*"))
        .order_by("-n", "type", "name")[:limit]
    )


def units_that_did(cohort, condition, moment: datetime):
    """The people (a user cohort) or groups of the cohort's type who did the cohort's
    behaviour ``condition`` (its event, at least its times) in the days before
    ``moment``; for groups, the events carrying one of the type, internal people's left
    out if the cohort leaves them out. A subquery of ids, or their list from ClickHouse
    (``Cohort.members`` takes either)."""
    if reads := _clickhouse_reads(cohort.workspace_id):
        return reads.units_that_did(cohort, condition, moment)
    events = (
        Event.objects.filter(workspace_id=cohort.workspace_id)
        .activity()
        .filter(event_q(condition.event))
        .between(moment - timedelta(days=condition.days), moment)
    )
    if cohort.for_groups:
        unit = f"{cohort.group_type.slot_field}_id"
        events = events.filter(**{f"{unit}__isnull": False})
        if cohort.exclude_internal and cohort.workspace.internal_domains:
            events = events.exclude(person__in=Person.objects.internal(cohort.workspace))
    else:
        unit = "person_id"
    units = events.values(unit).order_by()
    if condition.times > 1:
        units = units.annotate(n=Count("pk")).filter(n__gte=condition.times).values(unit)
    return units
