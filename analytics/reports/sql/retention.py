"""Retention: cohorts by the first start event, and the periods each came back in."""

from __future__ import annotations

from datetime import date

from django.db import connection
from django.db.models import (
    F,
    Min,
)

from analytics.models import (
    Workspace,
)
from analytics.reports.queries import (
    Retention,
    first_moment,
    next_bucket,
    today_in,
)
from analytics.reports.results import (
    RetentionResult,
)
from analytics.reports.scope import as_date
from analytics.reports.sql.retention_days import (
    buckets_of,
    groups_of_any_activity,
    returning_groups,
    returning_groups_counts,
    returning_people_sql,
)
from analytics.reports.sql.scope import Scope, fetch, table_sql


def _retention_sql(scope: Scope, query: Retention, *, cohort: date | None = None):
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
        cohorts = query.period.buckets(query.interval)
        firsts = (
            scope.events(query.start_event, end=end)
            .values(unit=F(scope.unit_field))
            .annotate(first=Min("timestamp"))
            .filter(first__gte=start)
            .annotate(cohort=scope.bucket(query.interval, "first", firsts=cohorts))
        )
        if cohort is not None:
            lo = first_moment(cohort, scope.zone)
            hi = first_moment(next_bucket(cohort, query.interval), scope.zone)
            firsts = firsts.filter(first__gte=lo, first__lt=hi)
    firsts_sql, firsts_params = firsts.values("unit", "cohort").order_by().query.sql_with_params()
    buckets = buckets_of(query)
    if query.return_event == "" and scope.reads_days and scope.group_type is None:
        return firsts_sql, firsts_params, *returning_people_sql(scope, query)
    if query.return_event == "":
        # Any activity of a unit not read from days here (a group after a named start
        # event, or any unit under filters or a group cohort): for each unit of a cohort
        # and each bucket, a probe of the unit's (unit, time) index of events that stops
        # at the first sign of it.
        bounds = [first_moment(day, scope.zone) for day in buckets]
        activity = scope.events("", start=start, end=bounds[-1]).values(
            ref=F(scope.unit_field), moment=F("timestamp")
        )
        table, params = table_sql(
            ["bucket", "lowest", "since", "until"],
            [
                (
                    connection.ops.adapt_datefield_value(buckets[n]),
                    connection.ops.adapt_datefield_value(buckets[max(0, n - query.periods)]),
                    connection.ops.adapt_datetimefield_value(bounds[n]),
                    connection.ops.adapt_datetimefield_value(bounds[n + 1]),
                )
                for n in range(1, len(buckets) - 1)
            ],
        )
        activity_sql, activity_params = activity.order_by().query.sql_with_params()
        back_sql = (
            f"SELECT f.unit, f.cohort, b.bucket FROM f "
            f"JOIN ({table}) b ON b.bucket > f.cohort AND f.cohort >= b.lowest "
            f"WHERE EXISTS (SELECT 1 FROM ({activity_sql}) r WHERE r.ref = f.unit "
            f"AND r.moment >= b.since AND r.moment < b.until)"
        )
        return firsts_sql, firsts_params, back_sql, [*params, *activity_params]
    returns_end = first_moment(buckets[-1], scope.zone)
    returns = scope.events(query.return_event, start=start, end=returns_end).values(
        ref=F(scope.unit_field), bucket=scope.bucket(query.interval, firsts=buckets)
    )
    returns_sql, returns_params = returns.distinct().order_by().query.sql_with_params()
    back_sql = f"SELECT f.unit, f.cohort, r.bucket FROM f JOIN ({returns_sql}) r ON r.ref = f.unit AND r.bucket > f.cohort"
    return firsts_sql, firsts_params, back_sql, returns_params


def _counts(scope: Scope, query: Retention):
    """({cohort: size}, {(cohort, bucket): units back}) from one query: the cohorts'
    sizes (no bucket), then their returns per bucket."""
    firsts_sql, firsts_params, back_sql, back_params = _retention_sql(scope, query)
    rows = fetch(
        f"WITH f AS ({firsts_sql}) SELECT 0 AS back, cohort, cohort, COUNT(*) FROM f GROUP BY cohort "
        f"UNION ALL SELECT 1, cohort, bucket, COUNT(*) FROM ({back_sql}) back GROUP BY cohort, bucket",
        [*firsts_params, *back_params],
    )
    sizes = {as_date(c): n for is_back, c, _, n in rows if not is_back}
    back = {(as_date(c), as_date(b)): n for is_back, c, b, n in rows if is_back}
    return sizes, back


def retention(workspace: Workspace, query: Retention) -> RetentionResult:
    scope = Scope(workspace, query)
    scope.check_counts_units("Retention counts users or groups, not events.")
    if groups_of_any_activity(scope, query):
        sizes, back = returning_groups_counts(scope, query)
    else:
        sizes, back = _counts(scope, query)
    return RetentionResult.of_counts(query, sizes, back, today_in(workspace))


def retention_actors(workspace: Workspace, query: Retention, *, cohort: date, period: int) -> list:
    """Ids of the cohort starting ``cohort`` (period 0), or of those of it back in
    period ``period``."""
    scope = Scope(workspace, query)
    scope.check_retention_cell(cohort, period)
    if groups_of_any_activity(scope, query):
        return returning_groups(scope, query, cohort, period)
    firsts_sql, firsts_params, back_sql, back_params = _retention_sql(scope, query, cohort=cohort)
    if period == 0:
        return [unit for (unit,) in fetch(f"SELECT unit FROM ({firsts_sql}) f", firsts_params)]
    rows = fetch(
        f"WITH f AS ({firsts_sql}) SELECT unit, bucket FROM ({back_sql}) back",
        [*firsts_params, *back_params],
    )
    bucket = cohort
    for _ in range(period):
        bucket = next_bucket(bucket, query.interval)
    # A truncated moment comes back as a different type from each database: compare days.
    return [unit for unit, back in rows if as_date(back) == bucket]
