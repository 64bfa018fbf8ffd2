"""What a report asks: its parameters, read from a URL's query string and written back.

A query is plain data — no SQL here. ``analytics.reports.sql`` answers queries from the
database the models live in; another event store can answer the same queries later.
Every setting of a report page is in its URL, so ``to_params`` writes back exactly what
``from_params`` reads, and a saved report is its query string.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import ClassVar

from django.http import QueryDict
from django.utils import timezone

from analytics.ingestion.calls import EARLIEST
from analytics.models import GroupType, Workspace

# How a report event is named, and the operators of filters, are the models', which
# cohorts share; event_label stays importable from here.
from analytics.models import event_label as event_label
from analytics.models.properties import NEEDS_VALUE, OPERATORS


class ReportError(ValueError):
    """A parameter that makes no report; its message says which and why."""


INTERVALS = ("day", "week", "month")
RANGES = {
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "this_month": "This month",
    "last_month": "Last month",
    "custom": "Custom",
}
DEFAULT_RANGE = "30d"
# The longest range a report reads, and the most points a chart draws.
MAX_DAYS = 3 * 366
MAX_BUCKETS = 800
MAX_FILTERS = 20
# The days a report may name: no event is older than the first, and the last leaves room
# for what a report reads past its period (a funnel's window, retention's periods).
FIRST_DAY = EARLIEST.date()
LAST_DAY = date(2999, 12, 31)


@dataclass(frozen=True)
class Period:
    """Whole days, ``start`` to ``end`` included, in the workspace's time zone."""

    start: date
    end: date
    preset: str = "custom"

    @classmethod
    def preset_ending(cls, preset: str, today: date) -> Period:
        if preset.endswith("d"):
            return cls(today - timedelta(days=int(preset[:-1]) - 1), today, preset)
        first = today.replace(day=1)
        if preset == "last_month":
            first = (first - timedelta(days=1)).replace(day=1)
        last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
        return cls(first, min(last, today), preset)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> Period:
        """The period of the same length just before this one."""
        return Period(self.start - timedelta(days=self.days), self.start - timedelta(days=1))

    def bounds(self, zone) -> tuple[datetime, datetime]:
        """The first moment of ``start`` and the first moment after ``end``, in UTC."""
        return first_moment(self.start, zone), first_moment(self.end + timedelta(days=1), zone)

    def buckets(self, interval: str) -> list[date]:
        """The first day of every day, ISO week (Monday) or month the period touches."""
        first = bucket_of(self.start, interval)
        found = []
        while first <= self.end:
            found.append(first)
            first = next_bucket(first, interval)
        return found

    def to_params(self) -> dict[str, str]:
        if self.preset != "custom":
            return {"range": self.preset}
        return {"range": "custom", "from": self.start.isoformat(), "to": self.end.isoformat()}


def first_moment(day: date, zone) -> datetime:
    """The first moment of ``day`` in ``zone``, in UTC: its midnight, or where the clocks
    skip midnight, the moment they skip to."""
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def bucket_of(day: date, interval: str) -> date:
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def next_bucket(first: date, interval: str) -> date:
    if interval == "week":
        return first + timedelta(days=7)
    if interval == "month":
        return (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first + timedelta(days=1)


def today_in(workspace: Workspace) -> date:
    return timezone.now().astimezone(workspace.zone).date()


@dataclass(frozen=True)
class Filter:
    """A condition on an event property (``on="event"``), a person trait (``"person"``)
    or a property of the event's group of a type (``on=<type name>``)."""

    on: str
    key: str
    op: str
    value: str = ""

    # The operators of cohorts' conditions too (analytics.models.properties).
    OPERATORS: ClassVar[dict[str, str]] = OPERATORS
    NEEDS_VALUE: ClassVar[set[str]] = NEEDS_VALUE

    @property
    def number(self) -> float:
        return float(self.value)

    def describe(self, workspace_types: dict[str, GroupType]) -> str:
        where = {"event": "Event", "person": "Person"}.get(self.on)
        if where is None:
            where = workspace_types[self.on].singular
        shown = f" {self.value}" if self.op in self.NEEDS_VALUE else ""
        return f"{where} {self.key} {self.OPERATORS[self.op]}{shown}"


@dataclass(frozen=True)
class Query:
    """What every report shares: its period, filters, who is left out, and its unit."""

    period: Period
    count_by: str = "users"  # "users", a group type's name, or (Trends only) "events"
    filters: tuple[Filter, ...] = ()
    exclude_internal: bool = True
    cohort: int | None = None

    COUNT_EVENTS: ClassVar[bool] = False

    def common_params(self) -> list[tuple[str, str]]:
        params = list(self.period.to_params().items())
        params.append(("count_by", self.count_by))
        for condition in self.filters:
            params += [
                ("where", condition.on),
                ("key", condition.key),
                ("op", condition.op),
                ("value", condition.value),
            ]
        params.append(("internal", "exclude" if self.exclude_internal else "include"))
        if self.cohort:
            params.append(("cohort", str(self.cohort)))
        return params


@dataclass(frozen=True)
class Trend(Query):
    events: tuple[str, ...] = ("",)  # "" is any event
    interval: str = "day"
    breakdown_on: str = ""  # "event", "person", a group type's name, or "" for none
    breakdown: str = ""
    compare: bool = False

    COUNT_EVENTS: ClassVar[bool] = True
    KIND: ClassVar[str] = "trends"

    def to_params(self) -> list[tuple[str, str]]:
        params = [("event", event) for event in self.events]
        params += [("interval", self.interval)] + self.common_params()
        if self.breakdown:
            params += [("breakdown_on", self.breakdown_on), ("breakdown", self.breakdown)]
        if self.compare:
            params.append(("compare", "1"))
        return params


@dataclass(frozen=True)
class Funnel(Query):
    steps: tuple[str, ...] = ()
    window_days: int = 14

    KIND: ClassVar[str] = "funnels"
    MIN_STEPS: ClassVar[int] = 2
    MAX_STEPS: ClassVar[int] = 10
    MAX_WINDOW_DAYS: ClassVar[int] = 180

    def to_params(self) -> list[tuple[str, str]]:
        return [("step", step) for step in self.steps] + [
            ("window", str(self.window_days)),
            *self.common_params(),
        ]


@dataclass(frozen=True)
class Retention(Query):
    start_event: str = ""  # "" is any event
    return_event: str = ""
    interval: str = "week"
    periods: int = 8

    KIND: ClassVar[str] = "retention"
    MAX_PERIODS: ClassVar[int] = 36

    def to_params(self) -> list[tuple[str, str]]:
        return [
            ("start_event", self.start_event),
            ("return_event", self.return_event),
            ("interval", self.interval),
            ("periods", str(self.periods)),
            *self.common_params(),
        ]


@dataclass(frozen=True)
class ActiveGroups(Query):
    """Active groups of the type ``count_by``: strict beside the over-count."""

    interval: str = "day"

    KIND: ClassVar[str] = "active-groups"

    def to_params(self) -> list[tuple[str, str]]:
        params = [(k, v) for k, v in self.common_params() if k != "count_by"]
        return [("type", self.count_by), ("interval", self.interval), *params]


# Reading queries from a query string.


@dataclass
class _Reader:
    """Reads one query string, with the workspace it is about, into a query's fields."""

    workspace: Workspace
    params: QueryDict
    types: dict[str, GroupType] = field(init=False)

    def __post_init__(self):
        self.types = {t.name: t for t in self.workspace.group_types.all()}

    def one(self, name: str, default: str = "") -> str:
        values = self.params.getlist(name)
        if len(values) > 1:
            raise ReportError(f"{name} is given {len(values)} times; give it once.")
        return values[0].strip() if values else default

    def choice(self, name: str, choices, default: str) -> str:
        value = self.one(name) or default
        if value not in choices:
            raise ReportError(f"{name} must be one of {', '.join(choices)}; not “{value}”.")
        return value

    def whole(self, name: str, default: int, low: int, high: int) -> int:
        text = self.one(name)
        if not text:
            return default
        try:
            value = int(text)
        except ValueError:
            raise ReportError(f"{name} must be a whole number; not “{text}”.") from None
        if not low <= value <= high:
            raise ReportError(f"{name} must be between {low} and {high}; not {value}.")
        return value

    def day(self, name: str) -> date | None:
        text = self.one(name)
        if not text:
            return None
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise ReportError(f"{name} must be a date such as 2026-01-31; not “{text}”.") from None
        if not FIRST_DAY <= day <= LAST_DAY:
            raise ReportError(f"{name} must be between {FIRST_DAY} and {LAST_DAY}; not {day}.")
        return day

    def period(self) -> Period:
        start, end = self.day("from"), self.day("to")
        preset = self.one("range") or ("custom" if start or end else DEFAULT_RANGE)
        if preset not in RANGES:
            raise ReportError(f"range must be one of {', '.join(RANGES)}; not “{preset}”.")
        today = today_in(self.workspace)
        if preset != "custom":
            return Period.preset_ending(preset, today)
        if start is None:
            raise ReportError("from is needed with a custom range: the first day, as 2026-01-31.")
        end = end or today
        if end < start:
            raise ReportError(f"to ({end}) is before from ({start}).")
        if (end - start).days + 1 > MAX_DAYS:
            raise ReportError(f"A report covers at most {MAX_DAYS} days; this asks for {(end - start).days + 1}.")
        return Period(start, end)

    def group_type(self, name: str, value: str) -> GroupType:
        if value not in self.types:
            known = ", ".join(self.types) or "none yet"
            raise ReportError(f"{name}: this workspace has no group type “{value}” (it has {known}).")
        return self.types[value]

    def count_by(self, *, events_allowed: bool) -> str:
        value = self.one("count_by") or "users"
        if value == "users" or (events_allowed and value == "events"):
            return value
        if value == "events":
            raise ReportError("count_by=events is for Trends; count users or groups here.")
        self.group_type("count_by", value)
        return value

    def filters(self) -> tuple[Filter, ...]:
        lists = {name: self.params.getlist(name) for name in ("where", "key", "op", "value")}
        if len({len(values) for values in lists.values()}) > 1:
            counts = ", ".join(f"{len(v)} {name}" for name, v in lists.items())
            raise ReportError(
                f"Each filter needs where, key, op and value (value may be empty); got {counts}."
            )
        found = []
        for on, key, op, value in zip(*lists.values()):
            on, key, value = on.strip(), key.strip(), value.strip()
            if not on and not key:
                continue  # an empty row of the form
            if on not in ("event", "person"):
                self.group_type("where", on)
            if not key:
                raise ReportError(f"A filter on {on} needs a key: the property to look at.")
            if op not in Filter.OPERATORS:
                raise ReportError(f"op must be one of {', '.join(Filter.OPERATORS)}; not “{op}”.")
            if op in Filter.NEEDS_VALUE and value == "":
                raise ReportError(f"The filter on {key} needs a value to compare with.")
            if op in ("gt", "lt"):
                try:
                    float(value)
                except ValueError:
                    raise ReportError(
                        f"The filter on {key} compares numbers; “{value}” is not one."
                    ) from None
            found.append(Filter(on, key, op, value if op in Filter.NEEDS_VALUE else ""))
        if len(found) > MAX_FILTERS:
            raise ReportError(f"A report has at most {MAX_FILTERS} filters; {len(found)} were given.")
        return tuple(found)

    def exclude_internal(self) -> bool:
        default = "exclude" if self.workspace.internal_domains else "include"
        return self.choice("internal", ("exclude", "include"), default) == "exclude"

    def cohort(self) -> int | None:
        text = self.one("cohort")
        if not text:
            return None
        if not (text.isascii() and text.isdigit() and len(text) <= 18):
            raise ReportError(f"cohort must be a saved cohort's number; not “{text}”.")
        return int(text)

    def common(self, *, events_allowed=False) -> dict:
        return {
            "period": self.period(),
            "count_by": self.count_by(events_allowed=events_allowed),
            "filters": self.filters(),
            "exclude_internal": self.exclude_internal(),
            "cohort": self.cohort(),
        }

    def event(self, name: str) -> str:
        value = self.one(name)
        if len(value) > 255:
            raise ReportError(f"{name} is longer than an event name can be (255 characters).")
        return value


def _check_buckets(period: Period, interval: str):
    if len(period.buckets(interval)) > MAX_BUCKETS:
        raise ReportError(
            f"{period.days} days by {interval} is more points than a chart can show "
            f"({MAX_BUCKETS}); choose a longer interval or a shorter range."
        )


def trend_from_params(workspace: Workspace, params: QueryDict) -> Trend:
    reader = _Reader(workspace, params)
    common = reader.common(events_allowed=True)
    events = tuple(e.strip() for e in params.getlist("event")) or ("",)
    if len(events) > 10:
        raise ReportError(f"A trend shows at most 10 series; {len(events)} were given.")
    interval = reader.choice("interval", INTERVALS, "day")
    _check_buckets(common["period"], interval)
    breakdown_on, breakdown = reader.one("breakdown_on"), reader.one("breakdown")
    if breakdown:
        breakdown_on = breakdown_on or "event"
        if breakdown_on not in ("event", "person"):
            reader.group_type("breakdown_on", breakdown_on)
    else:
        breakdown_on = ""
    if breakdown and len(events) > 1:
        raise ReportError("A breakdown splits one series; remove the other events or the breakdown.")
    compare = reader.one("compare") in ("1", "on", "true")
    return Trend(
        events=events,
        interval=interval,
        breakdown_on=breakdown_on,
        breakdown=breakdown,
        compare=compare,
        **common,
    )


def funnel_from_params(workspace: Workspace, params: QueryDict) -> Funnel:
    reader = _Reader(workspace, params)
    steps = [s.strip() for s in params.getlist("step")]
    for listed in params.getlist("steps"):
        steps += [s.strip() for s in listed.split(",")]
    steps = [s for s in steps if s]
    if not Funnel.MIN_STEPS <= len(steps) <= Funnel.MAX_STEPS:
        raise ReportError(
            f"A funnel has {Funnel.MIN_STEPS} to {Funnel.MAX_STEPS} steps; {len(steps)} were given."
        )
    window = reader.whole("window", 14, 1, Funnel.MAX_WINDOW_DAYS)
    return Funnel(steps=tuple(steps), window_days=window, **reader.common())


def retention_from_params(workspace: Workspace, params: QueryDict) -> Retention:
    reader = _Reader(workspace, params)
    interval = reader.choice("interval", INTERVALS, "week")
    return Retention(
        start_event=reader.event("start_event"),
        return_event=reader.event("return_event"),
        interval=interval,
        periods=reader.whole("periods", {"day": 14, "week": 8, "month": 6}[interval], 1, Retention.MAX_PERIODS),
        **reader.common(),
    )


def active_groups_from_params(workspace: Workspace, params: QueryDict) -> ActiveGroups:
    reader = _Reader(workspace, params)
    name = reader.one("type") or (workspace.default_group_type.name if reader.types else "")
    reader.group_type("type", name)
    interval = reader.choice("interval", INTERVALS, "day")
    common = reader.common()
    _check_buckets(common["period"], interval)
    return ActiveGroups(interval=interval, **{**common, "count_by": name})


def with_period(query: Query, period: Period) -> Query:
    return replace(query, period=period)
