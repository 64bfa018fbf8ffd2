"""What the reports of /api/v1 answer, in the OpenAPI description: trends, funnels,
retention and active groups, each with the query it answers (``REPORT_SCHEMAS``). Their
paths and parameters are in ``analytics.openapi.reports``."""

from analytics.openapi.common import COUNT, DAY, FLAG, STRING, fixed, nullable, ref
from analytics.reports import INTERVALS, RANGES, Filter, Funnel, Retention

# --- what the reports answer -----------------------------------------------------

RATE = {
    **nullable({"type": "number", "minimum": 0, "maximum": 1}),
    "description": "A share from 0 to 1, rounded to four places; null of nothing.",
}
SECONDS = nullable({"type": "number", "minimum": 0})
REPORT_QUERY = {
    "range": {
        "enum": list(RANGES),
        "description": "The preset the period came from, or custom (from and to).",
    },
    "from": {**DAY, "description": "The period's first day, in the workspace's time zone."},
    "to": {**DAY, "description": "The period's last day, included."},
    "time_zone": {**STRING, "description": "The workspace's time zone, where days begin."},
    "filters": {"type": "array", "items": ref("ReportFilter")},
    "internal": {
        "enum": ["exclude", "include"],
        "description": "Whether people at the workspace's internal domains were counted.",
    },
    "cohort": {
        **nullable({"type": "integer", "minimum": 1}),
        "description": "A saved cohort's number: only its members were counted.",
    },
}
INTERVAL = {"enum": list(INTERVALS)}
COUNT_BY = {
    **STRING,
    "description": "users, a group type's name, or (Trends only) events.",
}
EVENT = {
    **STRING,
    "description": "An event's name, $page (every page call), $screen (every screen call), "
    "or empty for any event.",
}


def points(**values):
    """A list of one bucket's numbers each: its first day and ``values``."""
    return {
        "type": "array",
        "items": fixed(date={**DAY, "description": "The first day of the bucket."}, **values),
    }


SERIES = {"type": "array", "items": ref("TrendSeries")}

REPORT_SCHEMAS = {
    "ReportFilter": fixed(
        where={**STRING, "description": "event, person or a group type's name."},
        key=STRING,
        op={"enum": list(Filter.OPERATORS)},
        value={**STRING, "description": "Empty for set and not_set."},
    ),
    "TrendReport": fixed(
        query=fixed(
            events={"type": "array", "items": EVENT, "minItems": 1},
            interval=INTERVAL,
            count_by=COUNT_BY,
            **REPORT_QUERY,
            breakdown_on={
                **nullable(STRING),
                "description": "event, person or a group type's name.",
            },
            breakdown={**nullable(STRING), "description": "The property broken down by."},
            compare=FLAG,
        ),
        series=SERIES,
        previous={
            **nullable(fixed(**{"from": DAY}, to=DAY, series=SERIES)),
            "description": "With compare: the same series over the period just before.",
        },
    ),
    "TrendSeries": fixed(
        label=STRING,
        event=EVENT,
        breakdown_value={
            **nullable(STRING),
            "description": "The value of this series in a breakdown (\"\" for none); "
            "null without a breakdown, and for Other.",
        },
        is_other={**FLAG, "description": "The values beyond the top 10, together."},
        total={
            **COUNT,
            "description": "Distinct over the whole period: not the sum of the points.",
        },
        data=points(value=COUNT),
    ),
    "FunnelReport": fixed(
        query=fixed(
            steps={
                "type": "array",
                "items": EVENT,
                "minItems": Funnel.MIN_STEPS,
                "maxItems": Funnel.MAX_STEPS,
            },
            window={
                "type": "integer",
                "minimum": 1,
                "maximum": Funnel.MAX_WINDOW_DAYS,
                "description": "Days from the first step within which the last one counts.",
            },
            count_by=COUNT_BY,
            **REPORT_QUERY,
        ),
        steps={"type": "array", "items": ref("FunnelStep")},
        entered={**COUNT, "description": "Units that did the first step in the period."},
        converted={**COUNT, "description": "Units that reached the last step."},
        conversion_rate=RATE,
        median_seconds_to_convert={
            **SECONDS,
            "description": "From the first step to the last, over the units that converted.",
        },
    ),
    "FunnelStep": fixed(
        event=EVENT,
        label=STRING,
        count={**COUNT, "description": "Units that reached this step, in order, in the window."},
        conversion_rate={**RATE, "description": "count as a share of the first step's."},
        conversion_from_previous={**RATE, "description": "As a share of the step before; "
                                  "null for the first step."},
        dropped={**nullable(COUNT), "description": "Reached the step before and not this one."},
        median_seconds={
            **SECONDS,
            "description": "From the first step to this one, the median of each unit's "
            "quickest; null for the first step.",
        },
    ),
    "RetentionReport": fixed(
        query=fixed(
            start_event=EVENT,
            return_event=EVENT,
            interval=INTERVAL,
            periods={"type": "integer", "minimum": 1, "maximum": Retention.MAX_PERIODS},
            count_by=COUNT_BY,
            **REPORT_QUERY,
        ),
        cohorts={
            "type": "array",
            "items": fixed(
                start={**DAY, "description": "The first day of the cohort's interval."},
                size={**COUNT, "description": "Units whose first start event fell in it."},
                returned={
                    "type": "array",
                    "items": nullable(COUNT),
                    "description": "Of them, those back in each following interval; null "
                    "for an interval that has not begun.",
                },
            ),
        },
    ),
    "ActiveGroupsReport": fixed(
        query=fixed(
            type={**STRING, "description": "The group type counted."},
            interval=INTERVAL,
            **REPORT_QUERY,
        ),
        data=points(
            strict={**COUNT, "description": "Groups whose own context was on an event."},
            overcount={
                **COUNT,
                "description": "Also every group each event with no group of the type would "
                "be credited to: those its person belonged to at the event's moment.",
            },
        ),
        events={**COUNT, "description": "Events counted (track, page and screen calls) in the "
                 "period, after the filters."},
        events_without_group={**COUNT, "description": "Of them, those with no group of the type."},
    ),
}
