"""Trends from ClickHouse: per day, week or month, distinct users or groups (or events),
a breakdown by one property, the previous period; and who is behind a point.

Each series is one reading of its events: every bucket's distinct units as a state
(``uniqExactState``), the period's total merged from the same states."""

from __future__ import annotations

from datetime import date

from analytics.models import Workspace
from analytics.reports.clickhouse.scope import Scope, events_table, fetch
from analytics.reports.queries import Period, Trend, event_label
from analytics.reports.results import SeriesResult, TrendResult
from analytics.reports.scope import count_by_bucket, point_bounds
from analytics.reports.sql.trends import BREAKDOWN_TOP


def trends(workspace: Workspace, query: Trend) -> TrendResult:
    scope = Scope(workspace, query)
    result = TrendResult(dates=query.period.buckets(query.interval), series=[])
    result.series = _series(scope, query.period, result.dates)
    if query.compare:
        previous = query.period.previous()
        result.previous_dates = previous.buckets(query.interval)
        result.previous = _series(scope, previous, result.previous_dates)
    return result


def _state(scope: Scope) -> tuple[str, str]:
    """The aggregate state of a bucket's units, and how states merge into a total."""
    if scope.unit is None:
        return "count()", "sum"
    return f"uniqExactState({scope.unit})", "uniqExactMerge"


def _series(scope: Scope, period: Period, dates: list[date]) -> list[SeriesResult]:
    query: Trend = scope.query
    start, end = period.bounds(scope.zone)
    found = []
    for event in query.events:
        if query.breakdown:
            found += _breakdown(scope, event, start, end, dates)
            continue
        state, merge = _state(scope)
        finalized = "s" if scope.unit is None else "finalizeAggregation(s)"
        [(buckets, counts, total)] = fetch(
            f"SELECT groupArray(b), groupArray({finalized}), {merge}(s) FROM ("
            f"SELECT {scope.bucket(query.interval)} AS b, {state} AS s FROM {events_table()} "
            f"WHERE {scope.where(event, start=start, end=end)} GROUP BY b)",
            scope.params,
        )
        found.append(
            SeriesResult(event_label(event), event, count_by_bucket(zip(buckets, counts), dates), int(total))
        )
    return found


def _breakdown(scope: Scope, event: str, start, end, dates: list[date]) -> list[SeriesResult]:
    """A series per value among the top ``BREAKDOWN_TOP`` (by units over the period),
    and "Other" for the rest: two readings of the events (the top; every series'
    buckets and totals at once)."""
    query: Trend = scope.query
    value = scope.value_of(query.breakdown_on, query.breakdown)
    where = scope.where(event, start=start, end=end)
    top = fetch(
        f"SELECT {value} AS v, {scope.measure()} AS n FROM {events_table()} WHERE {where} "
        f"GROUP BY v ORDER BY n DESC, v LIMIT {BREAKDOWN_TOP}",
        scope.params,
    )
    if not top:
        return []
    shown = [v for v, _ in top]
    state, merge = _state(scope)
    finalized = "s" if scope.unit is None else "finalizeAggregation(s)"
    rows = fetch(
        f"SELECT series, groupArray(b), groupArray({finalized}), {merge}(s) FROM ("
        f"SELECT if(v IN {scope.param(shown)}, v, NULL) AS series, {scope.bucket(query.interval)} AS b, "
        f"{state} AS s FROM (SELECT *, {value} AS v FROM {events_table()} WHERE {where}) "
        f"GROUP BY series, b) GROUP BY series",
        scope.params,
    )
    per_bucket = {series: (list(zip(buckets, counts)), int(total)) for series, buckets, counts, total in rows}
    found = [
        SeriesResult(
            v if v != "" else "(none)", event, count_by_bucket(per_bucket[v][0], dates), total,
            breakdown_value=v,
        )
        for v, total in top
    ]
    if None in per_bucket:
        buckets, total = per_bucket[None]
        found.append(
            SeriesResult(
                "Other", event, count_by_bucket(buckets, dates), total, breakdown_value=None, is_other=True,
            )
        )
    return found


def trend_actors(
    workspace: Workspace, query: Trend, *, series: int, day: date, breakdown_value=None, other=False
) -> list:
    """Ids of the people or groups counted in series ``series`` on the point ``day``."""
    scope = Scope(workspace, query)
    scope.check_trend_point(series)
    start, end = point_bounds(scope, query, day)
    where = scope.where(query.events[series], start=start, end=end)
    if query.breakdown:
        value = scope.value_of(query.breakdown_on, query.breakdown)
        if other:
            period_start, period_end = query.period.bounds(scope.zone)
            top = fetch(
                f"SELECT {value} AS v, {scope.measure()} AS n FROM {events_table()} "
                f"WHERE {scope.where(query.events[0], start=period_start, end=period_end)} "
                f"GROUP BY v ORDER BY n DESC, v LIMIT {BREAKDOWN_TOP}",
                scope.params,
            )
            if not top:
                return []
            where += f" AND {value} NOT IN {scope.param([v for v, _ in top])}"
        elif breakdown_value is not None:
            where += f" AND {value} = {scope.param(breakdown_value)}"
    return [unit for (unit,) in fetch(f"SELECT DISTINCT {scope.unit} FROM {events_table()} WHERE {where}", scope.params)]
