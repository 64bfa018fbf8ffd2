"""Events in ClickHouse: what ``analytics.event_store`` does when ``CLICKHOUSE_URL`` is
set. The main database keeps everything else, and a receipt of each message id received
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

``deliver`` holds a share lock on the events' people (``FOR KEY SHARE``) while it
inserts. A deletion (which locks them ``FOR UPDATE``) and a merge of a visitor into a
user (which deletes the visitor) wait for it, and a delivery after either finds the
person gone: their events are then not inserted and the client is asked to retry, when
a merged visitor's calls go to the user, and a deleted user's are refused. So no event
of a deleted person is inserted after their deletion removed their events.

The changes to events already stored (a visitor's events becoming a user's, a group
type's context cleared, people deleted) are statements ClickHouse runs before the
caller goes on: a lightweight ``UPDATE``, a mutation, a lightweight ``DELETE``, each
waited for.
"""

from collections.abc import Callable
from datetime import UTC, datetime

import orjson

from django.db import connection, transaction
from django.utils import timezone

from analytics import clickhouse
from analytics.event_store import NotDelivered
from analytics.clickhouse.copy import COLUMNS, json_text
from analytics.models import (
    ACTIVITY_TYPES,
    GROUP_SLOTS,
    Event,
    EventReceipt,
    Group,
    GroupType,
    Person,
    parse_cursor,
)

# Inserts are buffered by the server with others (many small batches make few parts)
# and the call returns once they are written to the table; on a cluster, once every
# shard has them.
INSERT_SETTINGS = {"async_insert": 1, "wait_for_async_insert": 1, "insert_distributed_sync": 1}
# Changes return once every replica has applied them (a server's default returns at once).
MUTATION_SETTINGS = {"mutations_sync": 2}
DELETE_SETTINGS = {"lightweight_deletes_sync": 2, "mutations_sync": 2}
UPDATE_SETTINGS = {"update_sequential_consistency": 1}


def table() -> str:
    return f"{clickhouse.database()}.events"


def query(sql: str, parameters: dict | None = None, *, settings: dict | None = None):
    """The rows of a SELECT, as tuples."""
    return clickhouse.client().query(sql, parameters=parameters or {}, settings=settings or {}).result_rows


def scalar(sql: str, parameters: dict | None = None):
    return clickhouse.client().command(sql, parameters=parameters or {})


# -- Writing -------------------------------------------------------------------------


def take(rows: list[dict]) -> None:
    """Give each new event of one workspace (rows of {field attname: value}) its receipt,
    in ingestion's transaction: its ``id``, and its ``timestamp`` kept from an earlier
    delivery whose storing failed. Raises IntegrityError when a concurrent request took
    one of these message ids meanwhile (ingestion starts over)."""
    if not rows:
        return
    workspace_id = rows[0]["workspace_id"]
    earlier = {
        receipt.message_id: receipt
        for receipt in EventReceipt.objects.filter(
            workspace_id=workspace_id, message_id__in=[row["message_id"] for row in rows]
        )
    }
    new = []
    for row in rows:
        receipt = earlier.get(row["message_id"])
        if receipt is None:
            receipt = EventReceipt(
                workspace_id=workspace_id,
                message_id=row["message_id"],
                timestamp=row["timestamp"],
                received_at=row["received_at"],
            )
            new.append(receipt)
        row["receipt"] = receipt
    EventReceipt.objects.bulk_create(new)
    for row in rows:
        receipt = row.pop("receipt")
        row["id"], row["timestamp"] = receipt.pk, receipt.timestamp


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


def deliver(rows: list[dict]) -> int:
    """Insert events whose receipts ``take`` gave, once their transaction committed, and
    mark the receipts stored; returns how many. Raises ``NotDelivered`` when some could
    not be stored (ClickHouse failed, or their person or a group of their context is
    gone): the client retries."""
    if not rows:
        return 0
    with transaction.atomic():
        people, groups = _lock(rows)
        kept = [row for row in rows if row["person_id"] in people and _groups_of(row) <= groups]
        if kept:
            try:
                clickhouse.client().insert(
                    table(), [values(row) for row in kept], column_names=COLUMNS, settings=INSERT_SETTINGS
                )
            except Exception as error:
                raise NotDelivered(f"ClickHouse did not store the events: {error}") from error
            EventReceipt.objects.filter(pk__in=[row["id"] for row in kept]).update(stored_at=timezone.now())
    if len(kept) < len(rows):
        raise NotDelivered(f"the person or a group of {len(rows) - len(kept)} event(s) changed; retry them")
    return len(kept)


def _groups_of(row: dict) -> set[int]:
    return {group for slot in range(GROUP_SLOTS) if (group := row.get(f"group_{slot}_id")) is not None}


def _lock(rows: list[dict]) -> tuple[set[int], set[int]]:
    """Of the rows' people and groups, those that still exist; on PostgreSQL, they and
    the groups' types are share-locked until the transaction ends, so that a deletion, a
    merge or a group type's removal (each locks its rows first) waits for the insert."""
    person_ids = sorted({row["person_id"] for row in rows})
    group_ids = sorted(set().union(*map(_groups_of, rows)))
    people = Person.objects.filter(pk__in=person_ids).order_by("pk").values_list("pk")
    groups = Group.objects.filter(pk__in=group_ids).order_by("pk").values_list("pk", "group_type__pk")
    return _share_locked(people), _share_locked(groups) if group_ids else set()


def _share_locked(queryset) -> set[int]:
    """The first column of ``queryset``'s rows, which PostgreSQL locks ``FOR KEY SHARE``
    in every table the query reads."""
    if connection.vendor != "postgresql":
        return {pk for pk, *_ in queryset}
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"{sql} FOR KEY SHARE", params)
        return {pk for pk, *_ in cursor.fetchall()}


def reassign(*, workspace_id: int, from_person: int, to_person: int) -> None:
    """Make the events of ``from_person`` ``to_person``'s (a lightweight UPDATE), in the
    transaction that deletes ``from_person``: its row is locked first, so a delivery of
    its events waits and then finds it gone (``deliver``)."""
    list(Person.objects.select_for_update().filter(pk=from_person).values_list("pk"))
    clickhouse.client().command(
        f"UPDATE {table()} SET person_id = %(to)s WHERE workspace_id = %(w)s AND person_id = %(from)s",
        parameters={"w": workspace_id, "from": from_person, "to": to_person},
        settings=UPDATE_SETTINGS,
    )


def delete_of_people(person_ids: list[int], *, progress: Callable[[int, int], None] | None = None) -> int:
    """Delete every event of these people (a lightweight DELETE, waited for); returns how
    many there were. Their rows are locked already (a deletion's transaction), so no
    delivery adds to them. Raises RuntimeError if some are still counted after it."""
    where = "person_id IN %(people)s"
    parameters = {"people": list(person_ids)}
    total = scalar(f"SELECT count() FROM {table()} FINAL WHERE {where}", parameters)
    if progress:
        progress(0, total)
    if total:
        clickhouse.client().command(f"DELETE FROM {table()} WHERE {where}", parameters=parameters, settings=DELETE_SETTINGS)
        left = scalar(f"SELECT count() FROM {table()} FINAL WHERE {where}", parameters)
        if left:
            raise RuntimeError(f"ClickHouse still counts {left} event(s) of the deleted people")
    if progress:
        progress(total, total)
    return total


def clear_group_type(group_type) -> int:
    """Empty ``group_type``'s slot in the context of its workspace's events (a mutation,
    waited for), in the transaction that deletes the type: its row is locked first, so a
    delivery of events carrying its groups waits and then finds them gone. Returns how many
    events lost it."""
    list(GroupType.objects.select_for_update().filter(pk=group_type.pk).values_list("pk"))
    # A slot is one type's at a time, and a type's removal empties it: whatever group
    # the workspace's events hold there is one of this type's.
    where = f"workspace_id = %(w)s AND group_{group_type.slot}_id IS NOT NULL"
    parameters = {"w": group_type.workspace_id}
    cleared = scalar(f"SELECT count() FROM {table()} FINAL WHERE {where}", parameters)
    if cleared:
        clickhouse.client().command(
            f"ALTER TABLE {table()} UPDATE group_{group_type.slot}_id = NULL WHERE {where}",
            parameters=parameters,
            settings=MUTATION_SETTINGS,
        )
    return cleared


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


# -- Reading ---------------------------------------------------------------------------
# Every read is of the table with FINAL: a call written twice (a retry after a failed
# delivery) is one row.


def moment_text(value: datetime) -> str:
    """A moment as ClickHouse's DateTime64(6) text, in UTC (parameters are formatted by
    the client, which would drop the microseconds of a datetime)."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _where(selection) -> tuple[str, dict]:
    """The WHERE clause of ``selection`` (``event_store.Selection``) and its parameters."""
    conditions, parameters = ["workspace_id = %(w)s"], {"w": selection.workspace_id}
    if selection.person_id is not None:
        conditions.append("person_id = %(person)s")
        parameters["person"] = selection.person_id
    if selection.name is not None:
        conditions.append("name = %(name)s")
        parameters["name"] = selection.name
    if selection.type is not None:
        conditions.append("type = %(type)s")
        parameters["type"] = selection.type
    if selection.since is not None:
        conditions.append("timestamp >= toDateTime64(%(since)s, 6, 'UTC')")
        parameters["since"] = moment_text(selection.since)
    if selection.until is not None:
        conditions.append("timestamp < toDateTime64(%(until)s, 6, 'UTC')")
        parameters["until"] = moment_text(selection.until)
    if selection.people is not None:
        conditions.append("person_id IN %(people)s")
        parameters["people"] = list(selection.people) or [0]
    if selection.without_slot is not None:
        conditions.append(f"group_{int(selection.without_slot)}_id IS NULL")
    if selection.slot is not None:
        column = f"group_{int(selection.slot)}_id"
        in_group = f"{column} = %(group)s"
        parameters["group"] = selection.group_id
        if selection.unassigned_of is not None:
            in_group = (
                f"({in_group} OR ({column} IS NULL AND type IN %(activity)s AND person_id IN %(members)s))"
            )
            parameters["activity"] = list(ACTIVITY_TYPES)
            parameters["members"] = list(selection.unassigned_of) or [0]
        conditions.append(in_group)
    return " AND ".join(conditions), parameters


def newest(selection, *, limit: int, cursor: str | None = None) -> list[Event]:
    """``event_store.newest``: unsaved ``Event`` instances built from the rows."""
    where, parameters = _where(selection)
    if cursor:
        moment, pk = parse_cursor(cursor)
        where += (
            " AND (timestamp < toDateTime64(%(c_at)s, 6, 'UTC')"
            " OR (timestamp = toDateTime64(%(c_at)s, 6, 'UTC') AND id < %(c_id)s))"
        )
        parameters.update(c_at=moment_text(moment), c_id=pk)
    result = clickhouse.client().query(
        f"SELECT {', '.join(COLUMNS)} FROM {table()} FINAL WHERE {where} "
        f"ORDER BY timestamp DESC, id DESC LIMIT {int(limit)}",
        parameters=parameters,
    )
    return [_event(row) for row in result.result_rows]


def count(selection) -> int:
    where, parameters = _where(selection)
    return scalar(f"SELECT count() FROM {table()} FINAL WHERE {where}", parameters)


def _event(row) -> Event:
    fields = dict(zip(COLUMNS, row))
    for name in ("timestamp", "received_at", "sent_at"):
        if fields[name] is not None:
            fields[name] = fields[name].replace(tzinfo=UTC)
    for name in ("properties", "context"):
        fields[name] = orjson.loads(fields[name])
    return Event(**fields)


def count_by_type(person_ids: list[int]) -> dict[int, dict[str, int]]:
    found = {}
    if person_ids:
        rows = query(
            f"SELECT person_id, type, count() FROM {table()} FINAL WHERE person_id IN %(people)s "
            "GROUP BY person_id, type",
            {"people": list(person_ids)},
        )
        for person_id, call_type, n in rows:
            found.setdefault(person_id, {})[call_type] = n
    return found


def count_of_people(person_ids: list[int]) -> dict[int, int]:
    if not person_ids:
        return {}
    return dict(
        query(
            f"SELECT person_id, count() FROM {table()} FINAL WHERE person_id IN %(people)s GROUP BY person_id",
            {"people": list(person_ids)},
        )
    )


def activity_in_group(group, person_ids: list[int], *, since: datetime) -> dict[int, int]:
    if not person_ids:
        return {}
    return dict(
        query(
            f"SELECT person_id, count() FROM {table()} FINAL "
            f"WHERE workspace_id = %(w)s AND group_{group.group_type.slot}_id = %(group)s "
            "AND type IN %(activity)s AND person_id IN %(people)s "
            "AND timestamp >= toDateTime64(%(since)s, 6, 'UTC') GROUP BY person_id",
            {
                "w": group.workspace_id, "group": group.pk, "activity": list(ACTIVITY_TYPES),
                "people": list(person_ids), "since": moment_text(since),
            },
        )
    )


def count_in_slot(workspace_id: int, slot: int) -> int:
    return scalar(
        f"SELECT count() FROM {table()} FINAL WHERE workspace_id = %(w)s AND group_{int(slot)}_id IS NOT NULL",
        {"w": workspace_id},
    )


def _in_group(group) -> tuple[str, dict]:
    """The WHERE clause of a group's activity, and its parameters."""
    return (
        f"workspace_id = %(w)s AND group_{int(group.group_type.slot)}_id = %(group)s AND type IN %(activity)s",
        {"w": group.workspace_id, "group": group.pk, "activity": list(ACTIVITY_TYPES)},
    )


def weeks_in_group(group, *, since: datetime, zone) -> dict:
    where, parameters = _in_group(group)
    rows = query(
        f"SELECT toMonday(timestamp, %(zone)s) AS monday, count(), uniqExact(person_id) FROM {table()} FINAL "
        f"WHERE {where} AND timestamp >= toDateTime64(%(since)s, 6, 'UTC') GROUP BY monday",
        {**parameters, "zone": str(zone), "since": moment_text(since)},
    )
    return {monday: (events, people) for monday, events, people in rows}


def top_in_group(group, *, since: datetime, limit: int) -> list[tuple[str, str, int]]:
    where, parameters = _in_group(group)
    return query(
        f"SELECT type, name, count() AS n FROM {table()} FINAL "
        f"WHERE {where} AND timestamp >= toDateTime64(%(since)s, 6, 'UTC') "
        f"GROUP BY type, name ORDER BY n DESC, type, name LIMIT {int(limit)}",
        {**parameters, "since": moment_text(since)},
    )
