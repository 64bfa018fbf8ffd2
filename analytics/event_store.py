"""The event store: every write to events goes through here.

Events are the one table that grows with the customer's traffic. Today they are rows of
``analytics.models.Event`` in the main database (PostgreSQL; SQLite in development).
Another store for big workspaces (ClickHouse) plugs in behind these functions, chosen
by settings when they are called: they take plain values (rows, ids) or a model
instance, never querysets, so that a store with no Django model can carry them out.
Reading events does not go through here yet.

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

from collections.abc import Callable
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Count, F, Max, Min
from django.db.models.functions import Coalesce, TruncDate

from analytics.models.bulk import add_up, copy_rows
from analytics.models.events import (
    ACTIVITY_TYPES,
    GROUP_SLOTS,
    DailyActivity,
    Event,
    EventName,
    report_event,
)

# Events are deleted this many at a time, with progress reported after each chunk.
DELETE_CHUNK = 5000


def insert(rows: list[dict], *, zone: ZoneInfo) -> int:
    """Insert new events of one workspace, given as {field attname: value}; returns how
    many. ``zone`` is the workspace's time zone, whose days ``DailyActivity`` counts.

    The caller has left out message ids stored already; one arriving meanwhile from a
    concurrent retry makes the database refuse the whole insert (IntegrityError), so
    exactly-once holds and the caller can start over. On PostgreSQL the rows go in
    through COPY. The report events they are of join the workspace's ``EventName``s, and
    their activity adds up into ``DailyActivity`` (late ones into their own past day).
    """
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


def reassign(*, from_person: int, to_person: int) -> None:
    """Make every event of the person ``from_person`` (an id) one of ``to_person``'s: an
    anonymous visitor turned out to be a known user. Their days of activity add up into
    the other's."""
    Event.objects.filter(person_id=from_person).update(person_id=to_person)
    moved = DailyActivity.objects.filter(person_id=from_person)
    fields = ["workspace_id", *DailyActivity.KEY, "events", "first_at", "last_at"]
    _add_up_days([{**row, "person_id": to_person} for row in moved.values(*fields)])
    moved.delete()


def rebuild_daily_activity(workspace) -> None:
    """Work ``workspace``'s ``DailyActivity`` out again from its events, in its time zone
    (``workspace.zone``): after the zone changed, or a group type's context was cleared.
    Two statements."""
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


def delete_of_people(
    person_ids: list[int], *, progress: Callable[[int, int], None] | None = None
) -> None:
    """Delete every event of these people, a chunk at a time; ``progress``, if given, is
    called as ``progress(deleted so far, to delete)`` before the first chunk and after
    each. Their rows should be locked, so that no call adds events meanwhile."""
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


def clear_group_type(group_type) -> int:
    """Empty ``group_type``'s place in the context of its workspace's events (the
    column of its slot), before the type and its groups are deleted; the events stay,
    and their days of activity are worked out again. Returns how many events lost it."""
    slot = group_type.slot_field
    cleared = Event.objects.filter(
        workspace_id=group_type.workspace_id, **{f"{slot}__in": group_type.groups.values("pk")}
    ).update(**{slot: None})
    if cleared:
        rebuild_daily_activity(group_type.workspace)
    return cleared
