"""The events a workspace has seen and sends most, and how many a report left out."""

from __future__ import annotations

from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    Value,
    When,
)

from analytics.models import (
    PAGE_EVENT,
    SCREEN_EVENT,
    Event,
    EventName,
    EventType,
    Person,
    Workspace,
    events_q,
)
from analytics.reports.queries import (
    Funnel,
    Period,
    Query,
    Retention,
    Trend,
    event_label,
)
from analytics.reports.results import (
    EventCount,
)
from analytics.reports.sql.scope import Scope


def events_without_group(workspace: Workspace, query: Query) -> int | None:
    """How many of the activity events a report reads (its events, in its period, with
    its filters, without internal people) carried no group of the type it counts by, and
    so were not counted; None when it counts users or events."""
    scope = Scope(workspace, query)
    if scope.group_type is None:
        return None
    named = _named_events(query)
    if named == {""} and scope.reads_days:
        first = query.period.start
        return scope.activity_totals([first], query.period.end)[first][1]
    wanted = events_q(named)
    start, end = query.period.bounds(scope.zone)
    return (
        scope.events(None, start=start, end=end, counted=False)
        .filter(wanted, **{f"{scope.group_type.slot_field}__isnull": True})
        .count()
    )


def _named_events(query: Query) -> set[str]:
    """The events a report reads ("" for any)."""
    if isinstance(query, Trend):
        return set(query.events)
    if isinstance(query, Funnel):
        return set(query.steps)
    if isinstance(query, Retention):
        return {query.start_event, query.return_event}
    return {""}


def most_sent_events(
    workspace: Workspace, period: Period, *, limit: int, sample: int = 10_000
) -> list[str]:
    """The track calls' names sent most often in ``period``, most first, counted among
    its latest ``sample`` track calls (read backwards along the workspace's time index),
    so that the answer costs the same in a workspace of any size."""
    start, end = period.bounds(workspace.zone)
    latest = (
        Event.objects.filter(workspace=workspace, type=EventType.TRACK)
        .between(start, end)
        .order_by("-timestamp")
        .values("pk")[:sample]
    )
    return list(
        Event.objects.filter(pk__in=latest)
        .values("name")
        .annotate(n=Count("id"))
        .order_by("-n", "name")
        .values_list("name", flat=True)[:limit]
    )


def internal_people_count(workspace: Workspace) -> int:
    """How many people are at the workspace's internal domains (whom reports leave out
    unless asked to include them); no query for a workspace without any."""
    return Person.objects.internal(workspace).count()


def event_names(workspace: Workspace) -> list[str]:
    """The report events seen in the workspace, track calls' names first (by name), then
    page and screen calls if any were sent."""
    names = EventName.objects.filter(workspace=workspace).values_list("name", flat=True)
    return sorted(names, key=lambda name: (name in (PAGE_EVENT, SCREEN_EVENT), name))


def top_events(workspace: Workspace, query: Query, *, limit: int = 10) -> list[EventCount]:
    """The report events done most in the query's period, passing its filters: each track
    call's name, and page and screen calls as one event each, with how many times and by
    how many users; the most done first. One query."""
    scope = Scope(workspace, query)
    start, end = query.period.bounds(scope.zone)
    event = Case(
        When(type=EventType.PAGE, then=Value(PAGE_EVENT)),
        When(type=EventType.SCREEN, then=Value(SCREEN_EVENT)),
        default=F("name"),
        output_field=CharField(),
    )
    rows = (
        scope.events(None, start=start, end=end, counted=False)
        .annotate(event=event)
        .values("event")
        .annotate(n=Count("id"), users=Count("person_id", distinct=True))
        .order_by("-n", "event")
        .values_list("event", "n", "users")[:limit]
    )
    return [EventCount(name, event_label(name), n, users) for name, n, users in rows]
