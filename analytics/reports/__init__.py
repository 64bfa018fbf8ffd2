"""Reports: Trends, Funnels, Retention and active groups, counted by users, by groups of
a type or (Trends) by events.

``queries`` says what a report asks (read from and written to a URL), ``results`` what it
answers, and the event store answers it: ``sql`` from the database the models live in,
``clickhouse`` from ClickHouse when it holds the events. Views call the functions here,
which pass each query to the store's, and never build queries themselves.
"""

from analytics.reports.queries import (
    INTERVALS,
    RANGES,
    ActiveGroups,
    Filter,
    Funnel,
    Period,
    ReportError,
    Retention,
    Trend,
    active_groups_from_params,
    event_label,
    funnel_from_params,
    retention_from_params,
    trend_from_params,
)
from analytics.reports import sql
from analytics.reports.sql import event_names, internal_people_count


def _store(workspace):
    """The module answering reports from the event store: ClickHouse's when it holds the
    events (``CLICKHOUSE_URL``), the events ingestion queued for ``workspace`` stored
    there first, else the main database's (``sql``). Both take the same queries and give
    the same results."""
    from analytics import event_store

    if event_store.in_clickhouse():
        from analytics.reports import clickhouse

        event_store.store_queued(workspace.pk)
        return clickhouse
    return sql


def trends(workspace, query):
    return _store(workspace).trends(workspace, query)


def trend_actors(workspace, query, **point):
    return _store(workspace).trend_actors(workspace, query, **point)


def funnel(workspace, query):
    return _store(workspace).funnel(workspace, query)


def funnel_actors(workspace, query, **step):
    return _store(workspace).funnel_actors(workspace, query, **step)


def retention(workspace, query):
    return _store(workspace).retention(workspace, query)


def retention_actors(workspace, query, **cell):
    return _store(workspace).retention_actors(workspace, query, **cell)


def active_groups(workspace, query):
    return _store(workspace).active_groups(workspace, query)


def active_group_actors(workspace, query, **point):
    return _store(workspace).active_group_actors(workspace, query, **point)


def active_counts(workspace, group_type, days=(1, 7, 30), **options):
    return _store(workspace).active_counts(workspace, group_type, days, **options)


def events_without_group(workspace, query):
    return _store(workspace).events_without_group(workspace, query)


def most_sent_events(workspace, period, **options):
    return _store(workspace).most_sent_events(workspace, period, **options)


def top_events(workspace, query, **options):
    return _store(workspace).top_events(workspace, query, **options)


# The reports a member saves, by the kind in their page's address (/reports/<kind>): how
# each reads its query string.
FROM_PARAMS = {
    "trends": trend_from_params,
    "funnels": funnel_from_params,
    "retention": retention_from_params,
}

__all__ = [
    "FROM_PARAMS",
    "INTERVALS",
    "RANGES",
    "ActiveGroups",
    "Filter",
    "Funnel",
    "Period",
    "ReportError",
    "Retention",
    "Trend",
    "active_counts",
    "active_group_actors",
    "active_groups",
    "active_groups_from_params",
    "event_label",
    "event_names",
    "events_without_group",
    "funnel",
    "funnel_actors",
    "funnel_from_params",
    "internal_people_count",
    "retention",
    "retention_actors",
    "retention_from_params",
    "most_sent_events",
    "top_events",
    "trend_actors",
    "trend_from_params",
    "trends",
]
