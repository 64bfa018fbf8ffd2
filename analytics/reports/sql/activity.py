"""Active groups, strictly beside the over-count (every event without a group of the
type credited to each group its person was in then), and the overview's trailing
windows."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from django.db import connection
from django.db.models import (
    Count,
    F,
    Q,
)

from analytics.models import (
    ACTIVITY_TYPES,
    Event,
    GroupType,
    Membership,
    Workspace,
)
from analytics.reports.queries import (
    ActiveGroups,
)
from analytics.reports.results import (
    ActiveCount,
    ActiveGroupsResult,
)
from analytics.reports.scope import count_by_bucket, point_bounds, trailing_windows
from analytics.reports.sql.scope import Scope, fetch


def active_groups(workspace: Workspace, query: ActiveGroups) -> ActiveGroupsResult:
    """Two queries: the groups strictly and over-counted, then how many events carried
    no group of the type."""
    scope = Scope(workspace, query)
    dates = query.period.buckets(query.interval)
    if scope.reads_days:
        first, last = query.period.start, query.period.end
        events, without = scope.activity_totals([first], last)[first]
        strict, overcount = _active_days(scope, first, last, dates)
    else:
        start, end = query.period.bounds(scope.zone)
        sql, params = _overcount_sql(scope, start, end, dates)
        totals = scope.events(start=start, end=end, counted=False).aggregate(
            all=Count("id"), without=Count("id", filter=Q(**{f"{scope.group_type.slot_field}__isnull": True}))
        )
        events, without = totals["all"], totals["without"]
        rows = fetch(
            f"SELECT bucket, COUNT(DISTINCT CASE WHEN own = 1 THEN unit END), COUNT(DISTINCT unit) "
            f"FROM ({sql}) credited GROUP BY bucket",
            params,
        )
        strict = count_by_bucket([(bucket, n) for bucket, n, _ in rows], dates)
        overcount = count_by_bucket([(bucket, n) for bucket, _, n in rows], dates)
    return ActiveGroupsResult(
        dates=dates,
        strict=strict,
        overcount=overcount,
        events=events,
        events_without_group=without,
    )


def _active_days(scope: Scope, first: date, last: date, dates: list[date]):
    """Strict and over-counted active groups per bucket from the days of activity: the
    groups' own days (group days), and the groups credited with days that named none,
    only those not active of their own in the bucket adding to the over-count (an
    anti-join on the first, rather than the distinct groups of both together)."""
    interval = scope.query.interval
    strict_sql, strict_params = scope.group_days_sql(first, last, interval)
    credited_sql, credited_params = _credited_days_sql(scope, first, last, interval)
    # The groups' own days are read twice rather than kept (a CTE): counted per bucket
    # straight from their index, and hashed for the anti-join, each quicker than
    # writing them out and sorting them.
    rows = fetch(
        f"SELECT 1, bucket, COUNT(*) FROM ({strict_sql}) s GROUP BY bucket UNION ALL "
        f"SELECT 0, bucket, COUNT(*) FROM (SELECT DISTINCT bucket, unit FROM ({credited_sql}) credited) c "
        f"WHERE NOT EXISTS (SELECT 1 FROM ({strict_sql}) s WHERE s.bucket = c.bucket AND s.unit = c.unit) "
        f"GROUP BY bucket",
        [*strict_params, *credited_params, *strict_params],
    )
    strict = count_by_bucket([(bucket, n) for own, bucket, n in rows if own], dates)
    more = count_by_bucket([(bucket, n) for own, bucket, n in rows if not own], dates)
    return strict, [s + m for s, m in zip(strict, more)]


def _overcount_sql(scope: Scope, start, end, dates: list[date]) -> tuple[str, list]:
    """SQL of (bucket, unit, own): each event's own group of the type (own = 1), and for
    events with none, every group of the type its person was in at the event's moment
    (own = 0)."""
    bucket = scope.bucket(scope.query.interval, firsts=dates)
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


def _credited_days_sql(scope: Scope, first: date, last: date, interval: str) -> tuple[str, list]:
    """SQL of (bucket, unit): for each day of a person's activity without a group of the
    type (first to last moment), the groups of the type they were in all that time at
    once; when a membership began or ended within that time, the events themselves say
    whether one fell in it (rare: most memberships outlast a day's use)."""
    slot = scope.group_type.slot_field
    without = (
        scope.days(first, last, counted=False)
        .filter(**{slot: 0})
        .values(bucket=scope.day_bucket(interval), person_ref=F("person_id"), since=F("first_at"), until=F("last_at"))
        .order_by()
    )
    without_sql, without_params = without.query.sql_with_params()
    membership = connection.ops.quote_name(Membership._meta.db_table)
    event = connection.ops.quote_name(Event._meta.db_table)
    activity = ", ".join(f"'{kind}'" for kind in ACTIVITY_TYPES)
    sql = (
        f"SELECT d.bucket, m.group_id AS unit FROM ({without_sql}) d "
        f"JOIN {membership} m ON m.person_id = d.person_ref AND m.group_type_id = %s "
        f"AND m.started_at <= d.until AND (m.ended_at IS NULL OR d.since < m.ended_at) "
        f"WHERE (m.started_at <= d.since AND (m.ended_at IS NULL OR d.until < m.ended_at)) "
        f"OR EXISTS (SELECT 1 FROM {event} e WHERE e.person_id = d.person_ref "
        f"AND e.timestamp >= d.since AND e.timestamp <= d.until AND e.timestamp >= m.started_at "
        f"AND (m.ended_at IS NULL OR e.timestamp < m.ended_at) AND e.{slot}_id IS NULL "
        f"AND e.type IN ({activity}))"
    )
    return sql, [*without_params, scope.group_type.pk]


def active_group_actors(workspace: Workspace, query: ActiveGroups, *, day: date, overcount=False):
    """Ids of the groups counted active in the bucket of ``day``, strictly or over-counted."""
    scope = Scope(workspace, query)
    start, end = point_bounds(scope, query, day)
    if not overcount:
        return (
            scope.events(start=start, end=end)
            .values_list(scope.unit_field, flat=True)
            .distinct()
            .order_by()
        )
    sql, params = _overcount_sql(scope, start, end, query.period.buckets(query.interval))
    return [unit for (unit,) in fetch(f"SELECT DISTINCT unit FROM ({sql}) credited", params)]


def active_counts(
    workspace: Workspace,
    group_type: GroupType | None,
    days: Iterable[int] = (1, 7, 30),
    *,
    users: bool = True,
) -> list[ActiveCount]:
    """For each trailing window of ``days`` whole days ending today (1 is today so far),
    in the workspace's time zone: the active users and, given a group type, its active
    groups strictly beside the over-count (as ``active_groups`` counts them) and how many
    events carried no group of the type. Internal people are left out when the workspace
    has internal domains, as reports leave them out by default. At most three queries,
    whatever the number of windows: the active users (not without ``users``: None), the
    events with and without a group (day totals), the groups' days."""
    windows, periods, query = trailing_windows(workspace, group_type, days)
    today = query.period.end
    scope = Scope(workspace, query)
    users_of = {}
    if users:
        users_of = scope.days(query.period.start, today, counted=False).aggregate(
            **{
                str(n): Count("person_id", distinct=True, filter=Q(day__gte=periods[n].start))
                for n in windows
            }
        )
    totals = scope.activity_totals([periods[n].start for n in windows], today) if scope.group_type else {}
    found = []
    for n in windows:
        events, without = totals.get(periods[n].start, (0, 0))
        found.append(
            ActiveCount(
                n, periods[n].start, periods[n].end, users_of.get(str(n)),
                events=events, events_without_group=without,
            )
        )
    if scope.group_type is None:
        return found
    # Each group's last day of its own and last day at all (credited) in the widest
    # window, from which each window's figures follow.
    strict_sql, strict_params = scope.group_days_sql(query.period.start, today)
    credited_sql, credited_params = _credited_days_sql(scope, query.period.start, today, "day")
    columns = ", ".join(
        "COUNT(CASE WHEN own_day >= %s THEN 1 END), COUNT(CASE WHEN latest >= %s THEN 1 END)"
        for _ in windows
    )
    since = []
    for n in windows:
        since += [connection.ops.adapt_datefield_value(periods[n].start)] * 2
    (figures,) = fetch(
        f"SELECT {columns} FROM (SELECT unit, MAX(CASE WHEN own = 1 THEN bucket END) AS own_day, "
        f"MAX(bucket) AS latest FROM (SELECT bucket, unit, 1 AS own FROM ({strict_sql}) s "
        f"UNION ALL SELECT bucket, unit, 0 FROM ({credited_sql}) c) days GROUP BY unit) units",
        [*since, *strict_params, *credited_params],
    )
    for i, count in enumerate(found):
        count.strict, count.overcount = figures[2 * i], figures[2 * i + 1]
    return found
