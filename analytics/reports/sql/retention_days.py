"""Retention's SQL read from days of activity (any activity counts as a return): a
person's days by the (person, day) index, a group's from its group days."""

from __future__ import annotations

from datetime import date, timedelta

from django.db import connection
from django.db.models import F

from analytics.models import DailyActivity
from analytics.reports.queries import Retention, next_bucket
from analytics.reports.sql.scope import Scope, fetch, table_sql


def returning_people_sql(scope: Scope, query: Retention):
    """The returns' SQL (and parameters) of people back with activity of any kind: each
    person's days of activity from the bucket after their cohort's to its last period,
    read from the (person, day) index one person after another (on PostgreSQL a lateral
    join; SQLite reads a join that way by itself) rather than every day of everyone.
    The days are anyone's: the people of ``f`` are those the query counts already."""
    adapt = connection.ops.adapt_datefield_value
    buckets = buckets_of(query)
    # Each cohort's first day, and from when until when its people's returns count: from
    # the bucket after the cohort's to its last period's.
    table, params = table_sql(
        ["first", "since", "until"],
        [
            (adapt(first), adapt(buckets[i + 1]), adapt(buckets[i + 1 + query.periods]))
            for i, first in enumerate(query.period.buckets(query.interval))
        ],
    )
    # Not filtered by workspace: not in the index, and the people tell it already.
    days = DailyActivity.objects.values(
        ref=F("person_id"), moment=F("day"), bucket=scope.day_bucket(query.interval)
    )
    days_sql, days_params = days.order_by().query.sql_with_params()
    cohorts = f"JOIN ({table}) c ON f.cohort >= c.first AND f.cohort < c.since"
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


# Groups' activity of any kind: each group's days read once, in one pass that keeps its
# first day and a bit for each bucket it was active in (63 to a 64-bit word), rather than
# its first day from one reading and its distinct (bucket, group) pairs from another.
WORD = 63


def groups_of_any_activity(scope: Scope, query: Retention) -> bool:
    """Whether the report is one of groups with activity of any kind from their days."""
    return (
        query.start_event == "" and query.return_event == "" and scope.reads_days
        and scope.group_type is not None
    )


def returning_groups_counts(scope: Scope, query: Retention):
    """({cohort: size}, {(cohort, bucket): groups back}) of a report of groups' activity
    of any kind (``groups_of_any_activity``)."""
    seen_sql, params, bit = _seen_sql(scope, query)
    returns = "".join(f", SUM({bit(f'c + {k}')})" for k in range(1, query.periods + 1))
    rows = fetch(f"SELECT c, COUNT(*){returns} FROM ({seen_sql}) seen GROUP BY c", params)
    buckets = buckets_of(query)
    sizes = {buckets[c]: size for c, size, *_ in rows}
    back = {
        (buckets[c], buckets[c + k]): int(n)  # a sum of bigints is a decimal on PostgreSQL
        for c, _, *returned in rows
        for k, n in enumerate(returned, start=1)
    }
    return sizes, back


def returning_groups(scope: Scope, query: Retention, cohort: date, period: int) -> list:
    """The groups of ``cohort`` active ``period`` buckets after it (0: all of them)."""
    seen_sql, params, bit = _seen_sql(scope, query)
    c = buckets_of(query).index(cohort)
    found = fetch(f"SELECT unit FROM ({seen_sql}) seen WHERE c = {c} AND {bit(str(c + period))} = 1", params)
    return [unit for (unit,) in found]


def _seen_sql(scope: Scope, query: Retention):
    """SQL of the groups whose first day falls in the period: ``unit``, ``c`` (the
    number of its cohort's bucket, from 0) and ``seen0``… (a bit per bucket it was
    active in), with its parameters and ``bit(n)``, the SQL of 1 if bucket ``n`` (SQL
    of a number) was seen, else 0."""
    buckets = buckets_of(query)
    words = -(-(len(buckets) - 1) // WORD)
    days_sql, days_params = scope.group_days_sql(None, buckets[-1] - timedelta(days=1))
    number = _bucket_number("bucket", query.interval, buckets[0])
    seen = []
    for w in range(words):
        word = (
            f"CASE WHEN bucket >= %s AND {number} >= {w * WORD} AND {number} < {(w + 1) * WORD} "
            f"THEN CAST(1 AS BIGINT) << ({number} - {w * WORD}) ELSE 0 END"
        )
        # SQLite has no BIT_OR: a sum of distinct powers of two is the same.
        seen.append(
            f"BIT_OR({word}) AS seen{w}" if connection.vendor == "postgresql"
            else f"SUM(DISTINCT {word}) AS seen{w}"
        )
    adapt = connection.ops.adapt_datefield_value
    sql = (
        f"SELECT unit, {_bucket_number('first', query.interval, buckets[0])} AS c, "
        f"{', '.join(f'seen{w}' for w in range(words))} FROM (SELECT unit, MIN(bucket) AS first, "
        f"{', '.join(seen)} FROM ({days_sql}) days GROUP BY unit) g WHERE first >= %s AND first <= %s"
    )
    params = [adapt(buckets[0])] * words + [*days_params, adapt(query.period.start), adapt(query.period.end)]

    def bit(n: str) -> str:
        if words == 1:
            return f"((seen0 >> ({n})) & 1)"
        cases = " ".join(f"WHEN {w} THEN seen{w}" for w in range(words))
        return f"(((CASE ({n}) / {WORD} {cases} END) >> (({n}) %% {WORD})) & 1)"

    return sql, params, bit


def _bucket_number(column: str, interval: str, origin: date) -> str:
    """SQL of the number of the bucket of ``interval`` holding the day ``column``,
    counted from the one starting on ``origin`` (0)."""
    months = origin.year * 12 + origin.month - 1
    if connection.vendor == "postgresql":
        if interval == "month":
            return f"(EXTRACT(YEAR FROM {column})::int * 12 + EXTRACT(MONTH FROM {column})::int - 1 - {months})"
        days = f"({column} - DATE '{origin.isoformat()}')"
    else:
        if interval == "month":
            return (
                f"(CAST(strftime('%%Y', {column}) AS INTEGER) * 12 "
                f"+ CAST(strftime('%%m', {column}) AS INTEGER) - 1 - {months})"
            )
        days = f"CAST(julianday({column}) - julianday('{origin.isoformat()}') AS INTEGER)"
    return f"({days} / 7)" if interval == "week" else days
