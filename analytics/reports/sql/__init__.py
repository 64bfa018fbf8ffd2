"""Reports answered by the database the models live in (PostgreSQL, or SQLite for the
demo), from its events and the days of activity kept beside them (``DailyActivity``).

Each function takes a workspace and a query from ``analytics.reports.queries`` and
returns a result from ``analytics.reports.results``; the ``*_actors`` functions return
the ids of the people or groups behind one number. Days, ISO weeks and months are cut
at midnight in the workspace's time zone.

One module per report (``trends``, ``funnels``, ``retention`` with ``retention_days``
for returns of any kind, and ``activity`` for active groups and the overview's trailing
windows), what they share in ``scope``, and
the workspace's events (names, the most sent, those a report left out) in ``events``.
"""

from analytics.reports.sql.activity import active_counts, active_group_actors, active_groups
from analytics.reports.sql.events import (
    event_names,
    events_without_group,
    internal_people_count,
    most_sent_events,
    top_events,
)
from analytics.reports.sql.funnels import funnel, funnel_actors
from analytics.reports.sql.retention import retention, retention_actors
from analytics.reports.sql.trends import trend_actors, trends

__all__ = [
    "active_counts",
    "active_group_actors",
    "active_groups",
    "event_names",
    "events_without_group",
    "funnel",
    "funnel_actors",
    "internal_people_count",
    "most_sent_events",
    "retention",
    "retention_actors",
    "top_events",
    "trend_actors",
    "trends",
]
