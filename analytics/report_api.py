"""The reports' JSON API: /api/v1/reports/*, with the secret key, as the rest of the API.

The parameters are those of the report pages, read by the report core
(``analytics.reports``), which also says what is wrong with them (a 400). Each answer
carries the query the core read (the days a range came to, what was counted, the time
zone the days are cut in) beside the numbers, so a client sees what was counted.
"""

from django.http import HttpRequest, JsonResponse, QueryDict

from analytics import forms, reports
from analytics.api import endpoint

# --- what was asked ---------------------------------------------------------------


def _query_json(workspace, query) -> dict:
    """The period, filters and people left out of any report's query, as read."""
    return {
        "range": query.period.preset,
        "from": query.period.start,
        "to": query.period.end,
        "time_zone": workspace.time_zone,
        "filters": [
            {"where": f.on, "key": f.key, "op": f.op, "value": f.value} for f in query.filters
        ],
        "internal": "exclude" if query.exclude_internal else "include",
        "cohort": query.cohort or None,  # 0 asks for no cohort, as nothing does
    }


def _rate(count, of):
    """``count`` as a share of ``of``, rounded to four places; None of nothing."""
    return round(count / of, 4) if of else None


# --- the numbers ------------------------------------------------------------------


def series_json(series, dates) -> dict:
    return {
        "label": series.label,
        "event": series.event,
        "breakdown_value": series.breakdown_value,
        "is_other": series.is_other,
        "total": series.total,
        "data": [{"date": day, "value": value} for day, value in zip(dates, series.values)],
    }


def trend_json(workspace, trend, result) -> dict:
    previous = None
    if trend.compare:
        period = trend.period.previous()
        previous = {
            "from": period.start,
            "to": period.end,
            "series": [series_json(series, result.previous_dates) for series in result.previous],
        }
    return {
        "query": {
            "events": list(trend.events),
            "interval": trend.interval,
            "count_by": trend.count_by,
            **_query_json(workspace, trend),
            "breakdown_on": trend.breakdown_on or None,
            "breakdown": trend.breakdown or None,
            "compare": trend.compare,
        },
        "series": [series_json(series, result.dates) for series in result.series],
        "previous": previous,
    }


def funnel_json(workspace, funnel, result) -> dict:
    steps = []
    for i, step in enumerate(result.steps):
        before = result.steps[i - 1].count if i else None
        steps.append(
            {
                "event": step.event,
                "label": step.label,
                "count": step.count,
                "conversion_rate": _rate(step.count, result.entered),
                "conversion_from_previous": _rate(step.count, before) if i else None,
                "dropped": before - step.count if i else None,
                "median_seconds": step.median_seconds,
            }
        )
    return {
        "query": {
            "steps": list(funnel.steps),
            "window": funnel.window_days,
            "count_by": funnel.count_by,
            **_query_json(workspace, funnel),
        },
        "steps": steps,
        "entered": result.entered,
        "converted": result.converted,
        "conversion_rate": _rate(result.converted, result.entered),
        "median_seconds_to_convert": result.median_seconds_to_convert,
    }


def retention_json(workspace, retention, result) -> dict:
    return {
        "query": {
            "start_event": retention.start_event,
            "return_event": retention.return_event,
            "interval": retention.interval,
            "periods": retention.periods,
            "count_by": retention.count_by,
            **_query_json(workspace, retention),
        },
        "cohorts": [
            {"start": cohort.start, "size": cohort.size, "returned": cohort.returned}
            for cohort in result.cohorts
        ],
    }


def active_groups_json(workspace, active, result) -> dict:
    return {
        "query": {
            "type": active.count_by,
            "interval": active.interval,
            **_query_json(workspace, active),
        },
        "data": [
            {"date": day, "strict": strict, "overcount": overcount}
            for day, strict, overcount in zip(result.dates, result.strict, result.overcount)
        ],
        "events": result.events,
        "events_without_group": result.events_without_group,
    }


# --- views ------------------------------------------------------------------------


@endpoint(GET=forms.ApiTrendsQuery)
def trends(request: HttpRequest, query: QueryDict) -> JsonResponse:
    trend = reports.trend_from_params(request.workspace, query)
    result = reports.trends(request.workspace, trend)
    return JsonResponse(trend_json(request.workspace, trend, result))


@endpoint(GET=forms.ApiFunnelsQuery)
def funnels(request: HttpRequest, query: QueryDict) -> JsonResponse:
    funnel = reports.funnel_from_params(request.workspace, query)
    result = reports.funnel(request.workspace, funnel)
    return JsonResponse(funnel_json(request.workspace, funnel, result))


@endpoint(GET=forms.ApiRetentionQuery)
def retention(request: HttpRequest, query: QueryDict) -> JsonResponse:
    retention = reports.retention_from_params(request.workspace, query)
    result = reports.retention(request.workspace, retention)
    return JsonResponse(retention_json(request.workspace, retention, result))


@endpoint(GET=forms.ApiActiveGroupsQuery)
def active_groups(request: HttpRequest, query: QueryDict) -> JsonResponse:
    active = reports.active_groups_from_params(request.workspace, query)
    result = reports.active_groups(request.workspace, active)
    return JsonResponse(active_groups_json(request.workspace, active, result))
