"""Trends: per day, week or month, distinct users or groups (or events), a breakdown
by one property, the previous period; and who is behind a point."""

from __future__ import annotations

from datetime import date

from django.db import connection
from django.db.models import (
    CharField,
    Count,
    F,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from analytics.models import (
    DailyActivity,
    Workspace,
)
from analytics.reports.queries import (
    Period,
    ReportError,
    Trend,
    event_label,
)
from analytics.reports.results import (
    SeriesResult,
    TrendResult,
)
from analytics.reports.sql.scope import Scope, count_by_bucket, point_bounds

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
    pairs_sql, params = (
        rows.values(bucket=bucket, unit=F(unit)).distinct().order_by().query.sql_with_params()
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH pairs AS ({pairs_sql}) SELECT 1, bucket, COUNT(*) FROM pairs GROUP BY bucket "
            f"UNION ALL SELECT 0, NULL, COUNT(DISTINCT unit) FROM pairs",
            params,
        )
        found = cursor.fetchall()
    return [(b, n) for is_bucket, b, n in found if is_bucket], next(
        n for is_bucket, _, n in found if not is_bucket
    )


def _breakdown(scope: Scope, events: QuerySet, event: str, dates: list[date]) -> list[SeriesResult]:
    query: Trend = scope.query
    value = Coalesce(
        scope.text_of(query.breakdown_on, query.breakdown), Value(""), output_field=CharField()
    )
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
            SeriesResult(
                label, event, count_by_bucket(per_bucket, dates), total, breakdown_value=shown
            )
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
                "Other",
                event,
                count_by_bucket(per_bucket, dates),
                other_total,
                breakdown_value=None,
                is_other=True,
            )
        )
    return found


def trend_actors(
    workspace: Workspace, query: Trend, *, series: int, day: date, breakdown_value=None, other=False
) -> QuerySet:
    """Ids of the people or groups counted in series ``series`` on the point ``day``."""
    scope = Scope(workspace, query)
    if scope.unit_field is None:
        raise ReportError(
            "A count of events has no people or groups behind it; count users or groups."
        )
    if not 0 <= series < len(query.events) or (query.breakdown and series != 0):
        raise ReportError(f"series must be one of the report's series, from 0; not {series}.")
    start, end = point_bounds(scope, query, day)
    events = scope.events(query.events[series], start=start, end=end)
    if query.breakdown:
        value = Coalesce(
            scope.text_of(query.breakdown_on, query.breakdown), Value(""), output_field=CharField()
        )
        events = events.annotate(value=value)
        if other:
            top = [v for v, _ in _top_values(scope, query)]
            events = events.exclude(value__in=top)
        elif breakdown_value is not None:
            events = events.filter(value=breakdown_value)
    return events.values_list(scope.unit_field, flat=True).distinct().order_by()


def _top_values(scope: Scope, query: Trend):
    start, end = query.period.bounds(scope.zone)
    value = Coalesce(
        scope.text_of(query.breakdown_on, query.breakdown), Value(""), output_field=CharField()
    )
    return list(
        scope.events(query.events[0], start=start, end=end)
        .annotate(value=value)
        .values("value")
        .annotate(n=scope.measure())
        .order_by("-n", "value")
        .values_list("value", "n")[:BREAKDOWN_TOP]
    )
