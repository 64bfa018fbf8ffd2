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
    the type (and whether any membership of the type began and ended on one day then);
    then the groups strictly and over-counted per bucket. The events are read by their
    day first (``PREWHERE``), and counted with ``FINAL`` only where a call may be held
    twice (``Scope.counted_events``)."""
    scope = Scope(workspace, query)
    dates = query.period.buckets(query.interval)
    [(events, without, one_day)] = fetch(
        f"SELECT count(), countIf({_slot(scope)} IS NULL), ({_one_day_memberships(scope, query.period)}) "
        f"FROM {scope.counted_events(query.period)} "
        f"PREWHERE {scope.in_days(query.period.start, query.period.end)} WHERE {scope.where(counted=False)}",
        scope.params,
    )
    rows = fetch(
        f"SELECT {scope.day_bucket(query.interval)} AS b, groupBitmapIf(unit, own = 1), "
        f"groupBitmap(unit) FROM ({_credited(scope, query.period, one_day_memberships=bool(one_day))}) GROUP BY b",
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
    day), read as ``active_groups`` reads them: one reading without a group type, two
    with one."""
    windows, periods, query = trailing_windows(workspace, group_type, days)
    scope = Scope(workspace, query)
    since = {n: scope.day(periods[n].start) for n in windows}
    columns = [f"uniqExactIf(person_id, day >= {since[n]})" for n in windows] if users else []
    if scope.group_type:
        slot = _slot(scope)
        columns += [
            f"countIf(day >= {since[n]}), countIf({slot} IS NULL AND day >= {since[n]})" for n in windows
        ]
        columns.append(f"({_one_day_memberships(scope, query.period)})")
    where, days = scope.where(counted=False), scope.in_days(query.period.start, query.period.end)
    row = ()  # neither users nor groups asked for: nothing to read
    if columns:
        [row] = fetch(
            f"SELECT {', '.join(columns)} FROM {scope.counted_events(query.period)} PREWHERE {days} WHERE {where}",
            scope.params,
        )
    figures = iter(row)
    found = [
        ActiveCount(n, periods[n].start, periods[n].end, int(next(figures)) if users else None)
        for n in windows
    ]
    if scope.group_type is None:
        return found
    for count in found:
        count.events, count.events_without_group = int(next(figures)), int(next(figures))
    one_day = bool(next(figures))
    columns = [f"groupBitmapIf(unit, own = 1 AND day >= {since[n]}), groupBitmapIf(unit, day >= {since[n]})" for n in windows]
    [groups] = fetch(
        f"SELECT {', '.join(columns)} FROM ({_credited(scope, query.period, one_day_memberships=one_day)})", scope.params
    )
    for i, count in enumerate(found):
        count.strict, count.overcount = int(groups[2 * i]), int(groups[2 * i + 1])
    return found


def _slot(scope: Scope) -> str:
    """The events' column of the group of the type counted by."""
    return f"{scope.group_type.slot_field}_id"


def _sync(scope: Scope) -> None:
    """ClickHouse's copy of the memberships brought up to date, once a report."""
    if not scope.__dict__.get("_synced"):
        memberships.sync(scope.workspace.pk, wait=False)
        scope._synced = True


def _one_day_memberships(scope: Scope, period: Period) -> str:
    """SQL of how many memberships of the type began and ended on one day of ``period``
    (the workspace's), or more: read without FINAL (a replaced row counts too), since a
    report only asks whether there is any, to leave out reading the events for them.
    The memberships are brought up to date first."""
    _sync(scope)
    start, end = period.bounds(scope.zone)
    zone = scope.param(str(scope.zone))
    return (
        f"SELECT count() FROM {memberships.table()} WHERE workspace_id = %(w)s "
        f"AND group_type_id = {scope.param(scope.group_type.pk)} AND ended_at IS NOT NULL "
        f"AND toDate(started_at, {zone}) = toDate(ended_at, {zone}) "
        f"AND started_at < {scope.moment(end)} AND ended_at > {scope.moment(start)}"
    )


def _credited(scope: Scope, period: Period, *, one_day_memberships: bool = True) -> str:
    """SQL of (day, unit, own) over the days of ``period`` (``day`` of the workspace's
    time zone): each group of the type active in its own right that day (own = 1), and
    for the events with none, every group of the type its person was in at the event's
    moment (own = 0). The memberships are ClickHouse's copy, brought up to date first.

    Without a filter or a cohort, the rollups answer: the groups' own days from
    ``group_days`` (a day of only internal people's activity left out when they are),
    and the events without a group of the type from ``person_days`` (each row's first and
    last moment), credited to the groups their person was in at some moment between the
    two (``schema.PERSON_ROLLUPS`` says why that is exact); the events themselves only for
    memberships begun and ended on one day (but when ``one_day_memberships`` says there is none).
    Otherwise the events answer."""
    slot = _slot(scope)
    start, end = period.bounds(scope.zone)
    days = scope.in_days(period.start, period.end)
    _sync(scope)
    members = memberships.of_type(scope.group_type.pk)
    without = (
        f"SELECT day, timestamp AS moment, person_id FROM {events_table()} "
        f"WHERE {scope.where(counted=False)} AND {days} AND {slot} IS NULL"
    )
    if scope.query.filters or scope.cohort is not None:
        own = (
            f"SELECT day, assumeNotNull({slot}) AS unit, toUInt8(1) AS own "
            f"FROM {events_table()} WHERE {scope.where()} AND {days}"
        )
        return f"{own} UNION ALL {_credited_events(without, members)}"
    own = f"SELECT day, group_id AS unit, toUInt8(1) AS own FROM ({scope.group_days(period.start, period.end)})"
    rows = (
        f"SELECT day, person_id, first, last FROM {scope.rollup('person_days')} "
        f"WHERE workspace_id = %(w)s AND NOT bitTest(groups, {scope.param(scope.group_type.slot)}) AND {days}"
    )
    if internal := scope.internal_ids():
        rows += f" AND person_id NOT IN {scope.param(internal)}"
    zone = scope.param(str(scope.zone))
    one_day = f"ended_at IS NOT NULL AND toDate(started_at, {zone}) = toDate(ended_at, {zone})"
    sql = (
        f"{own} UNION ALL SELECT d.day AS day, m.group_id AS unit, toUInt8(0) AS own "
        f"FROM ({rows}) AS d INNER JOIN ({members} AND NOT ({one_day})) AS m ON d.person_id = m.person_id "
        "WHERE m.started_at <= d.last AND (m.ended_at IS NULL OR d.first < m.ended_at)"
    )
    if not one_day_memberships:
        return sql
    one_day += f" AND started_at < {scope.moment(end)} AND ended_at > {scope.moment(start)}"
    return f"{sql} UNION ALL {_credited_events(without, f'{members} AND {one_day}')}"


def _credited_events(without: str, members: str) -> str:
    """SQL of (day, unit, 0): the events ``without`` (day, moment, person_id), each
    credited to the groups of the memberships ``members`` its person was in then."""
    return (
        "SELECT e.day AS day, m.group_id AS unit, toUInt8(0) AS own "
        f"FROM ({without}) AS e INNER JOIN ({members}) AS m ON e.person_id = m.person_id "
        "WHERE m.started_at <= e.moment AND (m.ended_at IS NULL OR e.moment < m.ended_at)"
    )
