"""Saved reports in templates: the save control of the report pages
(templates/analytics/report_save.html), which needs nothing from a report page but the
report's kind and query string, and a saved report's settings in a few words."""

from django import template
from django.db.models import Case, IntegerField, Value, When
from django.http import QueryDict

from analytics.models import SavedReport
from analytics.reports import RANGES, event_label
from analytics.reports.queries import DEFAULT_RANGE

register = template.Library()


@register.simple_tag
def saved_report_of(request, kind, query):
    """The report of the current workspace saved from exactly this page (the same kind
    and query string), the user's own first, else None. One query."""
    workspace = getattr(request, "workspace", None)
    if workspace is None or not kind:
        return None
    mine_first = Case(
        When(created_by=request.user, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return (
        SavedReport.objects.for_workspace(workspace)
        .matching(kind, query or "")
        .order_by(mine_first, "-updated_at", "-pk")
        .first()
    )


@register.filter
def pinnable_by(saved, request) -> bool:
    """Whether the user of ``request`` may pin or unpin ``saved``."""
    return saved.may_pin(request.user, request.role)


@register.filter
def described(saved) -> str:
    """A saved report's settings in a few words ("Signed up → Invite sent · by company ·
    Last 30 days"), read from its query string as it was saved."""
    params = QueryDict(saved.query)
    if saved.kind == "trends":
        what = ", ".join(event_label(e.strip()) for e in params.getlist("event") or [""])
    elif saved.kind == "funnels":
        steps = params.getlist("step") + [s for listed in params.getlist("steps") for s in listed.split(",")]
        what = " → ".join(event_label(s.strip()) for s in steps if s.strip())
    else:
        what = f"{event_label(params.get('start_event'))}, then {event_label(params.get('return_event'))}"
    count_by = params.get("count_by") or "users"
    unit = "events" if count_by == "events" else f"by {count_by.removesuffix('s')}"
    start, end = params.get("from"), params.get("to")
    period = params.get("range") or ("custom" if start else DEFAULT_RANGE)
    when = RANGES.get(period, period) if period != "custom" else f"{start or '…'} to {end or 'today'}"
    return " · ".join(part for part in (what, unit, when) if part)
