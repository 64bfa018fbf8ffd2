"""Reports: Trends, Funnels, Retention and active groups, counted by users, by groups of
a type or (Trends) by events.

``queries`` says what a report asks (read from and written to a URL), ``results`` what it
answers, and ``sql`` answers it from the database the models live in. Views call the
functions here and never build queries themselves.
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
from analytics.reports.sql import (
    active_counts,
    active_group_actors,
    active_groups,
    event_names,
    events_without_group,
    funnel,
    funnel_actors,
    internal_people_count,
    most_sent_events,
    retention,
    retention_actors,
    top_events,
    trend_actors,
    trends,
)

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
