"""The reports of /api/v1 in the OpenAPI description: their parameters, an example
answer each and their paths (``REPORT_PATHS``). What they answer is in
``analytics.openapi.report_schemas``."""

from analytics.openapi.common import DAY, FLAG, STRING, operation, query, ref
from analytics.reports import INTERVALS, RANGES, Filter, Funnel, Retention
from analytics.reports.queries import DEFAULT_RANGE, FIRST_DAY, LAST_DAY, MAX_DAYS

# --- the reports' parameters --------------------------------------------------------


def repeated(name, description, items=STRING, **more):
    """A parameter that may be given several times (``event=a&event=b``)."""
    return query(name, description, {"type": "array", "items": items}, explode=True, **more)


EVENT_NAME = "an event's name, $page for every page call or $screen for every screen call"
REPORT_PERIOD = [
    query(
        "range",
        f"{RANGES[DEFAULT_RANGE]} ({DEFAULT_RANGE}) by default, up to today in the workspace's "
        "time zone; custom when from or to is given.",
        {"enum": list(RANGES)},
    ),
    query(
        "from",
        f"The first day (YYYY-MM-DD, in the workspace's time zone) of a custom range, from "
        f"{FIRST_DAY} to {LAST_DAY}; a range covers at most {MAX_DAYS:,} days.",
        DAY,
        example="2026-02-01",
    ),
    query(
        "to",
        "The last day, included; today by default.",
        DAY,
        example="2026-02-07",
    ),
]
UNITS = (
    "users (distinct people, the default) or a group type's name (distinct groups of the "
    "type, from the events that carry one)"
)


def count_by(description):
    return query("count_by", description, STRING, example="company")


REPORT_FILTERS = [
    repeated(
        "where",
        "Filters are parallel lists: the first where, key, op and value make the first "
        "filter, and so on; events pass all of them. where is event (its properties), person "
        "(their traits) or a group type's name (the properties of the event's group of it).",
        example=["company"],
    ),
    repeated("key", "The property or trait a filter looks at.", example=["plan"]),
    repeated(
        "op",
        "; ".join(f"{op}: {meaning}" for op, meaning in Filter.OPERATORS.items())
        + ". gt and lt compare numbers.",
        {"enum": list(Filter.OPERATORS)},
        example=["eq"],
    ),
    repeated("value", "What a filter compares with; empty for set and not_set.",
             example=["enterprise"]),
    query(
        "internal",
        "exclude leaves out people at the workspace's internal domains (the default when it "
        "has some), include counts them.",
        {"enum": ["exclude", "include"]},
    ),
    query("cohort", "A saved cohort's number: only its members are counted.",
          {"type": "integer", "minimum": 1}),
]
INTERVAL = query(
    "interval",
    "day, week (ISO, from Monday) or month, cut at midnight in the workspace's time zone.",
    {"enum": list(INTERVALS)},
)


# --- an example answer of each report ---------------------------------------------

REPORT_QUERY_EXAMPLE = {
    "range": "custom",
    "from": "2026-02-01",
    "to": "2026-02-03",
    "time_zone": "Europe/Paris",
    "filters": [{"where": "company", "key": "plan", "op": "eq", "value": "enterprise"}],
    "internal": "exclude",
    "cohort": None,
}
TREND_EXAMPLE = {
    "query": {
        "events": ["Report Viewed"],
        "interval": "day",
        "count_by": "company",
        **REPORT_QUERY_EXAMPLE,
        "breakdown_on": None,
        "breakdown": None,
        "compare": False,
    },
    "series": [
        {
            "label": "Report Viewed",
            "event": "Report Viewed",
            "breakdown_value": None,
            "is_other": False,
            "total": 14,
            "data": [
                {"date": "2026-02-01", "value": 3},
                {"date": "2026-02-02", "value": 11},
                {"date": "2026-02-03", "value": 9},
            ],
        }
    ],
    "previous": None,
}
FUNNEL_EXAMPLE = {
    "query": {
        "steps": ["Signed Up", "Report Viewed"],
        "window": 14,
        "count_by": "users",
        **REPORT_QUERY_EXAMPLE,
        "filters": [],
    },
    "steps": [
        {"event": "Signed Up", "label": "Signed Up", "count": 40, "conversion_rate": 1.0,
         "conversion_from_previous": None, "dropped": None, "median_seconds": None},
        {"event": "Report Viewed", "label": "Report Viewed", "count": 25,
         "conversion_rate": 0.625, "conversion_from_previous": 0.625, "dropped": 15,
         "median_seconds": 5400.0},
    ],
    "entered": 40,
    "converted": 25,
    "conversion_rate": 0.625,
    "median_seconds_to_convert": 5400.0,
}
RETENTION_EXAMPLE = {
    "query": {
        "start_event": "Signed Up",
        "return_event": "Report Viewed",
        "interval": "week",
        "periods": 2,
        "count_by": "company",
        **REPORT_QUERY_EXAMPLE,
        "from": "2026-02-02",
        "to": "2026-02-15",
        "filters": [],
    },
    "cohorts": [
        {"start": "2026-02-02", "size": 12, "returned": [9, 7]},
        {"start": "2026-02-09", "size": 8, "returned": [5, None]},
    ],
}
ACTIVE_GROUPS_EXAMPLE = {
    "query": {"type": "company", "interval": "day", **REPORT_QUERY_EXAMPLE, "filters": []},
    "data": [
        {"date": "2026-02-01", "strict": 4, "overcount": 5},
        {"date": "2026-02-02", "strict": 31, "overcount": 38},
        {"date": "2026-02-03", "strict": 29, "overcount": 35},
    ],
    "events": 5210,
    "events_without_group": 344,
}


# --- the paths --------------------------------------------------------------------

REPORT_PATHS = {
    "/api/v1/reports/trends": {
        "get": operation(
            "getTrends",
            "How many users, groups of a type or events did something, per day, week or month.",
            ref("TrendReport"),
            parameters=[
                repeated("event", f"A series each (at most 10): {EVENT_NAME}, or empty for "
                         "any event; any event when none is given.", example=["Report Viewed"]),
                INTERVAL,
                *REPORT_PERIOD,
                count_by("users (distinct people, the default), a group type's name (distinct "
                         "groups of the type, from the events that carry one) or events (every "
                         "call)."),
                *REPORT_FILTERS,
                query("breakdown_on", "What the breakdown's property belongs to, as in where; "
                      "event by default."),
                query("breakdown", "A property to split the one series by: its top 10 values, "
                      "then Other."),
                query("compare", "Also the same series over the period just before.", FLAG),
            ],
            tag="Reports",
            example=TREND_EXAMPLE,
        ),
    },
    "/api/v1/reports/funnels": {
        "get": operation(
            "getFunnel",
            "How many users or groups went through steps in order, within a window of days.",
            ref("FunnelReport"),
            parameters=[
                query(
                    "steps",
                    f"{Funnel.MIN_STEPS} to {Funnel.MAX_STEPS} steps, in order, separated by "
                    f"commas: each {EVENT_NAME}.",
                    example="Signed Up,Report Viewed",
                ),
                repeated("step", "A step each, as a parameter of its own (before those of steps); "
                         "an empty one is left out."),
                query("window", f"Days from the first step within which the last must come, 1 "
                      f"to {Funnel.MAX_WINDOW_DAYS}; 14 by default.",
                      {"type": "integer", "minimum": 1, "maximum": Funnel.MAX_WINDOW_DAYS},
                      example=14),
                *REPORT_PERIOD,
                count_by(f"{UNITS}. Counted by a group type, a group converts when its "
                         "members together do the steps in order."),
                *REPORT_FILTERS,
            ],
            tag="Reports",
            example=FUNNEL_EXAMPLE,
        ),
    },
    "/api/v1/reports/retention": {
        "get": operation(
            "getRetention",
            "Cohorts by when users or groups first did the start event, and how many of each "
            "came back in each following day, week or month.",
            ref("RetentionReport"),
            parameters=[
                query("start_event", f"What puts a unit in a cohort, the first time: "
                      f"{EVENT_NAME}, or empty for any event.", example="Signed Up"),
                query("return_event", f"What counts as coming back: {EVENT_NAME}, or empty "
                      "for any event.", example="Report Viewed"),
                {**INTERVAL, "description": INTERVAL["description"] + " week by default."},
                query("periods", f"Intervals after the cohort's, 1 to {Retention.MAX_PERIODS}; "
                      "by default 14 days, 8 weeks or 6 months.",
                      {"type": "integer", "minimum": 1, "maximum": Retention.MAX_PERIODS},
                      example=4),
                *REPORT_PERIOD,
                count_by(f"{UNITS}."),
                *REPORT_FILTERS,
            ],
            tag="Reports",
            example=RETENTION_EXAMPLE,
        ),
    },
    "/api/v1/reports/active-groups": {
        "get": operation(
            "getActiveGroups",
            "Active groups of a type per day, week or month: strictly (the group was on an "
            "event) beside the over-count (events with no group of the type credited to every "
            "group their person was in).",
            ref("ActiveGroupsReport"),
            parameters=[
                query("type", "The group type's name; the default type when none is given.",
                      example="company"),
                INTERVAL,
                *REPORT_PERIOD,
                *REPORT_FILTERS,
            ],
            tag="Reports",
            example=ACTIVE_GROUPS_EXAMPLE,
        ),
    },
}
