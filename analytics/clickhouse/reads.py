"""Reading events from ClickHouse: what ``analytics.event_store`` answers from there
when ``CLICKHOUSE_URL`` is set (lists, counts, a group's activity, a cohort's
behaviour). Written by ``analytics.clickhouse.store``.

Every read that counts or lists rows reads the table with FINAL: a call written twice (a
flush tried again after one failed) is one row.
"""

from datetime import UTC, datetime, timedelta

import orjson

from analytics import clickhouse
from analytics.clickhouse.copy import COLUMNS
from analytics.clickhouse.sql import moment_text, query, scalar, table
from analytics.models import (
    ACTIVITY_TYPES,
    PAGE_EVENT,
    SCREEN_EVENT,
    Event,
    EventType,
    Person,
    parse_cursor,
)


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


def count_by_type(workspace_ids, person_ids: list[int]) -> dict[int, dict[str, int]]:
    found = {}
    if person_ids:
        rows = query(
            f"SELECT person_id, type, count() FROM {table()} FINAL "
            "WHERE workspace_id IN %(w)s AND person_id IN %(people)s GROUP BY person_id, type",
            {"w": sorted(workspace_ids), "people": list(person_ids)},
        )
        for person_id, call_type, n in rows:
            found.setdefault(person_id, {})[call_type] = n
    return found


def count_of_people(workspace_ids, person_ids: list[int]) -> dict[int, int]:
    if not person_ids:
        return {}
    return dict(
        query(
            f"SELECT person_id, count() FROM {table()} FINAL "
            "WHERE workspace_id IN %(w)s AND person_id IN %(people)s GROUP BY person_id",
            {"w": sorted(workspace_ids), "people": list(person_ids)},
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


def has_activity(workspace_id: int) -> bool:
    # Whether one row exists: a copy of it counts as well as the row.
    return bool(
        query(
            f"SELECT 1 FROM {table()} WHERE workspace_id = %(w)s AND type IN %(activity)s LIMIT 1",
            {"w": workspace_id, "activity": list(ACTIVITY_TYPES)},
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


def report_event_condition(event: str, parameters: dict) -> str:
    """The condition of the activity events of the report event ``event`` ("" any: a
    track call's name, $page or $screen), adding its parameter to ``parameters``."""
    if not event:
        return "1"
    if event == PAGE_EVENT:
        return f"type = '{EventType.PAGE}'"
    if event == SCREEN_EVENT:
        return f"type = '{EventType.SCREEN}'"
    parameters["event"] = event
    return f"(type = '{EventType.TRACK}' AND name = %(event)s)"


def units_that_did(cohort, condition, moment: datetime) -> list[int]:
    """``event_store.units_that_did``: one query."""
    parameters = {
        "w": cohort.workspace_id,
        "activity": list(ACTIVITY_TYPES),
        "since": moment_text(moment - timedelta(days=condition.days)),
        "until": moment_text(moment),
        "times": condition.times,
    }
    conditions = [
        "workspace_id = %(w)s",
        "type IN %(activity)s",
        report_event_condition(condition.event, parameters),
        "timestamp >= toDateTime64(%(since)s, 6, 'UTC')",
        "timestamp < toDateTime64(%(until)s, 6, 'UTC')",
    ]
    unit = "person_id"
    if cohort.for_groups:
        unit = f"group_{int(cohort.group_type.slot)}_id"
        conditions.append(f"{unit} IS NOT NULL")
        if cohort.exclude_internal and cohort.workspace.internal_domains:
            internal = list(Person.objects.internal(cohort.workspace).values_list("pk", flat=True))
            if internal:
                parameters["internal"] = internal
                conditions.append("person_id NOT IN %(internal)s")
    rows = query(
        f"SELECT {unit} FROM {table()} FINAL WHERE {' AND '.join(conditions)} "
        f"GROUP BY {unit} HAVING count() >= %(times)s",
        parameters,
    )
    return [unit_id for (unit_id,) in rows]

