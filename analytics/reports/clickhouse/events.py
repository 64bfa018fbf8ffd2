"""The events a workspace sends most, and how many a report left out, from ClickHouse."""

from __future__ import annotations

from analytics.clickhouse.sql import moment_text
from analytics.models import EventType, Workspace
from analytics.reports.clickhouse.scope import Scope, events_table, fetch
from analytics.reports.queries import Period, Query, event_label
from analytics.reports.results import EventCount
from analytics.reports.sql.events import _named_events


def events_without_group(workspace: Workspace, query: Query) -> int | None:
    """How many of the activity events a report reads (its events, in its period, with
    its filters, without internal people) carried no group of the type it counts by, and
    so were not counted; None when it counts users or events."""
    scope = Scope(workspace, query)
    if scope.group_type is None:
        return None
    start, end = query.period.bounds(scope.zone)
    where = scope.where(None, start=start, end=end, counted=False)
    named = scope.events_condition(_named_events(query))
    [(n,)] = fetch(
        f"SELECT count() FROM {events_table()} "
        f"WHERE {where} AND {named} AND {scope.group_type.slot_field}_id IS NULL",
        scope.params,
    )
    return int(n)


def most_sent_events(
    workspace: Workspace, period: Period, *, limit: int, sample: int = 10_000
) -> list[str]:
    """The track calls' names sent most often in ``period``, most first, counted among
    its latest ``sample`` track calls, as the main database counts them (where the
    sample keeps the cost the same in a workspace of any size; here it keeps the
    answers the same)."""
    start, end = period.bounds(workspace.zone)
    rows = fetch(
        f"SELECT name, count() AS n FROM (SELECT name FROM {events_table()} "
        f"WHERE workspace_id = %(w)s AND type = '{EventType.TRACK}' "
        f"AND timestamp >= toDateTime64(%(start)s, 6, 'UTC') "
        f"AND timestamp < toDateTime64(%(end)s, 6, 'UTC') "
        f"ORDER BY timestamp DESC, id DESC LIMIT {int(sample)}) "
        f"GROUP BY name ORDER BY n DESC, name LIMIT {int(limit)}",
        {"w": workspace.pk, "start": moment_text(start), "end": moment_text(end)},
    )
    return [name for name, _ in rows]


def top_events(workspace: Workspace, query: Query, *, limit: int = 10) -> list[EventCount]:
    """The report events done most in the query's period, passing its filters: each track
    call's name, and page and screen calls as one event each, with how many times and by
    how many users; the most done first. One reading of the events."""
    scope = Scope(workspace, query)
    start, end = query.period.bounds(scope.zone)
    rows = fetch(
        f"SELECT {scope.report_event()} AS event, count() AS n, uniqExact(person_id) "
        f"FROM {events_table()} WHERE {scope.where(None, start=start, end=end, counted=False)} "
        f"GROUP BY event ORDER BY n DESC, event LIMIT {int(limit)}",
        scope.params,
    )
    return [EventCount(name, event_label(name), int(n), int(users)) for name, n, users in rows]
