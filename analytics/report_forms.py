"""The report pages' forms: what each control of Trends, Funnels and Retention shows, the
edits their buttons ask for (add a series, remove a filter…), and the parameters that
name one number of a report, behind which its list of people or groups is.

What a report means, and every check of its parameters, is in
``analytics.reports.queries``; a form only lays the parameters out as controls. It reads
them from ``query.to_params()`` when the report ran (so it submits exactly the report it
shows), or from the request as sent when they made no report (so the error shows beside
what was typed).
"""

from __future__ import annotations

from datetime import date

from django import forms
from django.http import QueryDict

from analytics.forms import FlagField, QueryForm, TableQuery
from analytics.reports import INTERVALS, RANGES, Filter, Funnel, Period, Trend, event_label
from analytics.reports.queries import DEFAULT_RANGE, today_in

FILTER_FIELDS = ("where", "key", "op", "value")
# What a form sends besides the report's parameters: ``form`` (the period it showed, to
# tell a date typed in from a preset chosen), and the buttons ``add`` and ``remove``.
FORM_FIELDS = ("form", "add", "remove")


def edited(params: QueryDict, today: date) -> tuple[QueryDict, bool]:
    """The report's parameters with the edits the form asked for applied, and whether
    the request came from the form (whose page then answers at the report's own URL).

    ``add=event`` adds a series (any event), ``remove=event:1``, ``remove=step:2`` and
    ``remove=filter:0`` take one out; a date typed in over a preset's makes the range
    custom.
    """
    from_form = any(name in params for name in FORM_FIELDS)
    if not from_form:
        return params, False
    result = params.copy()
    for name in FORM_FIELDS:
        result.pop(name, None)
    if params.get("add") == "event":
        result.appendlist("event", "")
    what, _, index = params.get("remove", "").partition(":")
    if index.isdigit():
        index = int(index)
        for name in FILTER_FIELDS if what == "filter" else (what,) if what in ("event", "step") else ():
            values = result.getlist(name)
            if index < len(values):
                del values[index]
                result.setlist(name, values)
    shown_from, _, shown_to = params.get("form", "").partition("..")
    typed = (result.get("from", ""), result.get("to", "")) != (shown_from, shown_to)
    preset = result.get("range") or ("custom" if result.get("from") or result.get("to") else DEFAULT_RANGE)
    if preset in RANGES and preset != "custom" and typed and result.get("from"):
        result["range"] = "custom"
    return result, True


class ReportForm:
    """The controls of a report page's form and the values they show.

    ``params`` are the report's parameters (a QueryDict, or the (name, value) pairs of
    ``query.to_params()``); ``period`` is the period the report covered, whose dates the
    custom range shows for a preset too.
    """

    def __init__(self, kind, params, *, workspace, events, group_types, period: Period | None = None):
        if not isinstance(params, QueryDict):
            pairs, params = params, QueryDict(mutable=True)
            for name, value in pairs:
                params.appendlist(name, value)
        self.kind = kind
        self.params = params
        self.workspace = workspace
        self.events = events
        self.group_types = group_types
        self.period = period

    def value(self, name: str, default: str = "") -> str:
        values = self.params.getlist(name)
        return values[0] if values else default

    # Events and steps

    @property
    def event_choices(self) -> list[tuple[str, str]]:
        """Any event, the events seen in the workspace, and any the report names that
        were not."""
        return [("", "Any event"), *self.event_choices_without_any]

    @property
    def event_choices_without_any(self) -> list[tuple[str, str]]:
        names = list(self.events)
        for name in self.params.getlist("event") + self.params.getlist("step") + [
            self.value("start_event"),
            self.value("return_event"),
        ]:
            if name and name not in names:
                names.append(name)
        return [(n, event_label(n)) for n in names]

    @property
    def series(self) -> list[str]:
        return self.params.getlist("event") or [""]

    @property
    def start_event(self) -> str:
        return self.value("start_event")

    @property
    def return_event(self) -> str:
        return self.value("return_event")

    @property
    def can_add_series(self) -> bool:
        return len(self.series) < 10 and not self.value("breakdown")

    @property
    def steps(self) -> list[str]:
        """The funnel's steps, and an empty one to add (up to the most a funnel has)."""
        steps = [s for s in self.params.getlist("step") if s]
        for listed in self.params.getlist("steps"):
            steps += [s.strip() for s in listed.split(",") if s.strip()]
        return steps + ([""] if len(steps) < Funnel.MAX_STEPS else [])

    # Shared settings

    @property
    def count_by(self) -> str:
        return self.value("count_by", "users")

    @property
    def count_by_choices(self) -> list[tuple[str, str]]:
        choices = [("users", "Users")] + [(t.name, t.plural) for t in self.group_types]
        if self.kind == Trend.KIND:
            choices.append(("events", "Total events"))
        return choices

    @property
    def range(self) -> str:
        return self.value("range") or ("custom" if self.value("from") else DEFAULT_RANGE)

    range_choices = list(RANGES.items())

    @property
    def shown_dates(self) -> Period | None:
        """The period whose dates the form shows: the report's, else the preset's."""
        if self.period is not None:
            return self.period
        if self.range in RANGES and self.range != "custom":
            return Period.preset_ending(self.range, today_in(self.workspace))
        return None

    @property
    def start(self) -> str:
        if self.period is None and self.value("from"):
            return self.value("from")
        return self.shown_dates.start.isoformat() if self.shown_dates else ""

    @property
    def end(self) -> str:
        if self.period is None and self.value("to"):
            return self.value("to")
        return self.shown_dates.end.isoformat() if self.shown_dates else ""

    @property
    def shown_period(self) -> str:
        """The dates the form shows, sent back as ``form`` (see ``edited``)."""
        return f"{self.start}..{self.end}"

    @property
    def interval(self) -> str:
        return self.value("interval", "week" if self.kind == "retention" else "day")

    interval_choices = [(i, i.capitalize()) for i in INTERVALS]

    @property
    def internal(self) -> str:
        default = "exclude" if self.workspace.internal_domains else "include"
        return self.value("internal", default)

    # Filters and breakdown

    @property
    def breakdown_on_choices(self) -> list[tuple[str, str]]:
        choices = [("event", "Event property"), ("person", "Person trait")]
        return choices + [(t.name, f"{t.singular} property") for t in self.group_types]

    @property
    def where_choices(self) -> list[tuple[str, str]]:
        return [("", "Filter on…"), *self.breakdown_on_choices]

    op_choices = list(Filter.OPERATORS.items())

    @property
    def filters(self) -> list[dict]:
        """One row per filter, then an empty one to add a filter with."""
        lists = [self.params.getlist(name) for name in FILTER_FIELDS]
        rows = [dict(zip(FILTER_FIELDS, values)) for values in zip(*lists)]
        rows = [row for row in rows if row["where"] or row["key"]]
        rows.append({"where": "", "key": "", "op": "eq", "value": ""})
        for index, row in enumerate(rows):
            row["index"] = index
            row["last"] = index == len(rows) - 1
        return rows

    @property
    def breakdown_on(self) -> str:
        return self.value("breakdown_on", "event")

    @property
    def breakdown(self) -> str:
        return self.value("breakdown")

    @property
    def unit_plural(self) -> str:
        """What the report counts, in the plural: users, companies…"""
        found = {t.name: t.plural.lower() for t in self.group_types}
        return found.get(self.count_by, "events" if self.count_by == "events" else "users")

    @property
    def compare(self) -> bool:
        return self.value("compare") in ("1", "on", "true")

    # Funnels and retention

    @property
    def window(self) -> str:
        return self.value("window", "14")

    @property
    def periods(self) -> str:
        return self.value("periods") or str({"day": 14, "week": 8, "month": 6}.get(self.interval, 8))


# The number behind which a list of people or groups is, named by parameters of its own
# beside the report's (those the report reads are taken: a funnel's ``step``, ``cohort``).

DAY = {"required": "is needed: a date such as 2026-01-31", "invalid": "must be a date such as 2026-01-31"}


def _index(low):
    return forms.IntegerField(
        min_value=low,
        required=False,
        error_messages={
            "invalid": "must be a whole number",
            "min_value": f"must be {low} or more",
        },
    )


class TrendPointQuery(TableQuery):
    """A point of a trend: its series (from 0) and its date, the value of a breakdown or
    its Other, and whether it is of the previous period."""

    series = _index(0)
    date = forms.DateField(input_formats=["%Y-%m-%d"], error_messages=DAY)
    breakdown_value = forms.CharField(required=False, strip=False, empty_value=None)
    other = FlagField()
    previous = FlagField()


class FunnelStepQuery(TableQuery):
    """A step of a funnel (from 1): who reached it, or who reached the one before and
    went no further (``dropped``)."""

    reached = _index(1)
    dropped = _index(2)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        if (data.get("reached") is None) == (data.get("dropped") is None):
            self.add_error("reached", "or dropped is needed, one of them: the step (from 1)")
        return data


class RetentionCellQuery(TableQuery):
    """A cell of a retention table: the cohort's first day and a period (0: the cohort)."""

    cohort_start = forms.DateField(input_formats=["%Y-%m-%d"], error_messages=DAY)
    period = forms.IntegerField(
        min_value=0,
        error_messages={
            "required": "is needed: 0 for the cohort, 1 for the period after…",
            "invalid": "must be a whole number",
            "min_value": "must be 0 or more",
        },
    )


class CsvQuery(QueryForm):
    """``format=csv`` downloads a page's table (or a list, whole) instead."""

    format = forms.ChoiceField(
        choices=[("", "page"), ("csv", "CSV")],
        required=False,
        error_messages={"invalid_choice": "must be csv, or not given, not %(value)r"},
    )
