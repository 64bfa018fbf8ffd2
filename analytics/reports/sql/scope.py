"""What every report reads: the scope of a query (its workspace, events or days of
activity, filters and unit), and how buckets come back from each database."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.db import connection
from django.db.models import (
    Case,
    Count,
    DateField,
    F,
    Func,
    Q,
    QuerySet,
    Sum,
    When,
)
from django.db.models.functions import Coalesce, Trunc

from analytics import event_store
from analytics.models import (
    DailyActivity,
    DayTotal,
    Event,
    GroupDay,
    Person,
    event_q,
)
from analytics.models.properties import json_text, property_q
from analytics.reports.queries import (
    Filter,
    first_moment,
    next_bucket,
)
from analytics.reports.scope import QueryScope


class Scope(QueryScope):
    """The activity events a report reads from the main database, in one workspace, with
    what it counts."""

    def measure(self):
        if self.unit_field is None:
            return Count("id")
        return Count(self.unit_field, distinct=True)

    def bucket(self, interval: str, field_name: str = "timestamp", *, firsts: list[date]):
        """The first day of the day, week or month (of the workspace's time zone) holding
        the moment ``field_name``: a date, as the buckets of daily activity are (the two
        meet in retention). ``firsts`` are the first days of the buckets the moments may
        fall in, in order (on PostgreSQL a moment outside them has no bucket: NULL)."""
        if connection.vendor == "postgresql":
            return BucketAmong(F(field_name), firsts, interval, self.zone)
        return Trunc(field_name, interval, tzinfo=self.zone, output_field=DateField())

    # Daily activity (``DailyActivity``): what any activity is asked about reads a
    # person's days of activity per group context instead of every event.

    @property
    def reads_days(self) -> bool:
        """Whether daily activity can answer for any activity: its rows know people,
        days and group context, not the events' properties (filters), nor which group of
        another type a group cohort would keep."""
        return not self.query.filters and (self.cohort is None or self.cohort.group_type is None)

    @property
    def day_unit(self) -> str | None:
        """The daily-activity column whose distinct values are counted; None sums events."""
        if self.group_type:
            return self.group_type.slot_field
        return "person_id" if self.query.count_by == "users" else None

    def day_measure(self):
        if self.day_unit is None:
            return Coalesce(Sum("events"), 0)
        return Count(self.day_unit, distinct=True)

    def day_bucket(self, interval: str, field_name: str = "day"):
        if interval == "day":
            return F(field_name)
        return Trunc(field_name, interval, output_field=DateField())

    def days(self, first: date | None, last: date, *, counted=True, internal=False) -> QuerySet:
        """Rows of daily activity from the day ``first`` (None: ever) to ``last``, of the
        people the query counts; with ``counted``, those whose context has the unit.
        With ``internal``, those of the internal people instead (whom it leaves out)."""
        rows = DailyActivity.objects.filter(workspace=self.workspace, day__lte=last)
        if first is not None:
            rows = rows.filter(day__gte=first)
        if internal:
            rows = rows.filter(person__in=Person.objects.internal(self.workspace))
        elif self.query.exclude_internal and self.workspace.internal_domains:
            rows = rows.exclude(person__in=Person.objects.internal(self.workspace))
        if self.cohort is not None:
            rows = rows.filter(person__in=self.cohort.members(did=event_store.units_that_did))
        if counted and self.group_type:
            rows = rows.exclude(**{self.group_type.slot_field: 0})
        return rows

    def activity_totals(self, firsts: Iterable[date], last: date) -> dict[date, tuple[int, int]]:
        """For each day ``first`` of ``firsts``, the activity events from ``first`` to
        ``last`` of the people the query counts, and how many of them carried no group
        of the type counted by: {first: (events, without a group)}. One query: of the
        day totals (``DayTotal``: a few rows a day) less the internal people's days of
        activity when the query leaves them out; of the days of activity of a cohort's
        people."""
        firsts = sorted(set(firsts))
        slot = self.group_type.slot_field
        no_group = Case(When(**{slot: 0}, then=F("events")), default=0)
        if self.cohort is not None:
            parts = [self.days(firsts[0], last, counted=False).values("day", n=F("events"), w=no_group)]
        else:
            totals = DayTotal.objects.filter(workspace=self.workspace, day__gte=firsts[0], day__lte=last)
            parts = [totals.values("day", n=F("events"), w=F(f"without_{self.group_type.slot}"))]
            if self.query.exclude_internal and self.workspace.internal_domains:
                internal = self.days(firsts[0], last, counted=False, internal=True)
                parts.append(internal.values("day", n=-F("events"), w=-no_group))
        queries = [part.order_by().query.sql_with_params() for part in parts]
        columns = ", ".join(
            "COALESCE(SUM(CASE WHEN day >= %s THEN n END), 0), COALESCE(SUM(CASE WHEN day >= %s THEN w END), 0)"
            for _ in firsts
        )
        since = [connection.ops.adapt_datefield_value(first) for first in firsts for _ in range(2)]
        (found,) = fetch(
            f"SELECT {columns} FROM ({' UNION ALL '.join(sql for sql, _ in queries)}) t",
            [*since, *(p for _, params in queries for p in params)],
        )
        # SUM of bigints is a numeric on PostgreSQL (a Decimal here).
        return {first: (int(found[2 * i]), int(found[2 * i + 1])) for i, first in enumerate(firsts)}

    def group_days_sql(self, first: date | None, last: date, interval: str = "day"):
        """SQL of distinct (bucket, unit): the groups of the type counted by with
        activity of their own in each bucket of ``interval`` from the day ``first`` (None:
        ever) to ``last``; with its parameters. Read from ``GroupDay`` (a row per group
        and day) unless a cohort of people keeps only some people's days; the internal
        people's own rows taken off when the query leaves them out."""
        slot = self.group_type.slot_field
        bucket = self.day_bucket(interval)
        if self.cohort is not None:
            rows = self.days(first, last).values(bucket=bucket, unit=F(slot)).distinct()
            return rows.order_by().query.sql_with_params()
        days = GroupDay.objects.filter(
            workspace=self.workspace, slot=self.group_type.slot, day__lte=last
        )
        if first is not None:
            days = days.filter(day__gte=first)
        present = days.filter(activity_rows__gt=0).values(bucket=bucket, unit=F("group_id"))
        if not (self.query.exclude_internal and self.workspace.internal_domains):
            sql, params = present.order_by().query.sql_with_params()
        else:
            sql, params = self._without_internal_days(days, first, last, bucket)
        if interval != "day":  # a group is in a week's or a month's days several times
            sql = f"SELECT DISTINCT bucket, unit FROM ({sql}) present"
        return sql, params

    def _without_internal_days(self, days: QuerySet, first, last, bucket):
        """SQL of (bucket, unit) of the group days ``days`` on which more rows of daily
        activity carry the group than its internal people's rows do."""
        slot = self.group_type.slot_field
        internal = (
            self.days(first, last, internal=True)
            .values(internal_day=F("day"), internal_unit=F(slot))
            .annotate(n=Count("*"))
            .order_by()
        )
        days = days.values(bucket=bucket, unit=F("group_id"), d=F("day"), rows=F("activity_rows"))
        days_sql, days_params = days.order_by().query.sql_with_params()
        internal_sql, internal_params = internal.query.sql_with_params()
        return (
            f"SELECT g.bucket, g.unit FROM ({days_sql}) g LEFT JOIN ({internal_sql}) i "
            f"ON i.internal_day = g.d AND i.internal_unit = g.unit WHERE g.rows > COALESCE(i.n, 0)",
            [*days_params, *internal_params],
        )

    def events(self, event: str | None = "", *, start=None, end=None, counted=True) -> QuerySet:
        """Activity events named ``event`` ("" any) between ``start`` and ``end`` (UTC),
        passing the query's filters, without internal people; with ``counted``, only
        those that carry the unit counted (a group of the type counted by)."""
        events = Event.objects.filter(workspace=self.workspace).activity().between(start, end)
        if event is not None:
            events = events.filter(event_q(event))
        for condition in self.query.filters:
            events = events.filter(self.filter_q(condition))
        if self.query.exclude_internal and self.workspace.internal_domains:
            events = events.exclude(person__in=Person.objects.internal(self.workspace))
        if self.cohort is not None:
            # A group cohort keeps the events carrying one of its groups, whatever the
            # report counts; a user cohort, the events of its people.
            field = self.cohort.group_type.slot_field if self.cohort.group_type else "person"
            events = events.filter(**{f"{field}__in": self.cohort.members(did=event_store.units_that_did)})
        if counted and self.group_type:
            events = events.filter(**{f"{self.group_type.slot_field}__isnull": False})
        return events

    def json_base(self, on: str) -> str:
        if on == "event":
            return "properties"
        if on == "person":
            return "person__traits"
        return f"{self.types[on].slot_field}__properties"

    def text_of(self, on: str, key: str):
        return json_text(self.json_base(on), key)

    def filter_q(self, condition: Filter) -> Q:
        return property_q(
            self.json_base(condition.on), condition.key, condition.op, condition.value
        )


class BucketAmong(Func):
    """The first day of the bucket holding a moment, on PostgreSQL: the moment looked up
    among the buckets' first moments in UTC (``width_bucket``, a binary search over a
    few numbers), rather than converted to the workspace's time zone and truncated,
    which took a third of a trend's time over a million events. The first moments are
    those of ``Period.bounds``: the same days as the time zone's, daylight saving
    included. A moment before the first bucket or from the end of the last on has none
    (NULL): with buckets that miss some of its moments a caller counts them in no bucket
    rather than in the nearest one."""

    output_field = DateField()

    def __init__(self, expression, firsts: list[date], interval: str, zone):
        super().__init__(expression)
        self.firsts = [*firsts, None]
        ends = [*firsts, next_bucket(firsts[-1], interval)]
        self.moments = [first_moment(day, zone) for day in ends]

    def as_sql(self, compiler, connection, **extra_context):
        moment, params = compiler.compile(self.source_expressions[0])
        return (
            f"(%s::date[])[width_bucket({moment}, %s::timestamptz[])]",
            [self.firsts, *params, self.moments],
        )


def table_sql(names: list[str], rows: list[tuple]) -> tuple[str, list]:
    """SQL (and parameters) of a table of ``rows`` (tuples of parameter values) whose
    columns are ``names``: a list of VALUES, which takes any number of rows (a compound
    SELECT takes at most 500 terms on SQLite). Both databases call the columns of VALUES
    column1, column2, …"""
    row = "(" + ", ".join(["%s"] * len(names)) + ")"
    columns = ", ".join(f"column{i} AS {name}" for i, name in enumerate(names, start=1))
    return (
        f"SELECT {columns} FROM (VALUES {', '.join([row] * len(rows))}) v",
        [value for values in rows for value in values],
    )


def fetch(sql: str, params) -> list[tuple]:
    """The rows of a query of the reports' own SQL."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()





