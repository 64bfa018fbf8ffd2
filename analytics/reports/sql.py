"""Reports answered by the database the models live in (PostgreSQL, or SQLite for the
demo), from the event table itself.

Each function takes a workspace and a query from ``analytics.reports.queries`` and
returns a result from ``analytics.reports.results``; the ``*_actors`` functions return
the ids of the people or groups behind one number, as a subquery. Days, ISO weeks and
months are cut at midnight in the workspace's time zone.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    DateField,
    F,
    Func,
    IntegerField,
    Min,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Trunc

from analytics.models import (
    ACTIVITY_TYPES,
    PAGE_EVENT,
    SCREEN_EVENT,
    Cohort,
    DailyActivity,
    Event,
    EventName,
    EventType,
    GroupType,
    Membership,
    Person,
    Workspace,
    event_q,
    events_q,
)
from analytics.models.properties import json_text, property_q
from analytics.reports.queries import (
    ActiveGroups,
    Filter,
    Funnel,
    Period,
    Query,
    ReportError,
    Retention,
    Trend,
    bucket_of,
    event_label,
    next_bucket,
    today_in,
)
from analytics.reports.results import (
    ActiveCount,
    ActiveGroupsResult,
    EventCount,
    FunnelResult,
    FunnelStep,
    RetentionCohort,
    RetentionResult,
    SeriesResult,
    TrendResult,
)

BREAKDOWN_TOP = 10


@dataclass
class _Scope:
    """The activity events a report reads, in one workspace, with what it counts."""

    workspace: Workspace
    query: Query

    def __post_init__(self):
        self.types = {t.name: t for t in self.workspace.group_types.all()}
        self.zone = self.workspace.zone
        unit = self.query.count_by
        self.group_type: GroupType | None = self.types.get(unit)
        if unit not in ("users", "events") and self.group_type is None:
            raise ReportError(f"This workspace has no group type “{unit}”.")
        self.cohort: Cohort | None = None
        if self.query.cohort:
            self.cohort = (
                Cohort.objects.select_related("workspace", "group_type")
                .filter(workspace=self.workspace, pk=self.query.cohort)
                .first()
            )
            if self.cohort is None:
                raise ReportError(f"No cohort with the number {self.query.cohort} in this workspace.")

    @property
    def unit_field(self) -> str | None:
        """The column whose distinct values are counted; None counts events."""
        if self.group_type:
            return f"{self.group_type.slot_field}_id"
        return "person_id" if self.query.count_by == "users" else None

    def measure(self):
        if self.unit_field is None:
            return Count("id")
        return Count(self.unit_field, distinct=True)

    def bucket(self, interval: str, field_name: str = "timestamp"):
        # A date, as the buckets of daily activity are: the two meet in retention.
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

    def days(self, first: date | None, last: date, *, counted=True) -> QuerySet:
        """Rows of daily activity from the day ``first`` (None: ever) to ``last``, of the
        people the query counts; with ``counted``, those whose context has the unit."""
        rows = DailyActivity.objects.filter(workspace=self.workspace, day__lte=last)
        if first is not None:
            rows = rows.filter(day__gte=first)
        if self.query.exclude_internal and self.workspace.internal_domains:
            rows = rows.exclude(person__in=Person.objects.internal(self.workspace))
        if self.cohort is not None:
            rows = rows.filter(person__in=self.cohort.members())
        if counted and self.group_type:
            rows = rows.exclude(**{self.group_type.slot_field: 0})
        return rows

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
            events = events.filter(**{f"{field}__in": self.cohort.members()})
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
        return property_q(self.json_base(condition.on), condition.key, condition.op, condition.value)


def _as_date(value) -> date:
    """A bucket's first day from what the database returns for a truncated moment."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _count_by_bucket(rows: Iterable[tuple], dates: list[date]) -> list[int]:
    counts = {_as_date(bucket): n for bucket, n in rows}
    return [counts.get(day, 0) for day in dates]


# Trends


def trends(workspace: Workspace, query: Trend) -> TrendResult:
    scope = _Scope(workspace, query)
    result = TrendResult(dates=query.period.buckets(query.interval), series=[])
    result.series = _trend_series(scope, query.period, result.dates)
    if query.compare:
        previous = query.period.previous()
        result.previous_dates = previous.buckets(query.interval)
        result.previous = _trend_series(scope, previous, result.previous_dates)
    return result


def _trend_series(scope: _Scope, period: Period, dates: list[date]) -> list[SeriesResult]:
    query: Trend = scope.query
    start, end = period.bounds(scope.zone)
    found = []
    for event in query.events:
        if event == "" and not query.breakdown and scope.reads_days:
            rows = scope.days(period.start, period.end)
            bucket, unit = scope.day_bucket(query.interval), scope.day_unit
        elif not query.breakdown:
            rows = scope.events(event, start=start, end=end)
            bucket, unit = scope.bucket(query.interval), scope.unit_field
        else:
            found += _breakdown(scope, scope.events(event, start=start, end=end), event, dates)
            continue
        per_bucket, total = _per_bucket_and_total(rows, bucket, unit)
        found.append(SeriesResult(event_label(event), event, _count_by_bucket(per_bucket, dates), total))
    return found


def _per_bucket_and_total(rows: QuerySet, bucket, unit: str | None):
    """([(bucket, distinct units)], distinct units over all of them) from one reading of
    ``rows``: their distinct (bucket, unit) pairs, counted twice. Without a unit, rows of
    events count each event (daily activity: its ``events``), the total their sum."""
    if unit is None:
        measure = Coalesce(Sum("events"), 0) if rows.model is DailyActivity else Count("id")
        per_bucket = list(
            rows.annotate(bucket=bucket).values("bucket").annotate(n=measure).values_list("bucket", "n").order_by()
        )
        return per_bucket, sum(n for _, n in per_bucket)
    pairs_sql, params = rows.values(bucket=bucket, unit=F(unit)).distinct().order_by().query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH pairs AS ({pairs_sql}) SELECT 1, bucket, COUNT(*) FROM pairs GROUP BY bucket "
            f"UNION ALL SELECT 0, NULL, COUNT(DISTINCT unit) FROM pairs",
            params,
        )
        found = cursor.fetchall()
    return [(b, n) for is_bucket, b, n in found if is_bucket], next(n for is_bucket, _, n in found if not is_bucket)


def _breakdown(scope: _Scope, events: QuerySet, event: str, dates: list[date]) -> list[SeriesResult]:
    query: Trend = scope.query
    value = Coalesce(scope.text_of(query.breakdown_on, query.breakdown), Value(""), output_field=CharField())
    valued = events.annotate(value=value)
    top = list(
        valued.values("value")
        .annotate(n=scope.measure())
        .order_by("-n", "value")
        .values_list("value", "n")[:BREAKDOWN_TOP]
    )
    found = []
    for shown, total in top:
        per_bucket = (
            valued.filter(value=shown)
            .annotate(bucket=scope.bucket(query.interval))
            .values("bucket")
            .annotate(n=scope.measure())
            .values_list("bucket", "n")
            .order_by()
        )
        label = shown if shown != "" else "(none)"
        found.append(
            SeriesResult(label, event, _count_by_bucket(per_bucket, dates), total, breakdown_value=shown)
        )
    others = valued.exclude(value__in=[shown for shown, _ in top])
    other_total = others.aggregate(n=scope.measure())["n"]
    if top and other_total:
        per_bucket = (
            others.annotate(bucket=scope.bucket(query.interval))
            .values("bucket")
            .annotate(n=scope.measure())
            .values_list("bucket", "n")
            .order_by()
        )
        found.append(
            SeriesResult(
                "Other", event, _count_by_bucket(per_bucket, dates), other_total,
                breakdown_value=None, is_other=True,
            )
        )
    return found


def _point_bounds(scope: _Scope, query: Trend | ActiveGroups, day: date):
    """The UTC bounds of the chart point holding ``day``: its day, week or month, cut
    to the report's period; ReportError if ``day`` is outside the period."""
    first = bucket_of(day, query.interval)
    last = next_bucket(first, query.interval) - timedelta(days=1)
    point = Period(max(first, query.period.start), min(last, query.period.end))
    if point.end < point.start:
        raise ReportError(f"{day} is outside the report's period.")
    return point.bounds(scope.zone)


def trend_actors(
    workspace: Workspace, query: Trend, *, series: int, day: date, breakdown_value=None, other=False
) -> QuerySet:
    """Ids of the people or groups counted in series ``series`` on the point ``day``."""
    scope = _Scope(workspace, query)
    if scope.unit_field is None:
        raise ReportError("A count of events has no people or groups behind it; count users or groups.")
    if not 0 <= series < len(query.events) or (query.breakdown and series != 0):
        raise ReportError(f"series must be one of the report's series, from 0; not {series}.")
    start, end = _point_bounds(scope, query, day)
    events = scope.events(query.events[series], start=start, end=end)
    if query.breakdown:
        value = Coalesce(scope.text_of(query.breakdown_on, query.breakdown), Value(""), output_field=CharField())
        events = events.annotate(value=value)
        if other:
            top = [v for v, _ in _top_values(scope, query)]
            events = events.exclude(value__in=top)
        elif breakdown_value is not None:
            events = events.filter(value=breakdown_value)
    return events.values_list(scope.unit_field, flat=True).distinct().order_by()


def _top_values(scope: _Scope, query: Trend):
    start, end = query.period.bounds(scope.zone)
    value = Coalesce(scope.text_of(query.breakdown_on, query.breakdown), Value(""), output_field=CharField())
    return list(
        scope.events(query.events[0], start=start, end=end)
        .annotate(value=value)
        .values("value")
        .annotate(n=scope.measure())
        .order_by("-n", "value")
        .values_list("value", "n")[:BREAKDOWN_TOP]
    )


# Active groups, strict beside the over-count


def active_groups(workspace: Workspace, query: ActiveGroups) -> ActiveGroupsResult:
    """Two queries: the groups strictly and over-counted from one reading of the
    activity, then how many events carried no group of the type."""
    scope = _Scope(workspace, query)
    dates = query.period.buckets(query.interval)
    if scope.reads_days:
        first, last = query.period.start, query.period.end
        sql, params = _overcount_days_sql(scope, first, last)
        without = Q(**{scope.group_type.slot_field: 0})
        totals = scope.days(first, last, counted=False).aggregate(
            all=Coalesce(Sum("events"), 0), without=Coalesce(Sum("events", filter=without), 0)
        )
    else:
        start, end = query.period.bounds(scope.zone)
        sql, params = _overcount_sql(scope, start, end)
        without = Q(**{f"{scope.group_type.slot_field}__isnull": True})
        totals = scope.events(start=start, end=end, counted=False).aggregate(
            all=Count("id"), without=Count("id", filter=without)
        )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT bucket, COUNT(DISTINCT CASE WHEN own = 1 THEN unit END), COUNT(DISTINCT unit) "
            f"FROM ({sql}) credited GROUP BY bucket",
            params,
        )
        rows = cursor.fetchall()
    return ActiveGroupsResult(
        dates=dates,
        strict=_count_by_bucket([(bucket, strict) for bucket, strict, _ in rows], dates),
        overcount=_count_by_bucket([(bucket, over) for bucket, _, over in rows], dates),
        events=totals["all"],
        events_without_group=totals["without"],
    )


def _overcount_sql(scope: _Scope, start, end) -> tuple[str, list]:
    """SQL of (bucket, unit, own): each event's own group of the type (own = 1), and for
    events with none, every group of the type its person was in at the event's moment
    (own = 0)."""
    bucket = scope.bucket(scope.query.interval)
    own = (
        scope.events(start=start, end=end)
        .values(bucket=bucket, unit=F(scope.unit_field))
        .order_by()
    )
    without = (
        scope.events(start=start, end=end, counted=False)
        .filter(**{f"{scope.group_type.slot_field}__isnull": True})
        .values(bucket=bucket, person_ref=F("person_id"), moment=F("timestamp"))
        .order_by()
    )
    own_sql, own_params = own.query.sql_with_params()
    without_sql, without_params = without.query.sql_with_params()
    membership = connection.ops.quote_name(Membership._meta.db_table)
    sql = (
        f"SELECT bucket, unit, 1 AS own FROM ({own_sql}) named UNION ALL "
        f"SELECT e.bucket, m.group_id AS unit, 0 AS own FROM ({without_sql}) e "
        f"JOIN {membership} m ON m.person_id = e.person_ref AND m.group_type_id = %s "
        f"AND m.started_at <= e.moment AND (m.ended_at IS NULL OR e.moment < m.ended_at)"
    )
    return sql, [*own_params, *without_params, scope.group_type.pk]


def _overcount_days_sql(scope: _Scope, first: date, last: date, *, interval: str | None = None):
    """``_overcount_sql`` from daily activity, days ``first`` to ``last``, bucketed by
    ``interval`` (the query's by default). A day of a person's activity without a group
    of the type (first to last moment) is credited to a group they were in all that
    time at once; when a membership began or ended within that time, the events
    themselves say whether one fell in it (rare: most memberships outlast a day's use)."""
    bucket = scope.day_bucket(interval or scope.query.interval)
    slot = scope.group_type.slot_field
    own = scope.days(first, last).values(bucket=bucket, unit=F(slot)).order_by()
    without = (
        scope.days(first, last, counted=False)
        .filter(**{slot: 0})
        .values(bucket=bucket, person_ref=F("person_id"), since=F("first_at"), until=F("last_at"))
        .order_by()
    )
    own_sql, own_params = own.query.sql_with_params()
    without_sql, without_params = without.query.sql_with_params()
    membership = connection.ops.quote_name(Membership._meta.db_table)
    event = connection.ops.quote_name(Event._meta.db_table)
    activity = ", ".join(f"'{kind}'" for kind in ACTIVITY_TYPES)
    sql = (
        f"SELECT bucket, unit, 1 AS own FROM ({own_sql}) named UNION ALL "
        f"SELECT d.bucket, m.group_id AS unit, 0 AS own FROM ({without_sql}) d "
        f"JOIN {membership} m ON m.person_id = d.person_ref AND m.group_type_id = %s "
        f"AND m.started_at <= d.until AND (m.ended_at IS NULL OR d.since < m.ended_at) "
        f"WHERE (m.started_at <= d.since AND (m.ended_at IS NULL OR d.until < m.ended_at)) "
        f"OR EXISTS (SELECT 1 FROM {event} e WHERE e.person_id = d.person_ref "
        f"AND e.timestamp >= d.since AND e.timestamp <= d.until AND e.timestamp >= m.started_at "
        f"AND (m.ended_at IS NULL OR e.timestamp < m.ended_at) AND e.{slot}_id IS NULL "
        f"AND e.type IN ({activity}))"
    )
    return sql, [*own_params, *without_params, scope.group_type.pk]


def active_group_actors(workspace: Workspace, query: ActiveGroups, *, day: date, overcount=False):
    """Ids of the groups counted active in the bucket of ``day``, strictly or over-counted."""
    scope = _Scope(workspace, query)
    start, end = _point_bounds(scope, query, day)
    if not overcount:
        return scope.events(start=start, end=end).values_list(scope.unit_field, flat=True).distinct().order_by()
    sql, params = _overcount_sql(scope, start, end)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT unit FROM ({sql}) credited", params)
        return [row[0] for row in cursor.fetchall()]


# Funnels


class EpochMs(Func):
    """A moment as whole milliseconds since 1970 (UTC), for arithmetic on both databases."""

    output_field = IntegerField()

    def as_postgresql(self, compiler, connection):
        return self.as_sql(
            compiler, connection, template="(EXTRACT(EPOCH FROM %(expressions)s) * 1000)::bigint"
        )

    def as_sqlite(self, compiler, connection):
        return self.as_sql(
            compiler,
            connection,
            template="CAST(ROUND((julianday(%(expressions)s) - 2440587.5) * 86400000.0) AS INTEGER)",
        )


def _funnel_sql(scope: _Scope, query: Funnel) -> tuple[str, list]:
    """SQL of one row per unit that did the first step in the period: ``unit``,
    ``furthest`` (the furthest step reached, from 1) and ``ms_1`` … (for each later step
    reached, the quickest it was reached from a first step, in milliseconds).

    A unit reaches step k when it did steps 1 to k in order (each after the one before),
    the first in the period and the k-th within the window of that first. Scanning its
    events in order, each event of step k looks back for the latest start of a chain
    that reached step k-1 (the one with most of its window left): that is one window
    function per step, each reading the column the one before it wrote.
    """
    start, end = query.period.bounds(scope.zone)
    window = timedelta(days=query.window_days)
    wanted = events_q(query.steps)
    flags = {
        f"s{i}": Case(
            When(event_q(step) & (Q(timestamp__lt=end) if i == 0 else Q()), then=1),
            default=0,
            output_field=IntegerField(),
        )
        for i, step in enumerate(query.steps)
    }
    rows = (
        scope.events(None, start=start, end=end + window)
        .filter(wanted)
        .values(unit=F(scope.unit_field), t=EpochMs("timestamp"), eid=F("id"), **flags)
        .order_by()
    )
    sql, params = rows.query.sql_with_params()
    window_ms = int(window.total_seconds() * 1000)
    # A chain of common table expressions rather than nested subqueries: SQLite's parser
    # overflows its stack on ten nested levels, and PostgreSQL inlines each one anyway.
    steps = [f"step0 AS (SELECT *, CASE WHEN s0 = 1 THEN t END AS c0 FROM ({sql}) rows)"]
    for i in range(1, len(query.steps)):
        steps.append(
            f"prior{i} AS (SELECT *, MAX(c{i - 1}) OVER (PARTITION BY unit ORDER BY t, eid "
            f"ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS p{i} FROM step{i - 1})"
        )
        steps.append(
            f"step{i} AS (SELECT *, CASE WHEN s{i} = 1 AND t - p{i} <= {window_ms} THEN p{i} END AS c{i} "
            f"FROM prior{i})"
        )
    n = len(query.steps)
    furthest = " ".join(f"WHEN c{i} IS NOT NULL THEN {i + 1}" for i in reversed(range(n)))
    quickest = "".join(f", MIN(t - c{i}) AS ms_{i}" for i in range(1, n))
    sql = (
        f"WITH {', '.join(steps)} "
        f"SELECT unit, MAX(CASE {furthest} END) AS furthest{quickest} FROM step{n - 1} "
        f"GROUP BY unit HAVING MAX(c0) IS NOT NULL"
    )
    return sql, list(params)


def funnel(workspace: Workspace, query: Funnel) -> FunnelResult:
    scope = _Scope(workspace, query)
    if scope.unit_field is None:
        raise ReportError("A funnel counts users or groups, not events.")
    n = len(query.steps)
    sql, params = _funnel_sql(scope, query)
    reached = [0] * n
    quickest = [[] for _ in range(n)]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM ({sql}) units", params)
        for _unit, furthest, *ms in cursor.fetchall():
            for i in range(furthest):
                reached[i] += 1
                if i and ms[i - 1] is not None:
                    quickest[i].append(ms[i - 1] / 1000)
    steps = [
        FunnelStep(
            event=step,
            label=event_label(step),
            count=reached[i],
            median_seconds=statistics.median(quickest[i]) if quickest[i] else None,
        )
        for i, step in enumerate(query.steps)
    ]
    return FunnelResult(steps=steps, median_seconds_to_convert=steps[-1].median_seconds)


def funnel_actors(workspace: Workspace, query: Funnel, *, step: int, dropped=False) -> list:
    """Ids of the units that reached step ``step`` (from 1), or with ``dropped`` that
    reached the one before it and went no further."""
    scope = _Scope(workspace, query)
    if scope.unit_field is None:
        raise ReportError("A funnel counts users or groups, not events.")
    if not 1 <= step <= len(query.steps) or (dropped and step == 1):
        raise ReportError(f"step must be between {2 if dropped else 1} and {len(query.steps)}; not {step}.")
    sql, params = _funnel_sql(scope, query)
    condition, wanted = ("furthest = %s", step - 1) if dropped else ("furthest >= %s", step)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT unit FROM ({sql}) units WHERE {condition}", [*params, wanted])
        return [unit for unit, in cursor.fetchall()]


# Retention


def _retention_sql(scope: _Scope, query: Retention, *, cohort: date | None = None):
    """SQL of each unit's cohort (``unit``, ``cohort``: the bucket of its first start
    event ever, if it falls in the period) and SQL of its returns (``unit``, ``cohort``,
    ``bucket``: a later bucket it came back in), each with its parameters. The second
    reads the first as ``f``: run it after ``WITH f AS (<the first>)``."""
    start, end = query.period.bounds(scope.zone)
    if query.start_event == "" and scope.reads_days:
        firsts = (
            scope.days(None, query.period.end)
            .values(unit=F(scope.day_unit))
            .annotate(first=Min("day"))
            .filter(first__gte=query.period.start)
            .annotate(cohort=scope.day_bucket(query.interval, "first"))
        )
        if cohort is not None:
            firsts = firsts.filter(first__gte=cohort, first__lt=next_bucket(cohort, query.interval))
    else:
        firsts = (
            scope.events(query.start_event, end=end)
            .values(unit=F(scope.unit_field))
            .annotate(first=Min("timestamp"))
            .filter(first__gte=start)
            .annotate(cohort=scope.bucket(query.interval, "first"))
        )
        if cohort is not None:
            lo, hi = Period(cohort, next_bucket(cohort, query.interval) - timedelta(days=1)).bounds(scope.zone)
            firsts = firsts.filter(first__gte=lo, first__lt=hi)
    firsts_sql, firsts_params = firsts.values("unit", "cohort").order_by().query.sql_with_params()
    # Every bucket a unit may come back in: after the first cohort, up to the last
    # cohort's last period; each for the cohorts of the ``periods`` buckets before it.
    cohorts = query.period.buckets(query.interval)
    buckets = list(cohorts)
    for _ in range(query.periods):
        buckets.append(next_bucket(buckets[-1], query.interval))
    buckets.append(next_bucket(buckets[-1], query.interval))  # where the last one ends
    if query.return_event == "":
        # Any activity: for each unit of a cohort and each bucket, whether it did
        # anything then, a probe of the unit's (unit, time) index that stops at the
        # first event, rather than grouping every unit's events of every bucket.
        moments = [Period(day, day).bounds(scope.zone)[0] for day in buckets]
        rows = []
        params = []
        for n in range(1, len(buckets) - 1):
            rows.append("SELECT %s AS bucket, %s AS lowest, %s AS since, %s AS until")
            params += [
                connection.ops.adapt_datefield_value(buckets[n]),
                connection.ops.adapt_datefield_value(buckets[max(0, n - query.periods)]),
                connection.ops.adapt_datetimefield_value(moments[n]),
                connection.ops.adapt_datetimefield_value(moments[n + 1]),
            ]
        events = scope.events("", start=start, end=moments[-1]).values(
            ref=F(scope.unit_field), moment=F("timestamp")
        )
        events_sql, events_params = events.order_by().query.sql_with_params()
        back_sql = (
            f"SELECT f.unit, f.cohort, b.bucket FROM f "
            f"JOIN ({' UNION ALL '.join(rows)}) b ON b.bucket > f.cohort AND f.cohort >= b.lowest "
            f"WHERE EXISTS (SELECT 1 FROM ({events_sql}) r WHERE r.ref = f.unit "
            f"AND r.moment >= b.since AND r.moment < b.until)"
        )
        return firsts_sql, firsts_params, back_sql, [*params, *events_params]
    returns_end = Period(buckets[-1], buckets[-1]).bounds(scope.zone)[0]
    returns = scope.events(query.return_event, start=start, end=returns_end).values(
        ref=F(scope.unit_field), bucket=scope.bucket(query.interval)
    )
    returns_sql, returns_params = returns.distinct().order_by().query.sql_with_params()
    back_sql = f"SELECT f.unit, f.cohort, r.bucket FROM f JOIN ({returns_sql}) r ON r.ref = f.unit AND r.bucket > f.cohort"
    return firsts_sql, firsts_params, back_sql, returns_params


def retention(workspace: Workspace, query: Retention) -> RetentionResult:
    scope = _Scope(workspace, query)
    if scope.unit_field is None:
        raise ReportError("Retention counts users or groups, not events.")
    firsts_sql, firsts_params, back_sql, back_params = _retention_sql(scope, query)
    # One query: the cohorts' sizes (no bucket), then their returns per bucket.
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH f AS ({firsts_sql}) SELECT 0 AS back, cohort, cohort, COUNT(*) FROM f GROUP BY cohort "
            f"UNION ALL SELECT 1, cohort, bucket, COUNT(*) FROM ({back_sql}) back GROUP BY cohort, bucket",
            [*firsts_params, *back_params],
        )
        rows = cursor.fetchall()
    sizes = {_as_date(c): n for is_back, c, _, n in rows if not is_back}
    back = {(_as_date(c), _as_date(b)): n for is_back, c, b, n in rows if is_back}
    today = today_in(workspace)
    cohorts = []
    for first in query.period.buckets(query.interval):
        returned, bucket = [], first
        for _ in range(query.periods):
            bucket = next_bucket(bucket, query.interval)
            returned.append(back.get((first, bucket), 0) if bucket <= today else None)
        cohorts.append(RetentionCohort(first, sizes.get(first, 0), returned))
    return RetentionResult(cohorts=cohorts, periods=query.periods)


def retention_actors(workspace: Workspace, query: Retention, *, cohort: date, period: int) -> list:
    """Ids of the cohort starting ``cohort`` (period 0), or of those of it back in
    period ``period``."""
    scope = _Scope(workspace, query)
    if cohort not in query.period.buckets(query.interval):
        raise ReportError(f"{cohort} is not the first day of a cohort of this report.")
    if not 0 <= period <= query.periods:
        raise ReportError(f"period must be between 0 and {query.periods}; not {period}.")
    firsts_sql, firsts_params, back_sql, back_params = _retention_sql(scope, query, cohort=cohort)
    with connection.cursor() as cursor:
        if period == 0:
            cursor.execute(f"SELECT unit FROM ({firsts_sql}) f", firsts_params)
            return [unit for unit, in cursor.fetchall()]
        cursor.execute(f"WITH f AS ({firsts_sql}) SELECT unit, bucket FROM ({back_sql}) back",
                       [*firsts_params, *back_params])
        rows = cursor.fetchall()
    bucket = cohort
    for _ in range(period):
        bucket = next_bucket(bucket, query.interval)
    # A truncated moment comes back as a different type from each database: compare days.
    return [unit for unit, back in rows if _as_date(back) == bucket]


def events_without_group(workspace: Workspace, query: Query) -> int | None:
    """How many of the activity events a report reads (its events, in its period, with
    its filters, without internal people) carried no group of the type it counts by, and
    so were not counted; None when it counts users or events."""
    scope = _Scope(workspace, query)
    if scope.group_type is None:
        return None
    named = _named_events(query)
    if named == {""} and scope.reads_days:
        return (
            scope.days(query.period.start, query.period.end, counted=False)
            .filter(**{scope.group_type.slot_field: 0})
            .aggregate(n=Coalesce(Sum("events"), 0))["n"]
        )
    wanted = events_q(named)
    start, end = query.period.bounds(scope.zone)
    return (
        scope.events(None, start=start, end=end, counted=False)
        .filter(wanted, **{f"{scope.group_type.slot_field}__isnull": True})
        .count()
    )


def _named_events(query: Query) -> set[str]:
    """The events a report reads ("" for any)."""
    if isinstance(query, Trend):
        return set(query.events)
    if isinstance(query, Funnel):
        return set(query.steps)
    if isinstance(query, Retention):
        return {query.start_event, query.return_event}
    return {""}


def most_sent_events(workspace: Workspace, period: Period, *, limit: int, sample: int = 10_000) -> list[str]:
    """The track calls' names sent most often in ``period``, most first, counted among
    its latest ``sample`` track calls (read backwards along the workspace's time index),
    so that the answer costs the same in a workspace of any size."""
    start, end = period.bounds(workspace.zone)
    latest = (
        Event.objects.filter(workspace=workspace, type=EventType.TRACK)
        .between(start, end)
        .order_by("-timestamp")
        .values("pk")[:sample]
    )
    return list(
        Event.objects.filter(pk__in=latest)
        .values("name")
        .annotate(n=Count("id"))
        .order_by("-n", "name")
        .values_list("name", flat=True)[:limit]
    )


def internal_people_count(workspace: Workspace) -> int:
    """How many people are at the workspace's internal domains (whom reports leave out
    unless asked to include them); no query for a workspace without any."""
    return Person.objects.internal(workspace).count()


def event_names(workspace: Workspace) -> list[str]:
    """The report events seen in the workspace, track calls' names first (by name), then
    page and screen calls if any were sent."""
    names = EventName.objects.filter(workspace=workspace).values_list("name", flat=True)
    return sorted(names, key=lambda name: (name in (PAGE_EVENT, SCREEN_EVENT), name))


# The overview: trailing windows ending today, and the events done most


def active_counts(
    workspace: Workspace, group_type: GroupType | None, days: Iterable[int] = (1, 7, 30)
) -> list[ActiveCount]:
    """For each trailing window of ``days`` whole days ending today (1 is today so far),
    in the workspace's time zone: the active users and, given a group type, its active
    groups strictly beside the over-count (as ``active_groups`` counts them) and how many
    events carried no group of the type. Internal people are left out when the workspace
    has internal domains, as reports leave them out by default. Two queries of daily
    activity, whatever the number of windows."""
    today = today_in(workspace)
    windows = sorted(set(days))
    periods = {n: Period(today - timedelta(days=n - 1), today) for n in windows}
    query = ActiveGroups(
        period=periods[windows[-1]],
        count_by=group_type.name if group_type else "users",
        exclude_internal=bool(workspace.internal_domains),
    )
    scope = _Scope(workspace, query)
    aggregates = {}
    for n in windows:
        since = Q(day__gte=periods[n].start)
        aggregates[f"users_{n}"] = Count("person_id", distinct=True, filter=since)
        if scope.group_type:
            slot = scope.group_type.slot_field
            aggregates[f"strict_{n}"] = Count(slot, distinct=True, filter=since & ~Q(**{slot: 0}))
            aggregates[f"events_{n}"] = Coalesce(Sum("events", filter=since), 0)
            aggregates[f"without_{n}"] = Coalesce(Sum("events", filter=since & Q(**{slot: 0})), 0)
    totals = scope.days(query.period.start, today, counted=False).aggregate(**aggregates)
    found = [
        ActiveCount(
            n, periods[n].start, periods[n].end, totals[f"users_{n}"],
            events=totals.get(f"events_{n}", 0),
            events_without_group=totals.get(f"without_{n}", 0),
        )
        for n in windows
    ]
    if scope.group_type is None:
        return found
    sql, params = _overcount_days_sql(scope, query.period.start, today, interval="day")
    columns = ", ".join("COUNT(DISTINCT CASE WHEN bucket >= %s THEN unit END)" for _ in windows)
    since = [connection.ops.adapt_datefield_value(periods[n].start) for n in windows]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM ({sql}) credited", [*since, *params])
        overcounts = cursor.fetchone()
    for count, overcount in zip(found, overcounts):
        count.strict, count.overcount = totals[f"strict_{count.days}"], overcount
    return found


def top_events(workspace: Workspace, query: Query, *, limit: int = 10) -> list[EventCount]:
    """The report events done most in the query's period, passing its filters: each track
    call's name, and page and screen calls as one event each, with how many times and by
    how many users; the most done first. One query."""
    scope = _Scope(workspace, query)
    start, end = query.period.bounds(scope.zone)
    event = Case(
        When(type=EventType.PAGE, then=Value(PAGE_EVENT)),
        When(type=EventType.SCREEN, then=Value(SCREEN_EVENT)),
        default=F("name"),
        output_field=CharField(),
    )
    rows = (
        scope.events(None, start=start, end=end, counted=False)
        .annotate(event=event)
        .values("event")
        .annotate(n=Count("id"), users=Count("person_id", distinct=True))
        .order_by("-n", "event")
        .values_list("event", "n", "users")[:limit]
    )
    return [EventCount(name, event_label(name), n, users) for name, n, users in rows]
