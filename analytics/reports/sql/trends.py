"""Trends: per day, week or month, distinct users or groups (or events), a breakdown
by one property, the previous period; and who is behind a point."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from analytics.models import (
    DailyActivity,
    Workspace,
)
from analytics.reports.queries import (
    Period,
    Trend,
    event_label,
)
from analytics.reports.results import (
    SeriesResult,
    TrendResult,
)
from analytics.reports.scope import count_by_bucket, point_bounds
from analytics.reports.sql.scope import Scope, fetch

BREAKDOWN_TOP = 10


def trends(workspace: Workspace, query: Trend) -> TrendResult:
    scope = Scope(workspace, query)
    result = TrendResult(dates=query.period.buckets(query.interval), series=[])
    result.series = _trend_series(scope, query.period, result.dates)
    if query.compare:
        previous = query.period.previous()
        result.previous_dates = previous.buckets(query.interval)
        result.previous = _trend_series(scope, previous, result.previous_dates)
    return result


def _trend_series(scope: Scope, period: Period, dates: list[date]) -> list[SeriesResult]:
    query: Trend = scope.query
    start, end = period.bounds(scope.zone)
    found = []
    for event in query.events:
        if query.breakdown:
            found += _breakdown(scope, scope.events(event, start=start, end=end), event, dates)
            continue
        if event == "" and scope.reads_days and scope.group_type:
            pairs = scope.group_days_sql(period.start, period.end, query.interval)
            per_bucket, total = _count_pairs(*pairs, twice=True)
        elif event == "" and scope.reads_days:
            rows = scope.days(period.start, period.end)
            per_bucket, total = _per_bucket_and_total(rows, scope.day_bucket(query.interval), scope.day_unit)
        else:
            rows = scope.events(event, start=start, end=end)
            per_bucket, total = _per_bucket_and_total(
                rows, scope.bucket(query.interval, firsts=dates), scope.unit_field
            )
        found.append(
            SeriesResult(event_label(event), event, count_by_bucket(per_bucket, dates), total)
        )
    return found


def _per_bucket_and_total(rows: QuerySet, bucket, unit: str | None):
    """([(bucket, distinct units)], distinct units over all of them) from one reading of
    ``rows``: their distinct (bucket, unit) pairs, counted twice. Without a unit, rows of
    events count each event (daily activity: its ``events``), the total their sum."""
    if unit is None:
        measure = Coalesce(Sum("events"), 0) if rows.model is DailyActivity else Count("id")
        per_bucket = list(
            rows.annotate(bucket=bucket)
            .values("bucket")
            .annotate(n=measure)
            .values_list("bucket", "n")
            .order_by()
        )
        return per_bucket, sum(n for _, n in per_bucket)
    pairs = rows.values(bucket=bucket, unit=F(unit)).distinct().order_by()
    return _count_pairs(*pairs.query.sql_with_params())


def _count_pairs(pairs_sql: str, params, *, twice=False) -> tuple[list, int]:
    """([(bucket, distinct units)], distinct units over all) of the SQL of distinct
    (bucket, unit) pairs: from one reading of them (kept in a CTE), or, ``twice``, from
    two (quicker where reading them is cheap, as from an index of group days, than
    writing them out)."""
    if twice:
        sql = (
            f"SELECT 1, bucket, COUNT(*) FROM ({pairs_sql}) pairs GROUP BY bucket "
            f"UNION ALL SELECT 0, NULL, COUNT(DISTINCT unit) FROM ({pairs_sql}) pairs"
        )
        params = [*params, *params]
    else:
        sql = (
            f"WITH pairs AS ({pairs_sql}) SELECT 1, bucket, COUNT(*) FROM pairs GROUP BY bucket "
            f"UNION ALL SELECT 0, NULL, COUNT(DISTINCT unit) FROM pairs"
        )
    found = fetch(sql, params)
    return [(b, n) for is_bucket, b, n in found if is_bucket], next(
        n for is_bucket, _, n in found if not is_bucket
    )


def _breakdown(scope: Scope, events: QuerySet, event: str, dates: list[date]) -> list[SeriesResult]:
    """A series per value among the top ``BREAKDOWN_TOP`` (by units over the period),
    and "Other" for the rest: three readings of the events whatever the number of
    values (the top, every series' buckets at once, the others' total)."""
    query: Trend = scope.query
    valued = _valued(scope, events)
    top = _top(scope, valued)
    if not top:
        return []
    shown = [v for v, _ in top]
    # Other is None: no text value can take its place.
    series = Case(When(value__in=shown, then=F("value")), default=Value(None), output_field=CharField())
    per_bucket = defaultdict(list)
    for label, bucket, n in (
        valued.annotate(series=series, bucket=scope.bucket(query.interval, firsts=dates))
        .values("series", "bucket")
        .annotate(n=scope.measure())
        .values_list("series", "bucket", "n")
        .order_by()
    ):
        per_bucket[label].append((bucket, n))
    found = [
        SeriesResult(
            v if v != "" else "(none)", event, count_by_bucket(per_bucket[v], dates), total,
            breakdown_value=v,
        )
        for v, total in top
    ]
    if per_bucket[None]:
        other_total = valued.exclude(value__in=shown).aggregate(n=scope.measure())["n"]
        found.append(
            SeriesResult(
                "Other", event, count_by_bucket(per_bucket[None], dates), other_total,
                breakdown_value=None, is_other=True,
            )
        )
    return found


def trend_actors(
    workspace: Workspace, query: Trend, *, series: int, day: date, breakdown_value=None, other=False
) -> QuerySet:
    """Ids of the people or groups counted in series ``series`` on the point ``day``."""
    scope = Scope(workspace, query)
    scope.check_trend_point(series)
    start, end = point_bounds(scope, query, day)
    events = scope.events(query.events[series], start=start, end=end)
    if query.breakdown:
        events = _valued(scope, events)
        if other:
            top = [v for v, _ in _top_values(scope, query)]
            events = events.exclude(value__in=top)
        elif breakdown_value is not None:
            events = events.filter(value=breakdown_value)
    return events.values_list(scope.unit_field, flat=True).distinct().order_by()


def _top_values(scope: Scope, query: Trend):
    start, end = query.period.bounds(scope.zone)
    return _top(scope, _valued(scope, scope.events(query.events[0], start=start, end=end)))


def _valued(scope: Scope, events: QuerySet) -> QuerySet:
    """``events`` with the value of the breakdown's property ("" for none) as ``value``."""
    query: Trend = scope.query
    value = Coalesce(
        scope.text_of(query.breakdown_on, query.breakdown), Value(""), output_field=CharField()
    )
    return events.annotate(value=value)


def _top(scope: Scope, valued: QuerySet) -> list[tuple[str, int]]:
    """The ``BREAKDOWN_TOP`` values with the most units, most first: [(value, units)]."""
    return list(
        valued.values("value")
        .annotate(n=scope.measure())
        .order_by("-n", "value")
        .values_list("value", "n")[:BREAKDOWN_TOP]
    )
