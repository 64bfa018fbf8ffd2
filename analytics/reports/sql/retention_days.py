"""Retention's SQL read from days of activity (any activity counts as a return): a
person's days by the (person, day) index, a group's from its group days."""

from __future__ import annotations

from datetime import date, timedelta

from django.db import connection
from django.db.models import F

from analytics.models import DailyActivity
from analytics.reports.queries import Retention, next_bucket
from analytics.reports.sql.scope import Scope


def returning_people_sql(scope: Scope, query: Retention):
    """The returns' SQL (and parameters) of people back with activity of any kind: each
    person's days of activity from the bucket after their cohort's to its last period,
    read from the (person, day) index one person after another (on PostgreSQL a lateral
    join; SQLite reads a join that way by itself) rather than every day of everyone.
    The days are anyone's: the people of ``f`` are those the query counts already."""
    adapt = connection.ops.adapt_datefield_value
    rows, params = [], []
    for first in query.period.buckets(query.interval):
        since = until = next_bucket(first, query.interval)
        for _ in range(query.periods):
            until = next_bucket(until, query.interval)
        rows.append("SELECT %s AS first, %s AS since, %s AS until")
        params += [adapt(first), adapt(since), adapt(until)]
    # Not filtered by workspace: not in the index, and the people tell it already.
    days = DailyActivity.objects.values(
        ref=F("person_id"), moment=F("day"), bucket=scope.day_bucket(query.interval)
    )
    days_sql, days_params = days.order_by().query.sql_with_params()
    cohorts = f"JOIN ({' UNION ALL '.join(rows)}) c ON f.cohort >= c.first AND f.cohort < c.since"
    on = "d.ref = f.unit AND d.moment >= c.since AND d.moment < c.until"
    if connection.vendor == "postgresql":
        back_sql = (
            f"SELECT f.unit, f.cohort, r.bucket FROM f {cohorts} CROSS JOIN LATERAL "
            f"(SELECT DISTINCT d.bucket FROM ({days_sql}) d WHERE {on}) r"
        )
    else:
        back_sql = f"SELECT DISTINCT f.unit, f.cohort, d.bucket FROM f {cohorts} JOIN ({days_sql}) d ON {on}"
    return back_sql, [*params, *days_params]


def buckets_of(query: Retention) -> list[date]:
    """Every bucket a unit may come back in: from the first cohort up to the last
    cohort's last period, then the first day after them (where the last one ends)."""
    buckets = query.period.buckets(query.interval)
    for _ in range(query.periods + 1):
        buckets.append(next_bucket(buckets[-1], query.interval))
    return buckets


def returning_groups_sql(scope: Scope, query: Retention, cohort: date | None):
    """``retention._retention_sql`` of groups' activity of any kind, from their group
    days: each group's first day, the cohort it falls in, and the later buckets it was
    active in."""
    cohorts = query.period.buckets(query.interval)
    if cohort is not None:
        cohorts = [cohort]
    params = []
    for first in cohorts:
        hi = min(next_bucket(first, query.interval), query.period.end + timedelta(days=1))
        params += [
            connection.ops.adapt_datefield_value(value)
            for value in (max(first, query.period.start), hi, first)
        ]
    days_sql, days_params = scope.group_days_sql(None, query.period.end)
    # Each group's first day once (a CASE over the cohorts: joined to their list, the
    # planner may work the firsts out again for each cohort).
    cases = " ".join("WHEN first >= %s AND first < %s THEN %s" for _ in cohorts)
    firsts_sql = (
        f"SELECT unit, cohort FROM (SELECT unit, CASE {cases} END AS cohort FROM "
        f"(SELECT unit, MIN(bucket) AS first FROM ({days_sql}) days GROUP BY unit) d) c "
        f"WHERE cohort IS NOT NULL"
    )
    last = buckets_of(query)[-1] - timedelta(days=1)
    back_sql, back_params = scope.group_days_sql(query.period.start, last, query.interval)
    return (
        firsts_sql, [*params, *days_params],
        f"SELECT f.unit, f.cohort, r.bucket FROM f JOIN ({back_sql}) r ON r.unit = f.unit AND r.bucket > f.cohort",
        back_params,
    )
