"""Funnels: the furthest step each unit reached within the window of a first step,
in SQL (one window function per step)."""

from __future__ import annotations

import operator
import statistics
from datetime import timedelta
from functools import reduce

from django.db import connection
from django.db.models import (
    Case,
    F,
    Func,
    IntegerField,
    Q,
    When,
)

from analytics.models import (
    Workspace,
    event_q,
    events_q,
)
from analytics.reports.queries import (
    Funnel,
    ReportError,
    event_label,
)
from analytics.reports.results import (
    FunnelResult,
    FunnelStep,
)
from analytics.reports.sql.scope import Scope, fetch


class EpochMs(Func):
    """A moment as whole milliseconds since 1970 (UTC), for arithmetic on both databases."""

    output_field = IntegerField()

    def as_postgresql(self, compiler, connection):
        return self.as_sql(
            compiler, connection, template="(EXTRACT(EPOCH FROM %(expressions)s) * 1000)::bigint"
        )

    def as_sqlite(self, compiler, connection):
        return self.as_sql(
            compiler,
            connection,
            template="CAST(ROUND((julianday(%(expressions)s) - 2440587.5) * 86400000.0) AS INTEGER)",
        )


def _funnel_sql(scope: Scope, query: Funnel) -> tuple[str, list]:
    """SQL of one row per unit that did the first step in the period: ``unit``,
    ``furthest`` (the furthest step reached, from 1) and ``ms_1`` … (for each later step
    reached, the quickest it was reached from a first step, in milliseconds).

    A unit reaches step k when it did steps 1 to k in order (each after the one before),
    the first in the period and the k-th within the window of that first. Scanning its
    events in order of (time, id), each event of step k looks back for the latest start
    of a chain that reached step k-1 (the one with most of its window left): that is one
    window function per step, each reading the column the one before it wrote.

    Each event carries the steps it is one of as the bits of ``m`` (an event can be
    several steps). Once a step's column is written, only some events matter to the rest:
    those of a later step, those that reached a step and the first start of each unit
    (``f``, the step the event proves its unit reached); the others are dropped.
    PostgreSQL orders and compares the moments themselves, SQLite whole milliseconds
    (its own precision); both count the times to convert in milliseconds.
    """
    start, end = query.period.bounds(scope.zone)
    window = timedelta(days=query.window_days)
    postgres = connection.vendor == "postgresql"
    bits = [
        Case(
            When(event_q(step) & (Q(timestamp__lt=end) if i == 0 else Q()), then=1 << i),
            default=0,
            output_field=IntegerField(),
        )
        for i, step in enumerate(query.steps)
    ]
    rows = (
        scope.events(None, start=start, end=end + window)
        .filter(events_q(query.steps))
        .values(
            unit=F(scope.unit_field),
            t=F("timestamp") if postgres else EpochMs("timestamp"),
            eid=F("id"),
            m=reduce(operator.add, bits),
        )
        .order_by()
    )
    sql, params = rows.query.sql_with_params()
    if postgres:
        # Not merged into the queries above it, which would work out m again each time
        # they read it.
        sql += " OFFSET 0"
        within = f"t <= p + interval '{int(window.total_seconds())} seconds'"
    else:
        within = f"t - p <= {int(window.total_seconds() * 1000)}"
    ordered = "PARTITION BY unit ORDER BY t, eid ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING"
    n = len(query.steps)
    # A chain of common table expressions rather than nested subqueries: SQLite's parser
    # overflows its stack on ten nested levels.
    steps = [f"step0 AS (SELECT *, CASE WHEN m & 1 <> 0 THEN t END AS c0 FROM ({sql}) rows)"]
    for i in range(1, n):
        kept = "" if i == 1 else f" WHERE f IS NOT NULL OR m >= {1 << i}"
        # The first start of each unit stands for the units that went no further.
        reached = "WHEN m & 1 <> 0 AND p IS NULL THEN 1 END" if i == 1 else "ELSE f END"
        carried = "".join(f", c{j}" for j in range(1, i))
        steps.append(
            f"prior{i} AS (SELECT *, MAX(c{i - 1}) OVER ({ordered}) AS p FROM step{i - 1}{kept})"
        )
        steps.append(
            f"step{i} AS (SELECT unit, t, eid, m{carried}, c{i}, "
            f"CASE WHEN c{i} IS NOT NULL THEN {i + 1} {reached} AS f FROM "
            f"(SELECT *, CASE WHEN m & {1 << i} <> 0 AND {within} THEN p END AS c{i} FROM prior{i}) s)"
        )
    quickest = "".join(
        f", MIN(CASE WHEN c{i} IS NOT NULL THEN {_ms('t', postgres)} - {_ms(f'c{i}', postgres)} END) AS ms_{i}"
        for i in range(1, n)
    )
    sql = (
        f"WITH {', '.join(steps)} SELECT unit, MAX(f) AS furthest{quickest} "
        f"FROM step{n - 1} WHERE f IS NOT NULL GROUP BY unit"
    )
    return sql, list(params)


def _ms(moment: str, postgres: bool) -> str:
    """A moment of the funnel's SQL in whole milliseconds (see ``EpochMs``)."""
    return f"(EXTRACT(EPOCH FROM {moment}) * 1000)::bigint" if postgres else moment


def funnel(workspace: Workspace, query: Funnel) -> FunnelResult:
    scope = Scope(workspace, query)
    if scope.unit_field is None:
        raise ReportError("A funnel counts users or groups, not events.")
    n = len(query.steps)
    sql, params = _funnel_sql(scope, query)
    reached = [0] * n
    quickest = [[] for _ in range(n)]
    for _unit, furthest, *ms in fetch(f"SELECT * FROM ({sql}) units", params):
        for i in range(furthest):
            reached[i] += 1
            if i and ms[i - 1] is not None:
                quickest[i].append(ms[i - 1] / 1000)
    steps = [
        FunnelStep(
            event=step,
            label=event_label(step),
            count=reached[i],
            median_seconds=statistics.median(quickest[i]) if quickest[i] else None,
        )
        for i, step in enumerate(query.steps)
    ]
    return FunnelResult(steps=steps, median_seconds_to_convert=steps[-1].median_seconds)


def funnel_actors(workspace: Workspace, query: Funnel, *, step: int, dropped=False) -> list:
    """Ids of the units that reached step ``step`` (from 1), or with ``dropped`` that
    reached the one before it and went no further."""
    scope = Scope(workspace, query)
    if scope.unit_field is None:
        raise ReportError("A funnel counts users or groups, not events.")
    if not 1 <= step <= len(query.steps) or (dropped and step == 1):
        raise ReportError(
            f"step must be between {2 if dropped else 1} and {len(query.steps)}; not {step}."
        )
    sql, params = _funnel_sql(scope, query)
    condition, wanted = ("furthest = %s", step - 1) if dropped else ("furthest >= %s", step)
    return [unit for (unit,) in fetch(f"SELECT unit FROM ({sql}) units WHERE {condition}", [*params, wanted])]
