"""Retention from ClickHouse: cohorts by the first start event, and the periods each came
back in.

The answers are those of ``analytics.reports.sql.retention``. There, any activity is
read from the days of activity (``DailyActivity``, ``GroupDay``) when it can be; those
rows are derived from the activity events, which is what ClickHouse holds: here every
report reads the events, in one pass per unit that keeps its first start and the
buckets it came back in.
"""

from __future__ import annotations

from datetime import date, timedelta

from analytics.models import Workspace
from analytics.reports.clickhouse.scope import Scope, events_table, fetch
from analytics.reports.queries import (
    Retention,
    first_moment,
    next_bucket,
    today_in,
)
from analytics.reports.results import RetentionResult
from analytics.reports.scope import as_date
from analytics.reports.sql.retention_days import buckets_of


def _units_sql(scope: Scope, query: Retention, *, cohort: date | None = None) -> str:
    """SQL of one row per unit whose first start event ever falls in the period (with
    ``cohort``, in that cohort's bucket): ``unit``, ``cohort`` (the bucket of that first
    start, a Date) and ``back`` (the later buckets it did the return event in).

    The start events are read from the first there is to the end of the period; the
    return events from the period's start to the end of the last cohort's last period,
    which leaves out no return a cohort can count. Any activity (an event "") counts as
    a start or a return of a unit, as a day of activity counts in the SQL version: a
    group's days are those of events carrying it, of people the query counts.
    """
    if _reads_rollups(scope, query):
        return _units_from_rollups(scope, query, cohort=cohort)
    start, end = query.period.bounds(scope.zone)
    returns_end = first_moment(buckets_of(query)[-1], scope.zone)
    is_start = f"({scope.event_condition(query.start_event)} AND timestamp < {scope.moment(end)})"
    is_return = (
        f"({scope.event_condition(query.return_event)} "
        f"AND timestamp >= {scope.moment(start)} AND timestamp < {scope.moment(returns_end)})"
    )
    first = "minIf(timestamp, is_start)"
    # A unit with no start at all has the smallest moment for first: before the period.
    having = f"{first} >= {scope.moment(start)}"
    if cohort is not None:
        lo = first_moment(cohort, scope.zone)
        hi = first_moment(next_bucket(cohort, query.interval), scope.zone)
        having += f" AND {first} >= {scope.moment(lo)} AND {first} < {scope.moment(hi)}"
    cohort_bucket = scope.bucket(query.interval, first)
    return (
        f"SELECT unit, {cohort_bucket} AS cohort, "
        f"arrayFilter(b -> b > cohort, groupUniqArrayIf({scope.bucket(query.interval)}, is_return)) AS back "
        f"FROM (SELECT {scope.unit} AS unit, timestamp, {is_start} AS is_start, {is_return} AS is_return "
        f"FROM {events_table()} WHERE {scope.where(None, end=returns_end)} AND (is_start OR is_return)) "
        f"GROUP BY unit HAVING {having}"
    )


def _reads_rollups(scope: Scope, query: Retention) -> bool:
    """Whether the rollups can answer: groups counted, any activity a return, and no
    filter or cohort (the rollups know groups, days and people, not the events'
    properties nor a cohort's groups of another type)."""
    return bool(scope.group_type) and query.return_event == "" and not query.filters and scope.cohort is None


def _units_from_rollups(scope: Scope, query: Retention, *, cohort: date | None = None) -> str:
    """``_units_sql`` from the rollups rather than the events: each group's first start
    event from ``group_firsts`` (from the start events themselves when internal people
    are left out, whom that table does not know), and the days it was active from
    ``group_days``, a day of only internal people's activity not counting when they are
    left out, as in the SQL version."""
    start, end = query.period.bounds(scope.zone)
    slot = scope.param(scope.group_type.slot)
    internal = scope.internal_ids()
    if internal is None:
        starts = (
            f"SELECT group_id AS unit, min(first) AS first FROM {scope.rollup('group_firsts')} "
            f"WHERE workspace_id = %(w)s AND slot = {slot} AND {scope.event_condition(query.start_event)} "
            "GROUP BY unit"
        )
    else:
        starts = (
            f"SELECT {scope.unit} AS unit, min(timestamp) AS first FROM {events_table()} "
            f"WHERE {scope.where(query.start_event, end=end)} GROUP BY unit"
        )
    having = f"first >= {scope.moment(start)} AND first < {scope.moment(end)}"
    if cohort is not None:
        lo = first_moment(cohort, scope.zone)
        hi = first_moment(next_bucket(cohort, query.interval), scope.zone)
        having += f" AND first >= {scope.moment(lo)} AND first < {scope.moment(hi)}"
    days = scope.group_days(
        query.period.start,
        buckets_of(query)[-1] - timedelta(days=1),
        among="group_id GLOBAL IN (SELECT unit FROM starts)",
    )
    returns = (
        f"SELECT group_id AS unit, groupUniqArray({scope.day_bucket(query.interval)}) AS buckets "
        f"FROM ({days}) GROUP BY group_id"
    )
    return (
        f"WITH starts AS (SELECT unit, first FROM ({starts}) WHERE {having}) "
        f"SELECT s.unit AS unit, {scope.bucket(query.interval, 's.first')} AS cohort, "
        f"arrayFilter(b -> b > cohort, r.buckets) AS back "
        f"FROM starts AS s LEFT JOIN ({returns}) AS r ON r.unit = s.unit"
    )


def _counts(scope: Scope, query: Retention):
    """({cohort: size}, {(cohort, bucket): units back}) from one query: each unit counts
    once in its cohort's own bucket (its size) and once in each later bucket it came
    back in."""
    rows = fetch(
        f"SELECT cohort, b, count() FROM ({_units_sql(scope, query)}) "
        f"ARRAY JOIN arrayPushFront(back, cohort) AS b GROUP BY cohort, b",
        scope.params,
    )
    sizes = {as_date(c): n for c, b, n in rows if b == c}
    back = {(as_date(c), as_date(b)): n for c, b, n in rows if b != c}
    return sizes, back


def retention(workspace: Workspace, query: Retention) -> RetentionResult:
    scope = Scope(workspace, query)
    scope.check_counts_units("Retention counts users or groups, not events.")
    sizes, back = _counts(scope, query)
    return RetentionResult.of_counts(query, sizes, back, today_in(workspace))


def retention_actors(workspace: Workspace, query: Retention, *, cohort: date, period: int) -> list:
    """Ids of the cohort starting ``cohort`` (period 0), or of those of it back in
    period ``period``."""
    scope = Scope(workspace, query)
    scope.check_counts_units("Retention counts users or groups, not events.")
    scope.check_retention_cell(cohort, period)
    sql = _units_sql(scope, query, cohort=cohort)
    if period > 0:
        bucket = cohort
        for _ in range(period):
            bucket = next_bucket(bucket, query.interval)
        sql = f"SELECT unit FROM ({sql}) WHERE has(back, {scope.day(bucket)})"
    return [row[0] for row in fetch(sql, scope.params)]
