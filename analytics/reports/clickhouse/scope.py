"""What every report reads from ClickHouse: the activity events of a query's scope as a
WHERE clause, its unit, buckets cut in the workspace's time zone, and the query run.

The events are in ClickHouse; who the people and groups are is in the main database.
A filter on a person's trait or a group's property, a cohort, and the internal people a
report leaves out are worked out there first, as the ids they keep (or leave out), which
the WHERE clause then names. Every read is of the events with ``FINAL``: a call written
twice (a flush tried again after one failed) is one row; but counts of events at moments
where none can be twice (``Scope.counted_events``).
"""

from __future__ import annotations

from datetime import date, datetime

from django.db.models import Q

from analytics import clickhouse, event_store
from analytics.clickhouse import rollups, sql
from analytics.models import (
    ACTIVITY_TYPES,
    PAGE_EVENT,
    SCREEN_EVENT,
    DuplicateWindow,
    EventType,
    Group,
    Person,
)
from analytics.models.properties import json_text, property_q
from analytics.reports.queries import Filter
from analytics.reports.scope import QueryScope

# Report queries may name many ids (a cohort's people): their text may be long. Copies
# of a call with the same key are in one partition (the key holds its day), so FINAL
# need not merge across partitions.
SETTINGS = {"max_query_size": 256 * 1024 * 1024, "do_not_merge_across_partitions_select_final": 1}
# Operators that keep the rows a positive condition leaves out (and rows without the key).
NEGATIVE = {"neq": "eq", "not_set": "set"}


def events_table() -> str:
    return f"{sql.table()} FINAL"


def fetch(sql: str, parameters: dict | None = None) -> list[tuple]:
    """The rows of one of the reports' queries."""
    return clickhouse.client().query(sql, parameters=parameters or {}, settings=SETTINGS).result_rows


class Scope(QueryScope):
    """The activity events a report reads from ClickHouse, in one workspace, with what it
    counts. ``params`` gathers the parameters of every clause written, which the query
    built from them is run with."""

    def __post_init__(self):
        super().__post_init__()
        self.params: dict = {"w": self.workspace.pk, "activity": list(ACTIVITY_TYPES)}
        self._names = 0

    def param(self, value) -> str:
        """A new parameter of the query being written, by its placeholder."""
        self._names += 1
        name = f"p{self._names}"
        self.params[name] = value
        return f"%({name})s"

    def moment(self, value: datetime) -> str:
        return f"toDateTime64({self.param(sql.moment_text(value))}, 6, 'UTC')"

    def day(self, value: date) -> str:
        return f"toDate({self.param(value.isoformat())})"

    @property
    def unit(self) -> str | None:
        """The column whose distinct values are counted; None counts events."""
        return self.unit_field

    def measure(self) -> str:
        return "count()" if self.unit is None else f"uniqExact({self.unit})"

    def bucket(self, interval: str, column: str = "timestamp") -> str:
        """The first day of the day, ISO week or month of the workspace's time zone
        holding the moment ``column``: a Date."""
        zone = self.param(str(self.zone))
        function = {"day": "toDate", "week": "toMonday", "month": "toStartOfMonth"}[interval]
        return f"{function}({column}, {zone})"

    def day_bucket(self, interval: str, column: str = "day") -> str:
        """The first day of the day, ISO week or month holding the day ``column`` (a Date
        of the workspace's time zone already, as the rollups keep)."""
        return {"day": column, "week": f"toMonday({column})", "month": f"toStartOfMonth({column})"}[interval]

    def rollup(self, name: str) -> str:
        """The rollup ``name`` (``schema.ROLLUPS``, ``schema.PERSON_ROLLUPS``) to read, the
        events stored so far added to the workspace's rollups first (``rollups.catch_up``,
        once a report)."""
        if not self.__dict__.get("_caught_up"):
            rollups.catch_up(self.workspace.pk)
            self._caught_up = True
        return sql.rollup_table(name)

    def counted_events(self, period) -> str:
        """The events table to count the events of ``period`` (``reports.Period``) from:
        with FINAL if a call of those days may be held twice (``DuplicateWindow``: after
        a failed flush or copy), else without it (a third of the time: a count of 90
        days of 10,000,000 events, 20 ms rather than 60)."""
        start, end = period.bounds(self.zone)
        doubled = DuplicateWindow.objects.filter(workspace=self.workspace, start__lt=end, end__gte=start)
        return events_table() if doubled.exists() else sql.table()

    def internal_ids(self) -> list[int] | None:
        """The ids of the internal people the query leaves out, or None when it leaves
        none out (read once)."""
        if not (self.query.exclude_internal and self.workspace.internal_domains):
            return None
        if "_internal" not in self.__dict__:
            self._internal = list(Person.objects.internal(self.workspace).values_list("pk", flat=True))
        return self._internal

    def in_days(self, first: date, last: date) -> str:
        """The condition of the events of the days ``first`` to ``last`` of the
        workspace's time zone, by the day each was given (``events.day``): the same
        events as between those days' first moments, read quicker (a Date, not a
        moment, compared)."""
        return f"day >= {self.day(first)} AND day <= {self.day(last)}"

    def group_days(self, first: date, last: date, *, among: str | None = None) -> str:
        """SQL of (group_id, day): the days from ``first`` to ``last`` on which groups of
        the type counted by were active (the rollup ``group_days``; a pair may come more
        than once, from parts not merged yet), of groups ``among`` (a condition on
        ``group_id``) if given; a day of only internal people's activity left out when
        they are. Most days say so by their people's extremes (``schema.PEOPLE_EXTREMES``):
        one that is not internal, someone else was active; one internal person both, only
        they were. The people of the others (internal people at both ends, rows without
        extremes) are read: first which days those are, then only theirs."""
        rows = (
            f"FROM {self.rollup('group_days')} WHERE workspace_id = %(w)s "
            f"AND slot = {self.param(self.group_type.slot)} AND {self.in_days(first, last)}"
        )
        internal = self.internal_ids()
        if internal is None:
            return f"SELECT group_id, day {rows}" + (f" AND {among}" if among else "")
        ids = self.param(internal or [0])
        unsure = fetch(
            f"SELECT DISTINCT group_id, day {rows} AND (least_person = 0 OR (least_person <> greatest_person "
            f"AND least_person IN {ids} AND greatest_person IN {ids}))",
            self.params,
        )
        if among:
            rows += f" AND {among}"
        sql = f"SELECT group_id, day {rows} AND least_person > 0 AND NOT (least_person IN {ids} AND greatest_person IN {ids})"
        if unsure:
            sql += (
                f" UNION ALL SELECT group_id, day {rows} AND (group_id, day) IN {self.param(unsure)} "
                "GROUP BY group_id, day HAVING bitmapAndnotCardinality(groupBitmapMergeState(people), "
                f"bitmapBuild(CAST({ids} AS Array(UInt64)))) > 0"
            )
        return sql

    def where(self, event: str | None = "", *, start=None, end=None, counted=True) -> str:
        """The condition of the activity events named ``event`` ("" any, None: leave the
        name to the caller) between ``start`` and ``end`` (UTC), passing the query's
        filters, without internal people (unless asked for), of the cohort's people or
        groups; with ``counted``, only those carrying the unit counted."""
        conditions = ["workspace_id = %(w)s", "type IN %(activity)s"]
        if start is not None:
            conditions.append(f"timestamp >= {self.moment(start)}")
        if end is not None:
            conditions.append(f"timestamp < {self.moment(end)}")
        if event is not None:
            conditions.append(self.event_condition(event))
        conditions += [self.filter_condition(condition) for condition in self.query.filters]
        if internal := self.internal_ids():
            conditions.append(f"person_id NOT IN {self.param(internal)}")
        if self.cohort is not None:
            # A group cohort keeps the events carrying one of its groups, whatever the
            # report counts; a user cohort, the events of its people.
            column = f"{self.cohort.group_type.slot_field}_id" if self.cohort.group_type else "person_id"
            members = list(self.cohort.members(did=event_store.units_that_did).values_list("pk", flat=True))
            conditions.append(f"ifNull({column}, 0) IN {self.param(members or [0])}")
        if counted and self.group_type:
            conditions.append(f"{self.unit} IS NOT NULL")
        return " AND ".join(conditions)

    def event_condition(self, event: str) -> str:
        """The activity events of the report event ``event`` ("" any)."""
        return self.events_condition({event})

    def events_condition(self, events) -> str:
        """The activity events of any of the report events ``events``."""
        events = set(events)
        if "" in events:
            return "1"
        parts = []
        names = sorted(events - {PAGE_EVENT, SCREEN_EVENT})
        if names:
            parts.append(f"(type = 'track' AND name IN {self.param(names)})")
        if PAGE_EVENT in events:
            parts.append(f"type = '{EventType.PAGE}'")
        if SCREEN_EVENT in events:
            parts.append(f"type = '{EventType.SCREEN}'")
        return f"({' OR '.join(parts)})"

    def report_event(self) -> str:
        """The report event of an activity event: its name for a track call, $page or
        $screen for the others."""
        return (
            f"multiIf(type = '{EventType.PAGE}', '{PAGE_EVENT}', "
            f"type = '{EventType.SCREEN}', '{SCREEN_EVENT}', name)"
        )

    # Conditions on what calls send as JSON (``analytics.models.properties``).

    def filter_condition(self, condition: Filter) -> str:
        if condition.on == "event":
            return self.property_condition("properties", condition.key, condition.op, condition.value)
        # The people or groups the condition keeps, from the main database; a negative
        # one as those its positive keeps, left out (with the events of no group).
        positive = NEGATIVE.get(condition.op, condition.op)
        if condition.on == "person":
            found = Person.objects.filter(workspace=self.workspace)
            column, base = "person_id", "traits"
        else:
            group_type = self.types[condition.on]
            found = Group.objects.filter(group_type=group_type)
            column, base = f"{group_type.slot_field}_id", "properties"
        left_out = property_q(base, condition.key, positive, condition.value)
        if condition.op == "neq":
            # As in the main database: a key set to JSON's null equals nothing, and
            # differs from nothing either.
            found = found.alias(text=json_text(base, condition.key))
            left_out |= Q(**{f"{base}__has_key": condition.key, "text__isnull": True})
        ids = list(found.filter(left_out).values_list("pk", flat=True))
        keeps = f"ifNull({column}, 0) IN {self.param(ids or [0])}"
        return f"NOT ({keeps})" if condition.op in NEGATIVE else keeps

    def text_of(self, column: str, key: str) -> str:
        """The value at ``key`` of the JSON text ``column`` as text, as PostgreSQL's
        ``->>`` gives it: a string as it is, another value as written, NULL for none or
        JSON's null. An array or an object as jsonb writes it, ``, `` and ``: `` between
        items (ClickHouse gives them back without spaces); ingestion stored the keys in
        jsonb's order (``copy.json_text``). Values nested deeper keep ClickHouse's form."""
        key = self.param(key)
        kind = f"JSONType({column}, {key})"
        items = f"arrayStringConcat(JSONExtractArrayRaw({column}, {key}), ', ')"
        members = (
            f"arrayStringConcat(arrayMap(m -> concat(toJSONString(m.1), ': ', m.2), "
            f"JSONExtractKeysAndValuesRaw({column}, {key})), ', ')"
        )
        return (
            f"multiIf({kind} = 'String', JSONExtractString({column}, {key}), "
            f"{kind} IN ('Null', 'None'), NULL, "
            f"{kind} = 'Array', concat('[', {items}, ']'), "
            f"{kind} = 'Object', concat('{{', {members}, '}}'), "
            f"JSONExtractRaw({column}, {key}))"
        )

    def property_condition(self, column: str, key: str, op: str, value: str) -> str:
        """``analytics.models.properties.property_q`` on the JSON text ``column``."""
        present = f"JSONHas({column}, {self.param(key)})"
        text = self.text_of(column, key)
        match op:
            case "set":
                return present
            case "not_set":
                return f"NOT {present}"
            case "eq":
                return f"ifNull({text} = {self.param(value)}, 0)"
            case "neq":
                return f"(NOT {present} OR NOT ifNull({text} = {self.param(value)}, 1))"
            case "contains":
                return f"ifNull(positionCaseInsensitiveUTF8({text}, {self.param(value)}) > 0, 0)"
            case "gt" | "lt":
                try:
                    bound = float(value)
                except ValueError:
                    return "0"
                kind = f"JSONType({column}, {self.param(key)})"
                number = f"JSONExtractFloat({column}, {self.param(key)})"
                compare = ">" if op == "gt" else "<"
                return f"({kind} IN ('Int64', 'UInt64', 'Double') AND {number} {compare} {self.param(bound)})"
        raise ValueError(f"op must be one of {', '.join(Filter.OPERATORS)}; not {op!r}")

    def value_of(self, on: str, key: str) -> str:
        """The breakdown value of each event, "" for none: an event's property read from
        its JSON; a person's trait or a group's property, looked up among theirs (read
        from the main database, those that have the key)."""
        if on == "event":
            return f"ifNull({self.text_of('properties', key)}, '')"
        if on == "person":
            rows, column = Person.objects.filter(workspace=self.workspace), "person_id"
            base = "traits"
        else:
            group_type = self.types[on]
            rows, column = Group.objects.filter(group_type=group_type), f"{group_type.slot_field}_id"
            base = "properties"
        pairs = rows.filter(**{f"{base}__has_key": key}).annotate(v=json_text(base, key)).values_list("pk", "v")
        ids, values = [], []
        for pk, text in pairs:
            if text is not None:
                ids.append(pk)
                values.append(text)
        return f"transform(ifNull({column}, 0), {self.param(ids)}, {self.param(values)}, '')"
