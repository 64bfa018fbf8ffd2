"""The report pages' answers, laid out: words for dates, periods and units, and for each
report (Trends, Funnels, Retention) the numbers its template and its CSV file show.
The classes only arrange what ``analytics.reports`` answered; they never query the
database. The views (``analytics.views.reports``) build them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from itertools import zip_longest
from urllib.parse import urlencode

from django.urls import reverse

from analytics import reports
from analytics.charts import Chart, Series
from analytics.models import Workspace
from analytics.reports import Funnel, Period, Retention, Trend, event_label
from analytics.templatetags.groupsite import MONTHS, WEEKDAYS, count

ACTORS_PER_PAGE = 50
MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip


# --- Words for dates, periods and units -----------------------------------------------


def day_text(day: date, *, year: bool) -> str:
    """ "Jan 6", or with the year "Jan 6, 2026"."""
    text = f"{MONTHS[day.month - 1]} {day.day}"
    return f"{text}, {day.year}" if year else text


def years_differ(days: list[date]) -> bool:
    """Whether dates of a table span years: then each says its year (else the period
    above the table says it once)."""
    return bool(days) and days[0].year != days[-1].year


def bucket_text(day: date, interval: str, *, year: bool) -> str:
    """A bucket of a report as its table's first column says it."""
    if interval == "week":
        return f"Week of {day_text(day, year=year)}"
    if interval == "month":
        return f"{MONTH_NAMES[day.month - 1]} {day.year}"
    return f"{WEEKDAYS[day.weekday()]}, {day_text(day, year=year)}"


def bucket_phrase(day: date, interval: str) -> str:
    """ "on Tue, Jan 6, 2026", "in the week of Jan 5, 2026", "in January 2026"."""
    if interval == "week":
        return f"in the week of {day_text(day, year=True)}"
    if interval == "month":
        return f"in {MONTH_NAMES[day.month - 1]} {day.year}"
    return f"on {WEEKDAYS[day.weekday()]}, {day_text(day, year=True)}"


def chart_label(day: date, interval: str, *, year: bool) -> str:
    if interval == "month":
        return f"{MONTHS[day.month - 1]} {day.year}"
    return day_text(day, year=year)


def period_text(period: Period) -> str:
    """ "Jan 6 – Feb 4, 2026"; "Dec 20, 2025 – Jan 5, 2026"; "Jan 6, 2026"."""
    if period.start == period.end:
        return day_text(period.start, year=True)
    if period.start.year == period.end.year:
        return f"{day_text(period.start, year=False)} – {day_text(period.end, year=True)}"
    return f"{day_text(period.start, year=True)} – {day_text(period.end, year=True)}"


def period_phrase(period: Period) -> str:
    """How an empty state names the period: "in the last 30 days", "this month"…"""
    if period.preset.endswith("d"):
        return f"in the last {period.preset[:-1]} days"
    if period.preset == "this_month":
        return "this month"
    if period.preset == "last_month":
        return "last month"
    return f"from {period_text(period)}"


def percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


@dataclass
class Unit:
    """What a report counts, in words: users, a group type's groups, or events."""

    singular: str
    plural: str
    group_type: object = None

    do_not_call_in_templates = True  # a template reads its names; Python calls it

    @classmethod
    def of(cls, query, types: dict) -> Unit:
        if query.count_by == "users":
            return cls("user", "users")
        if query.count_by == "events":
            return cls("event", "events")
        group_type = types[query.count_by]
        return cls(group_type.singular.lower(), group_type.plural.lower(), group_type)

    def __call__(self, n: int) -> str:
        return count(n, self.singular, self.plural)


@dataclass
class Cell:
    """A number of a report's table, and the list of who it counts (None: no list)."""

    value: int | None
    href: str | None = None
    percent: float | None = None

    @property
    def shade(self) -> int:
        """0–10: how dark a retention cell is shaded."""
        return round((self.percent or 0) / 10)


# --- The pages' answers, laid out -----------------------------------------------------


class ReportPage:
    """What every report page shows besides its own table: its title, the words for
    its unit and period, and links behind its numbers."""

    kind = ""

    def __init__(self, workspace: Workspace, query, result, *, types: dict):
        self.workspace = workspace
        self.query = query
        self.result = result
        self.types = types
        self.unit = Unit.of(query, types)
        self.params = query.to_params()
        self.query_string = urlencode(self.params)

    @property
    def group_type(self):
        return self.unit.group_type

    @cached_property
    def _actors_base(self) -> str:
        return f"{reverse('report-actors', args=[self.kind])}?{self.query_string}"

    def actors_url(self, *which: tuple[str, object]) -> str | None:
        """The list behind a number: the report's parameters, then the number's."""
        if self.query.count_by == "events":
            return None  # a count of events has no people or groups behind it
        return f"{self._actors_base}&{urlencode([(name, str(value)) for name, value in which])}"

    def url_with(self, **changes) -> str:
        """This report with some parameters changed, or taken out (None)."""
        drop = set(changes) | ({"from", "to"} if "range" in changes else set())
        params = [(n, v) for n, v in self.params if n not in drop]
        params += [(n, v) for n, v in changes.items() if v is not None]
        return f"{reverse(f'report-{self.kind}')}?{urlencode(params)}"

    @property
    def users_url(self) -> str:
        return self.url_with(count_by="users")

    @property
    def naming(self) -> str:
        """ " naming a company" when counted by a group type."""
        return f" naming a {self.unit.singular}" if self.group_type is not None else ""

    empty_hint = (
        "Events show up here seconds after your product sends them. Check the dates and "
        "the filters, or try one of these:"
    )

    def suggestions(self) -> list[tuple[str, str]]:
        """What to try when a report finds nothing: (label, link)."""
        found = []
        if self.query.period.days < 90:
            found.append(("Look at the last 90 days", self.url_with(range="90d")))
        if self.group_type is not None:
            found.append(("Count users instead", self.url_with(count_by="users")))
        if self.query.filters:
            found.append(("Remove the filters", self.url_with(where=None, key=None, op=None, value=None)))
        if self.query.exclude_internal and self.workspace.internal_domains:
            found.append(("Include internal people", self.url_with(internal="include")))
        return found

    @property
    def period_text(self) -> str:
        return period_text(self.query.period)

    @property
    def period_phrase(self) -> str:
        return period_phrase(self.query.period)

    @property
    def filename(self) -> str:
        period = self.query.period
        return f"{self.kind}-{period.start.isoformat()}-to-{period.end.isoformat()}.csv"


class TrendPage(ReportPage):
    kind = Trend.KIND

    @property
    def title(self) -> str:
        query = self.query
        labels = [event_label(event) for event in query.events]
        if query.count_by == "events":
            what = "Events" if labels == ["Any event"] else f"{' vs. '.join(labels)} events"
        elif labels == ["Any event"]:
            what = f"Active {self.unit.plural}"
        else:
            named = " vs. ".join(label if label != "Any event" else "any event" for label in labels)
            what = f"{self.unit.plural.capitalize()} doing {named}"
        title = f"{what}, per {query.interval}"
        if query.breakdown:
            title += f", by {query.breakdown}"
        return title

    @property
    def empty(self) -> bool:
        return not any(s.total for s in self.result.series + self.result.previous)

    @property
    def empty_heading(self) -> str:
        named = [event_label(e) for e in self.query.events if e]
        what = "events" if len(named) < len(self.query.events) else f"{' or '.join(named)} events"
        return f"No {what}{self.naming} {self.period_phrase}"

    @property
    def labels(self) -> list[str]:
        """The columns of the series: an event, or a breakdown's value."""
        return [series.label for series in self.result.series]

    def _which(self, index: int, series) -> list[tuple[str, object]]:
        if series.is_other:
            return [("series", 0), ("other", 1)]
        if series.breakdown_value is not None:
            return [("series", 0), ("breakdown_value", series.breakdown_value)]
        return [("series", index)]

    @cached_property
    def rows(self) -> list[dict]:
        """One row per date: its cells for each series, then the previous period's."""
        result = self.result
        interval = self.query.interval
        year = years_differ(result.dates) or years_differ(result.previous_dates)
        if result.previous_dates:
            year = year or result.previous_dates[0].year != result.dates[-1].year
        rows = []
        for i, pair in enumerate(zip_longest(result.dates, result.previous_dates)):
            day, before = pair
            cells = []
            if day is not None:
                for n, series in enumerate(result.series):
                    cells.append(Cell(series.values[i], self.actors_url(*self._which(n, series), ("date", day))))
            else:
                cells = [Cell(None) for _ in result.series]
            previous = []
            if before is not None:
                for n, series in enumerate(result.previous):
                    href = self.actors_url(*self._which(n, series), ("date", before), ("previous", 1))
                    previous.append(Cell(series.values[i], href))
            elif self.query.compare:
                previous = [Cell(None) for _ in result.previous]
            rows.append(
                {
                    "date": day,
                    "label": bucket_text(day, interval, year=year) if day else "",
                    "cells": cells,
                    "previous_date": before,
                    "previous_label": bucket_text(before, interval, year=year) if before else "",
                    "previous": previous,
                }
            )
        return rows

    @property
    def totals(self) -> list[int]:
        return [series.total for series in self.result.series]

    @property
    def previous_totals(self) -> list[int]:
        return [series.total for series in self.result.previous]

    @property
    def tiles(self) -> list[dict]:
        """The figure of each series over the period (at most four), beside the previous
        period's when compared."""
        tiles = []
        previous = {(s.label, s.breakdown_value): s.total for s in self.result.previous}
        for series in self.result.series[:4]:
            tile = {"label": series.label, "total": series.total}
            before = previous.get((series.label, series.breakdown_value))
            if self.query.compare and before is not None:
                tile["previous"] = before
                tile["change"] = percent(series.total - before, before)
            tiles.append(tile)
        return tiles

    @property
    def chart(self) -> Chart:
        year = years_differ(self.result.dates)
        labels = [chart_label(day, self.query.interval, year=year) for day in self.result.dates]
        series = [Series(s.label, s.values) for s in self.result.series]
        length = len(labels)
        for s in self.result.previous:
            values = (s.values + [None] * length)[:length]
            series.append(Series(f"{s.label} (previous period)", values, dashed=True))
        return Chart("trend-chart", self.title, labels, series)

    def csv_rows(self) -> Iterable[list]:
        header = ["date", *self.labels]
        if self.query.compare:
            header += ["previous_date", *[f"{s.label} (previous period)" for s in self.result.previous]]
        yield header
        for row in self.rows:
            line = [row["date"].isoformat() if row["date"] else "", *[c.value for c in row["cells"]]]
            if self.query.compare:
                line += [row["previous_date"].isoformat() if row["previous_date"] else ""]
                line += [c.value for c in row["previous"]]
            yield line
        total = "total" if self.query.count_by == "events" else "total (distinct over the period)"
        line = [total, *self.totals]
        if self.query.compare:
            line += ["", *self.previous_totals]
        yield line


class FunnelPage(ReportPage):
    kind = Funnel.KIND

    @property
    def title(self) -> str:
        first, last = event_label(self.query.steps[0]), event_label(self.query.steps[-1])
        return f"{self.unit.plural.capitalize()} going from {first} to {last}"

    @property
    def empty(self) -> bool:
        return not self.result.entered

    @property
    def empty_heading(self) -> str:
        first = event_label(self.query.steps[0])
        return f"No {self.unit.singular} did {first}{self.naming} {self.period_phrase}"

    empty_hint = (
        "A funnel counts those who did its first step in the period. Check the first step, "
        "the dates and the filters, or try one of these:"
    )

    @cached_property
    def rows(self) -> list[dict]:
        steps = self.result.steps
        entered = self.result.entered
        rows = []
        for k, step in enumerate(steps, start=1):
            before = steps[k - 2].count if k > 1 else None
            dropped = before - step.count if before is not None else None
            rows.append(
                {
                    "number": k,
                    "label": step.label,
                    "event": step.event,
                    "count": Cell(step.count, self.actors_url(("reached", k)), percent(step.count, entered)),
                    "from_previous": percent(step.count, before) if before is not None else None,
                    "overall": percent(step.count, entered),
                    "dropped": Cell(dropped, self.actors_url(("dropped", k)), percent(dropped, before))
                    if dropped is not None
                    else None,
                    "median_seconds": step.median_seconds,
                }
            )
        return rows

    @property
    def last_label(self) -> str:
        return event_label(self.query.steps[-1])

    @property
    def conversion(self) -> float | None:
        return percent(self.result.converted, self.result.entered)

    @property
    def chart(self) -> Chart:
        labels = [f"{k}. {step.label}" for k, step in enumerate(self.result.steps, start=1)]
        values = [step.count for step in self.result.steps]
        return Chart("funnel-chart", self.title, labels, [Series(self.unit.plural.capitalize(), values)], kind="bar")

    def csv_rows(self) -> Iterable[list]:
        yield [
            "step", "event", "count", "conversion_from_previous_percent", "conversion_overall_percent",
            "dropped", "dropped_percent", "median_seconds_from_step_1",
        ]  # fmt: skip
        for row in self.rows:
            dropped = row["dropped"]
            median = row["median_seconds"]
            yield [
                row["number"],
                row["event"],
                row["count"].value,
                _plain(row["from_previous"]),
                _plain(row["overall"]),
                dropped.value if dropped else "",
                _plain(dropped.percent) if dropped else "",
                round(median) if median is not None else "",
            ]


class RetentionPage(ReportPage):
    kind = Retention.KIND

    @property
    def title(self) -> str:
        query = self.query
        start = f" after {event_label(query.start_event)}" if query.start_event else ""
        if query.return_event:
            what = f"doing {event_label(query.return_event)} again" if query.return_event == query.start_event else f"doing {event_label(query.return_event)}"
        else:
            what = "coming back"
        return f"{self.unit.plural.capitalize()} {what}{start}, by {query.interval}"

    @property
    def empty(self) -> bool:
        return not any(cohort.size for cohort in self.result.cohorts)

    @property
    def empty_heading(self) -> str:
        start = self.query.start_event
        did = f"first did {event_label(start)}" if start else "was first active"
        return f"No {self.unit.singular} {did}{self.naming} {self.period_phrase}"

    empty_hint = (
        "A cohort is everyone who first did the start event in a day, week or month of the "
        "period. Check the start event, the dates and the filters, or try one of these:"
    )

    @property
    def period_names(self) -> list[str]:
        name = self.query.interval.capitalize()
        return [f"{name} {k}" for k in range(1, self.result.periods + 1)]

    @cached_property
    def rows(self) -> list[dict]:
        year = years_differ([c.start for c in self.result.cohorts])
        rows = []
        for cohort in self.result.cohorts:
            cells = []
            for k, back in enumerate(cohort.returned, start=1):
                if back is None:
                    cells.append(None)
                else:
                    href = self.actors_url(("cohort_start", cohort.start), ("period", k)) if cohort.size else None
                    cells.append(Cell(back, href, percent(back, cohort.size)))
            rows.append(
                {
                    "start": cohort.start,
                    "label": bucket_text(cohort.start, self.query.interval, year=year),
                    "size": Cell(cohort.size, self.actors_url(("cohort_start", cohort.start), ("period", 0))),
                    "cells": cells,
                }
            )
        return rows

    @cached_property
    def curve(self) -> list[float | None]:
        """The share back in each period, averaged over the cohorts whose period is over,
        weighted by their size (so a cohort of 3 weighs less than one of 300)."""
        found = []
        for k in range(self.result.periods):
            over = [c for c in self.result.cohorts if c.returned[k] is not None]
            found.append(percent(sum(c.returned[k] for c in over), sum(c.size for c in over)))
        return found

    @property
    def start_label(self) -> str:
        return event_label(self.query.start_event)

    @property
    def highlights(self) -> list[dict]:
        """The share back in the first period, and in the last one some cohort is over."""
        curve = self.curve
        name = self.query.interval.capitalize()
        shown = [0] + [k for k in range(len(curve) - 1, 0, -1) if curve[k] is not None][:1]
        return [{"name": f"{name} {k + 1}", "value": curve[k]} for k in shown if k < len(curve)]

    @property
    def total_size(self) -> int:
        return sum(cohort.size for cohort in self.result.cohorts)

    @property
    def chart(self) -> Chart:
        name = self.query.interval.capitalize()
        labels = [f"{name} {k}" for k in range(0, self.result.periods + 1)]
        values = [100.0 if self.total_size else None, *self.curve]
        return Chart("retention-chart", self.title, labels, [Series("Back (weighted average)", values)], percent=True)

    def csv_rows(self) -> Iterable[list]:
        interval = self.query.interval
        header = ["cohort", "size"]
        for k in range(1, self.result.periods + 1):
            header += [f"{interval}_{k}", f"{interval}_{k}_percent"]
        yield header
        for row in self.rows:
            line = [row["start"].isoformat(), row["size"].value]
            for cell in row["cells"]:
                line += [cell.value, _plain(cell.percent)] if cell else ["", ""]
            yield line


def _plain(value: float | None):
    """A percentage as a CSV holds it: 66.7, 50, or nothing."""
    if value is None:
        return ""
    return int(value) if value == int(value) else value


KINDS = {
    Trend.KIND: (reports.trend_from_params, reports.trends, TrendPage),
    Funnel.KIND: (reports.funnel_from_params, reports.funnel, FunnelPage),
    Retention.KIND: (reports.retention_from_params, reports.retention, RetentionPage),
}
