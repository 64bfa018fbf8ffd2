"""The overview, the dashboard's landing page: who was active today, in the last 7 and
in the last 30 days (users, and groups of the default type strictly beside the
over-count), the events done most, the newest groups, and the saved reports pinned to
it, each with its chart.

Every figure comes with the address of the report that shows it, so the page links each
number to what is behind it. The page costs a fixed number of queries whatever the size
of the data; a pinned report costs what its own report costs.

The active groups' figures (``GroupFigures``) are also those of each group type's tab of
/groups (``active_groups``), and one template shows them on both pages.
"""

from dataclasses import dataclass, field, replace
from datetime import date
from urllib.parse import urlencode

from django.http import QueryDict

from analytics import event_store, reports
from analytics.charts import Chart, Series
from analytics.models import Group, GroupType, SavedReport, Workspace
from analytics.reports import RANGES, Period, ReportError, Trend
from analytics.reports.queries import Query, today_in
from analytics.reports.results import (
    ActiveCount,
    EventCount,
    FunnelResult,
    RetentionResult,
    TrendResult,
)
from analytics.templatetags.groupsite import MONTHS

WINDOWS = {1: "Today", 7: "Last 7 days", 30: "Last 30 days"}
TOP_EVENTS = 8
NEWEST_GROUPS = 8
MAX_PINNED = 12


def report_url(kind: str, query: Query) -> str:
    """The address of the report page that shows ``query``."""
    return f"/reports/{kind}?{urlencode(query.to_params())}"


@dataclass
class Figure:
    """One number of the figure cards, with the report that shows it."""

    label: str
    value: int
    url: str
    # Groups only: the figure when events without a group count for all their user's.
    overcount: int | None = None

    @property
    def overcounted(self) -> bool:
        return self.overcount is not None and self.overcount != self.value


@dataclass
class GroupFigures:
    """A group type's active groups today, over 7 and over 30 days, strictly beside the
    over-count, and the 30 days' events with how many carried none of its groups."""

    group_type: GroupType
    figures: list[Figure]
    month: ActiveCount

    @property
    def overcounted(self) -> bool:
        return any(figure.overcounted for figure in self.figures)

    @property
    def none_active(self) -> bool:
        """No group of the type was active in the 30 days, even over-counted: rather than
        a row of zeros, the page says why."""
        return not (self.month.strict or self.month.overcount)


@dataclass
class TopEvent:
    count: EventCount
    users_url: str  # a trend of the event counted by users (its name links there too)
    events_url: str  # the same, counted by events


@dataclass
class Pinned:
    """A saved report pinned to the overview: its chart and a few numbers, or why it
    cannot be shown any more (a group type it counts by was deleted, say)."""

    report: SavedReport
    chart: Chart | None = None
    summary: list[tuple[str, str]] = field(default_factory=list)
    error: str = ""


@dataclass
class Overview:
    has_events: bool
    group_type: GroupType | None
    # Whether who was active and the top events are counted: not when the page loads
    # them after itself (``activity_of``, ``top_events_of``), as counting them reads
    # the last 30 days.
    active: bool = True
    users: list[Figure] = field(default_factory=list)
    groups: GroupFigures | None = None
    # The widest window, for the lines on its events, and the trend that counts them.
    month: ActiveCount | None = None
    events_url: str = ""
    top_events: list[TopEvent] = field(default_factory=list)
    newest_groups: list[Group] = field(default_factory=list)
    pinned: list[Pinned] = field(default_factory=list)


def overview_of(workspace: Workspace, *, active: bool = True) -> Overview:
    """Everything the overview of ``workspace`` shows; without ``active``, all but who
    was active and the top events, which the page then loads after itself."""
    types = {t.name: t for t in workspace.group_types.with_has_activity()}
    group_type = next((t for t in types.values() if t.is_default), None)
    found = Overview(
        has_events=event_store.has_activity(workspace.pk),
        group_type=group_type,
        active=active,
    )
    if found.has_events and active:
        _add_activity(found, workspace)
    if group_type is not None:
        found.newest_groups = list(
            Group.objects.filter(group_type=group_type).order_by("-created_at", "-pk")[:NEWEST_GROUPS]
        )
    pinned = SavedReport.objects.for_workspace(workspace).pinned().select_related("created_by")
    found.pinned = [_pinned(workspace, saved, types) for saved in pinned[:MAX_PINNED]]
    return found


def activity_of(workspace: Workspace) -> Overview:
    """Who was active, as the overview loads it after itself."""
    group_type = workspace.group_types.with_has_activity().filter(is_default=True).first()
    found = Overview(has_events=True, group_type=group_type)
    _add_figures(found, workspace)
    return found


def top_events_of(workspace: Workspace) -> Overview:
    """The top events, as the overview loads them after itself, beside who was active
    (``activity_of``): two requests that a server answers side by side, so the page
    waits for the slower of the two rather than for both."""
    found = Overview(has_events=True, group_type=None)
    _add_top_events(found, workspace)
    return found


def _add_activity(found: Overview, workspace: Workspace) -> None:
    _add_figures(found, workspace)
    _add_top_events(found, workspace)


def _add_figures(found: Overview, workspace: Workspace) -> None:
    """The active users and groups (strict beside the over-count) today, over 7 and over
    30 days, each with its report, and the 30 days' events."""
    base = _reports_base(workspace)
    counts = reports.active_counts(workspace, found.group_type, WINDOWS)
    for count in counts:
        by_users = replace(base, period=_window(count), count_by="users")
        found.users.append(
            Figure(WINDOWS[count.days], count.users, report_url("trends", by_users))
        )
    if found.group_type is not None:
        found.groups = _group_figures(found.group_type, counts, base)
    found.month = counts[-1]
    found.events_url = report_url("trends", replace(base, count_by="events"))


def _add_top_events(found: Overview, workspace: Workspace) -> None:
    """The events done most in the 30 days, each with its trends (by users, by events)."""
    base = _reports_base(workspace)
    for event in reports.top_events(workspace, base, limit=TOP_EVENTS):
        one = replace(base, events=(event.event,))
        found.top_events.append(
            TopEvent(
                event,
                users_url=report_url("trends", replace(one, count_by="users")),
                events_url=report_url("trends", replace(one, count_by="events")),
            )
        )


def active_groups(workspace: Workspace, group_type: GroupType) -> GroupFigures:
    """The active groups of ``group_type`` today, over 7 and over 30 days (strictly beside
    the over-count), each with the trend that gives it: three queries. ``group_type``
    comes annotated ``with_has_activity``, for what the page says when none was active."""
    counts = reports.active_counts(workspace, group_type, WINDOWS, users=False)
    return _group_figures(group_type, counts, _reports_base(workspace))


def _reports_base(workspace: Workspace) -> Trend:
    """The report behind the figures: any event, by day over the 30 days ending today,
    without whom reports leave out."""
    return Trend(
        period=Period.preset_ending("30d", today_in(workspace)),
        exclude_internal=bool(workspace.internal_domains),
    )


def _window(count: ActiveCount) -> Period:
    """The days of a figure as a report's period ("7d", or today alone)."""
    preset = f"{count.days}d"
    return Period(count.start, count.end, preset if preset in RANGES else "custom")


def _group_figures(group_type: GroupType, counts: list[ActiveCount], base: Trend) -> GroupFigures:
    figures = []
    for count in counts:
        by_groups = replace(base, period=_window(count), count_by=group_type.name)
        figures.append(
            Figure(WINDOWS[count.days], count.strict, report_url("trends", by_groups), count.overcount)
        )
    return GroupFigures(group_type, figures, counts[-1])


# Pinned reports: each kind's answer as a chart and a few numbers.

ANSWERS = {"trends": reports.trends, "funnels": reports.funnel, "retention": reports.retention}


def _pinned(workspace: Workspace, saved: SavedReport, types: dict[str, GroupType]) -> Pinned:
    try:
        query = reports.FROM_PARAMS[saved.kind](workspace, QueryDict(saved.query))
        result = ANSWERS[saved.kind](workspace, query)
    except ReportError as error:
        return Pinned(saved, error=str(error))
    unit = _unit(query.count_by, types)
    chart_id = f"pinned-report-{saved.pk}"
    if isinstance(result, TrendResult):
        return _trend(saved, result, query.interval, unit, chart_id)
    if isinstance(result, FunnelResult):
        return _funnel(saved, result, unit, chart_id)
    return _retention(saved, result, query.interval, unit, chart_id)


def _unit(count_by: str, types: dict[str, GroupType]) -> tuple[str, str]:
    """What the report counts, in the singular and the plural."""
    if count_by in types:
        return types[count_by].singular.lower(), types[count_by].plural.lower()
    return count_by.removesuffix("s"), count_by  # users or events


def _counted(n: int, unit: tuple[str, str]) -> str:
    return f"{n:,} {unit[0] if n == 1 else unit[1]}"


def _percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _day(day: date, interval: str, *, year: bool) -> str:
    """A point of a chart: "Mar 9" (a day, or the Monday of a week), "Mar 2026"."""
    if interval == "month":
        return f"{MONTHS[day.month - 1]} {day.year}"
    text = f"{MONTHS[day.month - 1]} {day.day}"
    return f"{text}, {day.year}" if year else text


def _trend(
    saved, result: TrendResult, interval: str, unit: tuple[str, str], chart_id: str
) -> Pinned:
    series = [Series(s.label, s.values) for s in result.series]
    series += [Series(f"{s.label} (previous period)", s.values, dashed=True) for s in result.previous]
    years = bool(result.dates) and result.dates[0].year != result.dates[-1].year
    labels = [_day(day, interval, year=years) for day in result.dates]
    chart = Chart(chart_id, saved.name, labels, series)
    summary = [(s.label, _counted(s.total, unit)) for s in result.series]
    return Pinned(saved, chart, summary)


def _funnel(saved, result: FunnelResult, unit: tuple[str, str], chart_id: str) -> Pinned:
    counts = [step.count for step in result.steps]
    chart = Chart(
        chart_id, saved.name, [step.label for step in result.steps],
        [Series(unit[1].capitalize(), counts)], kind="bar",
    )
    converted = _percent(result.converted, result.entered)
    summary = [
        ("Entered", _counted(result.entered, unit)),
        ("Converted", f"{result.converted:,}" + (f" ({converted:g}%)" if converted is not None else "")),
    ]
    return Pinned(saved, chart, summary)


def _retention(
    saved, result: RetentionResult, interval: str, unit: tuple[str, str], chart_id: str
) -> Pinned:
    """The retention curve: of every cohort whose period k is over, the share back in it."""
    values = []
    for k in range(result.periods + 1):
        known = [c for c in result.cohorts if k == 0 or c.returned[k - 1] is not None]
        size = sum(c.size for c in known)
        back = size if k == 0 else sum(c.returned[k - 1] for c in known)
        values.append(_percent(back, size))
    labels = [f"{interval.capitalize()} {k}" for k in range(result.periods + 1)]
    chart = Chart(chart_id, saved.name, labels, [Series("Retained", values)], percent=True)
    started = sum(c.size for c in result.cohorts)
    summary = [("Started", _counted(started, unit))]
    if result.periods and values[1] is not None:
        summary.append((f"Back after 1 {interval}", f"{values[1]:g}%"))
    return Pinned(saved, chart, summary)
