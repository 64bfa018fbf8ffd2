"""What a report answers: plain numbers, whatever store computed them."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date

from analytics.reports.queries import Retention, event_label, next_bucket


@dataclass
class SeriesResult:
    label: str
    event: str
    values: list[int]
    total: int  # distinct over the whole period (not the sum of the points)
    breakdown_value: str | None = None  # None: not broken down; "" is "(none)"
    is_other: bool = False


@dataclass
class TrendResult:
    dates: list[date]
    series: list[SeriesResult]
    previous_dates: list[date] = field(default_factory=list)
    previous: list[SeriesResult] = field(default_factory=list)


@dataclass
class FunnelStep:
    event: str
    label: str
    count: int
    # Seconds from the first step to this one: the median, over the units that reached
    # it, of the quickest each did it (None for the first step).
    median_seconds: float | None = None


@dataclass
class FunnelResult:
    steps: list[FunnelStep]
    # The last step's ``median_seconds``: the median time to convert.
    median_seconds_to_convert: float | None = None

    @classmethod
    def of_units(cls, steps: tuple[str, ...], units) -> FunnelResult:
        """The result from each unit that did the first step: rows of (unit, the
        furthest step it reached from 1, then for each later step the quickest it was
        reached in milliseconds, or None), as the main database's funnel reads them."""
        reached = [0] * len(steps)
        quickest = [[] for _ in steps]
        for _unit, furthest, *ms in units:
            for i in range(furthest):
                reached[i] += 1
                if i and ms[i - 1] is not None:
                    quickest[i].append(ms[i - 1] / 1000)
        medians = [statistics.median(times) if times else None for times in quickest]
        return cls.of_counts(steps, reached, medians)

    @classmethod
    def of_middles(cls, steps: tuple[str, ...], reached: list[int], middles) -> FunnelResult:
        """The result from how many units reached each step, and for each later step the
        two middle values (lower and upper: one value twice when their number is odd) of
        the quickest each reached it in milliseconds, or None when none did, as
        ClickHouse works them out: their mean is the median ``of_units`` takes, to the
        last bit (the same two values, halved the same way)."""
        medians = [None] + [None if pair is None else (pair[0] / 1000 + pair[1] / 1000) / 2 for pair in middles]
        return cls.of_counts(steps, reached, medians)

    @classmethod
    def of_counts(cls, steps: tuple[str, ...], reached: list[int], medians: list) -> FunnelResult:
        found = [
            FunnelStep(event=step, label=event_label(step), count=reached[i], median_seconds=medians[i])
            for i, step in enumerate(steps)
        ]
        return cls(steps=found, median_seconds_to_convert=found[-1].median_seconds)

    @property
    def entered(self) -> int:
        return self.steps[0].count if self.steps else 0

    @property
    def converted(self) -> int:
        return self.steps[-1].count if self.steps else 0


@dataclass
class RetentionCohort:
    start: date
    size: int
    # Units back in period 1, 2, … after the cohort's; None for periods not over yet.
    returned: list[int | None]


@dataclass
class RetentionResult:
    cohorts: list[RetentionCohort]
    periods: int

    @classmethod
    def of_counts(cls, query: Retention, sizes: dict, back: dict, today: date) -> RetentionResult:
        """The result from {cohort: size} and {(cohort, bucket): units back}, as each
        store counts them; periods after ``today`` are not over yet (None)."""
        cohorts = []
        for first in query.period.buckets(query.interval):
            returned, bucket = [], first
            for _ in range(query.periods):
                bucket = next_bucket(bucket, query.interval)
                returned.append(back.get((first, bucket), 0) if bucket <= today else None)
            cohorts.append(RetentionCohort(first, sizes.get(first, 0), returned))
        return cls(cohorts=cohorts, periods=query.periods)


@dataclass
class ActiveGroupsResult:
    dates: list[date]
    strict: list[int]
    overcount: list[int]
    # Activity events in the period, and how many of them carried no group of the type.
    events: int = 0
    events_without_group: int = 0


@dataclass
class ActiveCount:
    """Who was active in the trailing ``days`` whole days ending today, in the workspace's
    time zone (``start`` to ``end``, today included; 1 day is today so far)."""

    days: int
    start: date
    end: date
    users: int | None  # None when not asked for (the groups' figures alone)
    # Groups of the type: strictly (their own context was on an event) and over-counted
    # (each event with none credited to every group its user was in at the time); None
    # when counting users only.
    strict: int | None = None
    overcount: int | None = None
    events: int = 0
    events_without_group: int = 0


@dataclass
class EventCount:
    """A report event (a track call's name, or every page or screen call), how many times
    it was done and by how many users."""

    event: str
    label: str
    events: int
    users: int
