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
from django.db.models import CharField, Count, F, Min, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Trunc

from analytics.models import (
    Cohort,
    Event,
    EventType,
    GroupType,
    Membership,
    Person,
    Workspace,
    event_q,
)
from analytics.models.properties import json_text, property_q
from analytics.reports.queries import (
    PAGE_EVENT,
    SCREEN_EVENT,
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
    ActiveGroupsResult,
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
        return Trunc(field_name, interval, tzinfo=self.zone)

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
            events = events.exclude(person__in=internal_people(self.workspace))
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


def internal_people(workspace: Workspace) -> QuerySet:
    condition = Q()
    for domain in workspace.internal_domains:
        condition |= Q(email__endswith=f"@{domain}")
    return Person.objects.filter(workspace=workspace).filter(condition).values("pk")


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
        events = scope.events(event, start=start, end=end)
        if not query.breakdown:
            per_bucket = (
                events.annotate(bucket=scope.bucket(query.interval))
                .values("bucket")
                .annotate(n=scope.measure())
                .values_list("bucket", "n")
                .order_by()
            )
            total = events.aggregate(n=scope.measure())["n"]
            found.append(
                SeriesResult(event_label(event), event, _count_by_bucket(per_bucket, dates), total)
            )
            continue
        found += _breakdown(scope, events, event, dates)
    return found


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


def trend_actors(
    workspace: Workspace, query: Trend, *, series: int, day: date, breakdown_value=None, other=False
) -> QuerySet:
    """Ids of the people or groups counted in series ``series`` on the point ``day``."""
    scope = _Scope(workspace, query)
    if scope.unit_field is None:
        raise ReportError("A count of events has no people or groups behind it; count users or groups.")
    if not 0 <= series < len(query.events) or (query.breakdown and series != 0):
        raise ReportError(f"series must be one of the report's series, from 0; not {series}.")
    first = bucket_of(day, query.interval)
    point = Period(max(first, query.period.start), min(next_bucket(first, query.interval) - timedelta(days=1), query.period.end))
    if point.end < point.start:
        raise ReportError(f"{day} is outside the report's period.")
    start, end = point.bounds(scope.zone)
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
    scope = _Scope(workspace, query)
    dates = query.period.buckets(query.interval)
    start, end = query.period.bounds(scope.zone)
    strict = (
        scope.events(start=start, end=end)
        .annotate(bucket=scope.bucket(query.interval))
        .values("bucket")
        .annotate(n=scope.measure())
        .values_list("bucket", "n")
        .order_by()
    )
    sql, params = _overcount_sql(scope, start, end)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT bucket, COUNT(DISTINCT unit) FROM ({sql}) credited GROUP BY bucket", params)
        overcount = cursor.fetchall()
    all_events = scope.events(start=start, end=end, counted=False)
    totals = all_events.aggregate(
        events=Count("id"), without=Count("id", filter=Q(**{f"{scope.group_type.slot_field}__isnull": True}))
    )
    return ActiveGroupsResult(
        dates=dates,
        strict=_count_by_bucket(strict, dates),
        overcount=_count_by_bucket(overcount, dates),
        events=totals["events"],
        events_without_group=totals["without"],
    )


def _overcount_sql(scope: _Scope, start, end) -> tuple[str, list]:
    """SQL of (bucket, unit) pairs: each event's own group of the type, and for events
    with none, every group of the type its person was in at the event's moment."""
    interval = scope.query.interval
    own = (
        scope.events(start=start, end=end)
        .values(bucket=scope.bucket(interval), unit=F(scope.unit_field))
        .order_by()
    )
    without = (
        scope.events(start=start, end=end, counted=False)
        .filter(**{f"{scope.group_type.slot_field}__isnull": True})
        .values(bucket=scope.bucket(interval), person_ref=F("person_id"), moment=F("timestamp"))
        .order_by()
    )
    own_sql, own_params = own.query.sql_with_params()
    without_sql, without_params = without.query.sql_with_params()
    membership = connection.ops.quote_name(Membership._meta.db_table)
    sql = (
        f"SELECT bucket, unit FROM ({own_sql}) own UNION ALL "
        f"SELECT e.bucket, m.group_id AS unit FROM ({without_sql}) e "
        f"JOIN {membership} m ON m.person_id = e.person_ref AND m.group_type_id = %s "
        f"AND m.started_at <= e.moment AND (m.ended_at IS NULL OR e.moment < m.ended_at)"
    )
    return sql, [*own_params, *without_params, scope.group_type.pk]


def active_group_actors(workspace: Workspace, query: ActiveGroups, *, day: date, overcount=False):
    """Ids of the groups counted active in the bucket of ``day``, strictly or over-counted."""
    scope = _Scope(workspace, query)
    first = bucket_of(day, query.interval)
    point = Period(max(first, query.period.start), min(next_bucket(first, query.interval) - timedelta(days=1), query.period.end))
    if point.end < point.start:
        raise ReportError(f"{day} is outside the report's period.")
    start, end = point.bounds(scope.zone)
    if not overcount:
        return scope.events(start=start, end=end).values_list(scope.unit_field, flat=True).distinct().order_by()
    sql, params = _overcount_sql(scope, start, end)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT unit FROM ({sql}) credited", params)
        return [row[0] for row in cursor.fetchall()]


# Funnels


@dataclass
class _Chain:
    started: datetime  # the first step's moment
    at: datetime  # the moment of the latest step reached


def _funnel_units(scope: _Scope, query: Funnel):
    """For each unit that did the first step in the period: the furthest step it reached
    (1-based), and the seconds each step took from the previous one on its way there."""
    start, end = query.period.bounds(scope.zone)
    window = timedelta(days=query.window_days)
    wanted = Q()
    for step in set(query.steps):
        wanted |= event_q(step)
    rows = (
        scope.events(None, start=start, end=end + window)
        .filter(wanted)
        .values_list(scope.unit_field, "timestamp", "type", "name")
        .order_by(scope.unit_field, "timestamp", "id")
    )
    matches = {}  # (type, name) -> step indexes, last first

    def steps_of(kind, name):
        found = matches.get((kind, name))
        if found is None:
            found = [
                i for i, step in enumerate(query.steps)
                if not step
                or (step == PAGE_EVENT and kind == EventType.PAGE)
                or (step == SCREEN_EVENT and kind == EventType.SCREEN)
                or (kind == EventType.TRACK and step == name)
            ][::-1]
            matches[(kind, name)] = found
        return found

    n = len(query.steps)
    unit, chains, first_times = None, None, None

    def finish():
        if chains is not None and chains[0] is not None:
            furthest = max(i for i in range(n) if chains[i] is not None) + 1
            return unit, furthest, first_times
        return None

    for row_unit, moment, kind, name in rows.iterator(chunk_size=5000):
        if row_unit != unit:
            if (done := finish()) is not None:
                yield done
            unit, chains, first_times = row_unit, [None] * n, [None] * n
        for i in steps_of(kind, name):
            if i == 0:
                if moment < end:
                    chains[0] = _Chain(moment, moment)  # the latest start has most time left
            else:
                before = chains[i - 1]
                if before is not None and moment - before.started <= window:
                    if chains[i] is None or chains[i].started < before.started:
                        if first_times[i] is None:
                            first_times[i] = (moment - before.at).total_seconds(), (
                                moment - before.started
                            ).total_seconds()
                        chains[i] = _Chain(before.started, moment)
    if (done := finish()) is not None:
        yield done


def funnel(workspace: Workspace, query: Funnel) -> FunnelResult:
    scope = _Scope(workspace, query)
    if scope.unit_field is None:
        raise ReportError("A funnel counts users or groups, not events.")
    n = len(query.steps)
    reached = [0] * n
    step_times = [[] for _ in range(n)]
    converted_times = []
    for _unit, furthest, times in _funnel_units(scope, query):
        for i in range(furthest):
            reached[i] += 1
            if i and times[i] is not None:
                step_times[i].append(times[i][0])
        if furthest == n and times[n - 1] is not None:
            converted_times.append(times[n - 1][1])
    return FunnelResult(
        steps=[
            FunnelStep(
                event=step,
                label=event_label(step),
                count=reached[i],
                median_seconds=statistics.median(step_times[i]) if step_times[i] else None,
            )
            for i, step in enumerate(query.steps)
        ],
        median_seconds_to_convert=statistics.median(converted_times) if converted_times else None,
    )


def funnel_actors(workspace: Workspace, query: Funnel, *, step: int, dropped=False) -> list:
    """Ids of the units that reached step ``step`` (1-based), or with ``dropped`` that
    reached the one before it and went no further."""
    scope = _Scope(workspace, query)
    if not 1 <= step <= len(query.steps) or (dropped and step == 1):
        raise ReportError(f"step must be between {2 if dropped else 1} and {len(query.steps)}; not {step}.")
    if dropped:
        return [u for u, furthest, _ in _funnel_units(scope, query) if furthest == step - 1]
    return [u for u, furthest, _ in _funnel_units(scope, query) if furthest >= step]


# Retention


def _retention_sql(scope: _Scope, query: Retention, *, cohort: date | None = None):
    """SQL of (cohort, bucket, unit): each unit's cohort (the bucket of its first start
    event ever, if it falls in the period) and the buckets it came back in."""
    start, end = query.period.bounds(scope.zone)
    last = query.period.buckets(query.interval)[-1]
    for _ in range(query.periods):
        last = next_bucket(last, query.interval)
    returns_end = Period(last, last).bounds(scope.zone)[0]
    firsts = (
        scope.events(query.start_event, end=end)
        .values(unit=F(scope.unit_field))
        .annotate(first=Min("timestamp"))
        .filter(first__gte=start)
        .annotate(cohort=scope.bucket(query.interval, "first"))
        .values("unit", "cohort")
        .order_by()
    )
    if cohort is not None:
        lo, hi = Period(cohort, next_bucket(cohort, query.interval) - timedelta(days=1)).bounds(scope.zone)
        firsts = firsts.filter(first__gte=lo, first__lt=hi)
    returns = (
        scope.events(query.return_event, start=start, end=returns_end)
        .values(ref=F(scope.unit_field), bucket=scope.bucket(query.interval))
        .distinct()
        .order_by()
    )
    firsts_sql, firsts_params = firsts.query.sql_with_params()
    returns_sql, returns_params = returns.query.sql_with_params()
    return firsts_sql, firsts_params, returns_sql, returns_params


def retention(workspace: Workspace, query: Retention) -> RetentionResult:
    scope = _Scope(workspace, query)
    if scope.unit_field is None:
        raise ReportError("Retention counts users or groups, not events.")
    firsts_sql, firsts_params, returns_sql, returns_params = _retention_sql(scope, query)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT cohort, COUNT(*) FROM ({firsts_sql}) f GROUP BY cohort", firsts_params)
        sizes = {_as_date(c): n for c, n in cursor.fetchall()}
        cursor.execute(
            f"SELECT f.cohort, r.bucket, COUNT(*) FROM ({firsts_sql}) f "
            f"JOIN ({returns_sql}) r ON r.ref = f.unit AND r.bucket > f.cohort "
            f"GROUP BY f.cohort, r.bucket",
            [*firsts_params, *returns_params],
        )
        back = {(_as_date(c), _as_date(b)): n for c, b, n in cursor.fetchall()}
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
    firsts_sql, firsts_params, returns_sql, returns_params = _retention_sql(scope, query, cohort=cohort)
    with connection.cursor() as cursor:
        if period == 0:
            cursor.execute(f"SELECT unit FROM ({firsts_sql}) f", firsts_params)
            return [unit for unit, in cursor.fetchall()]
        cursor.execute(
            f"SELECT f.unit, r.bucket FROM ({firsts_sql}) f JOIN ({returns_sql}) r ON r.ref = f.unit",
            [*firsts_params, *returns_params],
        )
        rows = cursor.fetchall()
    bucket = cohort
    for _ in range(period):
        bucket = next_bucket(bucket, query.interval)
    # A truncated moment comes back as a different type from each database: compare days.
    return [unit for unit, back in rows if _as_date(back) == bucket]


def event_names(workspace: Workspace) -> list[str]:
    """The report events seen in the workspace: track calls' names, then page and screen
    calls if any were sent."""
    events = Event.objects.filter(workspace=workspace).activity()
    names = sorted(
        events.filter(type=EventType.TRACK).values_list("name", flat=True).distinct().order_by()
    )
    for special, kind in ((PAGE_EVENT, EventType.PAGE), (SCREEN_EVENT, EventType.SCREEN)):
        if events.filter(type=kind).exists():
            names.append(special)
    return names
