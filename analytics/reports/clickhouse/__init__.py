"""Reports answered by ClickHouse when it holds the events (``CLICKHOUSE_URL``): the same
functions as ``analytics.reports.sql``, taking the same queries and giving the same
results, in ClickHouse's SQL over the events, with ``FINAL``: distinct units as
``uniqExact`` states, each unit's events as one array sorted by time and number (funnels,
retention), and what the main database knows of people and groups (their traits and
properties, cohorts, memberships, internal people) named by ids it gives.
"""

from analytics.reports.clickhouse.activity import active_counts, active_group_actors, active_groups
from analytics.reports.clickhouse.events import events_without_group, most_sent_events, top_events
from analytics.reports.clickhouse.funnels import funnel, funnel_actors
from analytics.reports.clickhouse.retention import retention, retention_actors
from analytics.reports.clickhouse.trends import trend_actors, trends

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
