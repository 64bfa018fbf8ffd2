"""Active groups from ClickHouse, strictly beside the over-count (every event without a
group of the type credited to each group its person was in then), and the overview's
trailing windows.

The groups' own days are read from the rollup ``group_days`` where it can answer, else
from the events. Who was in which group when is the copy ClickHouse keeps of the
memberships (``analytics.clickhouse.memberships``, brought up to date first), which the
events without a group are joined to where they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from analytics.clickhouse import memberships
from analytics.models import GroupType, Workspace
from analytics.reports.clickhouse.scope import Scope, events_table, fetch
from analytics.reports.queries import ActiveGroups, Period
from analytics.reports.results import ActiveCount, ActiveGroupsResult
from analytics.reports.scope import count_by_bucket, point_bounds, trailing_windows


def active_groups(workspace: Workspace, query: ActiveGroups) -> ActiveGroupsResult:
    """Two readings of the events: the period's events and how many carried no group of
    the type; then the groups strictly and over-counted per bucket."""
    scope = Scope(workspace, query)
    dates = query.period.buckets(query.interval)
    start, end = query.period.bounds(scope.zone)
    [(events, without)] = fetch(
        f"SELECT count(), countIf({_slot(scope)} IS NULL) "
        f"FROM {events_table()} WHERE {scope.where(start=start, end=end, counted=False)}",
        scope.params,
    )
    rows = fetch(
        f"SELECT {scope.day_bucket(query.interval)} AS b, uniqExactIf(unit, own = 1), "
        f"uniqExact(unit) FROM ({_credited(scope, query.period)}) GROUP BY b",
        scope.params,
    )
    return ActiveGroupsResult(
        dates=dates,
        strict=count_by_bucket([(bucket, n) for bucket, n, _ in rows], dates),
        overcount=count_by_bucket([(bucket, n) for bucket, _, n in rows], dates),
        events=int(events),
        events_without_group=int(without),
    )


def active_group_actors(
    workspace: Workspace, query: ActiveGroups, *, day: date, overcount=False
) -> list:
    """Ids of the groups counted active in the bucket of ``day``, strictly or over-counted."""
    scope = Scope(workspace, query)
    start, end = point_bounds(scope, query, day)
    if not overcount:
        sql = f"SELECT DISTINCT {scope.unit} FROM {events_table()} WHERE {scope.where(start=start, end=end)}"
        return [unit for (unit,) in fetch(sql, scope.params)]
    point = Period(start.astimezone(scope.zone).date(), end.astimezone(scope.zone).date() - timedelta(days=1))
    return [unit for (unit,) in fetch(f"SELECT DISTINCT unit FROM ({_credited(scope, point)})", scope.params)]


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
    has internal domains, as reports leave them out by default. Every window is counted
    in the same reading of the widest one's events (a condition on each window's first
    moment): one reading without a group type, two with one."""
    windows, periods, query = trailing_windows(workspace, group_type, days)
    scope = Scope(workspace, query)
    start, end = query.period.bounds(scope.zone)
    since = {n: scope.moment(periods[n].bounds(scope.zone)[0]) for n in windows}
    columns = [f"uniqExactIf(person_id, timestamp >= {since[n]})" for n in windows] if users else []
    if scope.group_type:
        slot = _slot(scope)
        columns += [
            f"countIf(timestamp >= {since[n]}), countIf({slot} IS NULL AND timestamp >= {since[n]})"
            for n in windows
        ]
    where = scope.where(start=start, end=end, counted=False)
    row = ()  # neither users nor groups asked for: nothing to read
    if columns:
        [row] = fetch(f"SELECT {', '.join(columns)} FROM {events_table()} WHERE {where}", scope.params)
    figures = iter(row)
    found = [
        ActiveCount(n, periods[n].start, periods[n].end, int(next(figures)) if users else None)
        for n in windows
    ]
    if scope.group_type is None:
        return found
    for count in found:
        count.events, count.events_without_group = int(next(figures)), int(next(figures))
    first_days = {n: scope.day(periods[n].start) for n in windows}
    columns = [
        f"uniqExactIf(unit, own = 1 AND day >= {first_days[n]}), uniqExactIf(unit, day >= {first_days[n]})"
        for n in windows
    ]
    [groups] = fetch(f"SELECT {', '.join(columns)} FROM ({_credited(scope, query.period)})", scope.params)
    for i, count in enumerate(found):
        count.strict, count.overcount = int(groups[2 * i]), int(groups[2 * i + 1])
    return found


def _slot(scope: Scope) -> str:
    """The events' column of the group of the type counted by."""
    return f"{scope.group_type.slot_field}_id"


def _credited(scope: Scope, period: Period) -> str:
    """SQL of (day, unit, own) over the days of ``period`` (``day`` of the workspace's
    time zone): each group of the type active in its own right that day (own = 1), and
    for the events with none, every group of the type its person was in at the event's
    moment (own = 0). The groups' own days are read from the rollup ``group_days`` when
    it can answer (no filter, no cohort; a day of only internal people's activity left
    out when they are), else from the events. The memberships are ClickHouse's copy,
    brought up to date first."""
    slot = _slot(scope)
    start, end = period.bounds(scope.zone)
    if scope.query.filters or scope.cohort is not None:
        own = (
            f"SELECT day, assumeNotNull({slot}) AS unit, toUInt8(1) AS own "
            f"FROM {events_table()} WHERE {scope.where(start=start, end=end)}"
        )
    else:
        own = f"SELECT day, group_id AS unit, toUInt8(1) AS own FROM ({scope.group_days(period.start, period.end)})"
    memberships.sync(scope.workspace.pk)
    without = (
        f"SELECT day, timestamp AS moment, person_id FROM {events_table()} "
        f"WHERE {scope.where(start=start, end=end, counted=False)} AND {slot} IS NULL"
    )
    return (
        f"{own} UNION ALL SELECT e.day AS day, m.group_id AS unit, toUInt8(0) AS own "
        f"FROM ({without}) AS e INNER JOIN ({memberships.of_type(scope.group_type.pk)}) AS m "
        "ON e.person_id = m.person_id "
        "WHERE m.started_at <= e.moment AND (m.ended_at IS NULL OR e.moment < m.ended_at)"
    )
