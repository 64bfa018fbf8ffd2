"""What a report's scope is, whichever store answers it: its workspace, its unit (users,
groups of a type, or events) and its cohort, checked against the workspace."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from analytics.models import Cohort, GroupType, Workspace
from analytics.reports.queries import (
    ActiveGroups,
    Period,
    Query,
    ReportError,
    Trend,
    bucket_of,
    next_bucket,
    today_in,
)


@dataclass
class QueryScope:
    """A query in one workspace, with what it counts; each store's ``Scope`` reads its
    events."""

    workspace: Workspace
    query: Query

    def __post_init__(self):
        self.types = {t.name: t for t in self.workspace.group_types.all()}
        self.zone = self.workspace.zone
        unit = self.query.count_by
        self.group_type: GroupType | None = self.types.get(unit)
        if unit not in ("users", "events") and self.group_type is None:
            raise ReportError(f"This workspace has no group type “{unit}”.")
        self.cohort: Cohort | None = None
        if self.query.cohort:
            self.cohort = (
                Cohort.objects.select_related("workspace", "group_type")
                .filter(workspace=self.workspace, pk=self.query.cohort)
                .first()
            )
            if self.cohort is None:
                raise ReportError(
                    f"No cohort with the number {self.query.cohort} in this workspace."
                )

    @property
    def unit_field(self) -> str | None:
        """The column whose distinct values are counted; None counts events."""
        if self.group_type:
            return f"{self.group_type.slot_field}_id"
        return "person_id" if self.query.count_by == "users" else None

    # Which point of a report the people or groups behind it are asked of: the same
    # checks whichever store answers.

    def check_trend_point(self, series: int) -> None:
        if self.unit_field is None:
            raise ReportError(
                "A count of events has no people or groups behind it; count users or groups."
            )
        query = self.query
        if not 0 <= series < len(query.events) or (query.breakdown and series != 0):
            raise ReportError(f"series must be one of the report's series, from 0; not {series}.")

    def check_funnel_step(self, step: int, dropped: bool) -> None:
        self.check_counts_units("A funnel counts users or groups, not events.")
        steps = len(self.query.steps)
        if not 1 <= step <= steps or (dropped and step == 1):
            raise ReportError(f"step must be between {2 if dropped else 1} and {steps}; not {step}.")

    def check_retention_cell(self, cohort: date, period: int) -> None:
        query = self.query
        if cohort not in query.period.buckets(query.interval):
            raise ReportError(f"{cohort} is not the first day of a cohort of this report.")
        if not 0 <= period <= query.periods:
            raise ReportError(f"period must be between 0 and {query.periods}; not {period}.")

    def check_counts_units(self, message: str) -> None:
        """ReportError(``message``) for a report that counts events, where it must count
        users or groups."""
        if self.unit_field is None:
            raise ReportError(message)


def as_date(value) -> date:
    """A bucket's first day from what the database returns for a truncated moment."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def count_by_bucket(rows: Iterable[tuple], dates: list[date]) -> list[int]:
    counts = {as_date(bucket): n for bucket, n in rows}
    return [counts.get(day, 0) for day in dates]


def point_bounds(scope: QueryScope, query: Trend | ActiveGroups, day: date):
    """The UTC bounds of the chart point holding ``day``: its day, week or month, cut
    to the report's period; ReportError if ``day`` is outside the period."""
    first = bucket_of(day, query.interval)
    last = next_bucket(first, query.interval) - timedelta(days=1)
    point = Period(max(first, query.period.start), min(last, query.period.end))
    if point.end < point.start:
        raise ReportError(f"{day} is outside the report's period.")
    return point.bounds(scope.zone)


def trailing_windows(
    workspace: Workspace, group_type: GroupType | None, days: Iterable[int]
) -> tuple[list[int], dict[int, Period], ActiveGroups]:
    """What ``active_counts`` counts, on either store: its windows of whole days (sorted,
    once each), each window's period ending today in the workspace's time zone, and the
    query of the widest, counting users or ``group_type``'s groups, leaving internal
    people out when the workspace has internal domains."""
    today = today_in(workspace)
    windows = sorted(set(days))
    periods = {n: Period(today - timedelta(days=n - 1), today) for n in windows}
    query = ActiveGroups(
        period=periods[windows[-1]],
        count_by=group_type.name if group_type else "users",
        exclude_internal=bool(workspace.internal_domains),
    )
    return windows, periods, query
