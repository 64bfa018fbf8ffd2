"""Reports answered by ClickHouse when it holds the events (``CLICKHOUSE_URL``): the same
functions as ``analytics.reports.sql``, taking the same queries and giving the same
results, in ClickHouse's SQL (``uniqExact``, ``windowFunnel``, ``retention``) over the
events, with ``FINAL``.

Work in progress: trends only so far; the others say so.
"""

from analytics.reports.clickhouse.trends import trend_actors, trends


def _not_yet(*args, **kwargs):
    raise NotImplementedError("this report is not answered from ClickHouse yet")


funnel = funnel_actors = retention = retention_actors = _not_yet
active_groups = active_group_actors = active_counts = _not_yet
events_without_group = most_sent_events = top_events = _not_yet

__all__ = [
    "active_counts",
    "active_group_actors",
    "active_groups",
    "events_without_group",
    "funnel",
    "funnel_actors",
    "most_sent_events",
    "retention",
    "retention_actors",
    "top_events",
    "trend_actors",
    "trends",
]
