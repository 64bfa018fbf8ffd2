"""Funnels: the furthest step each unit reached within the window of a first step,
in SQL (one window function per step)."""

from __future__ import annotations

import statistics
from datetime import timedelta

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
    events in order, each event of step k looks back for the latest start of a chain
    that reached step k-1 (the one with most of its window left): that is one window
    function per step, each reading the column the one before it wrote.
    """
    start, end = query.period.bounds(scope.zone)
    window = timedelta(days=query.window_days)
    wanted = events_q(query.steps)
    flags = {
        f"s{i}": Case(
            When(event_q(step) & (Q(timestamp__lt=end) if i == 0 else Q()), then=1),
            default=0,
            output_field=IntegerField(),
        )
        for i, step in enumerate(query.steps)
    }
    rows = (
        scope.events(None, start=start, end=end + window)
        .filter(wanted)
        .values(unit=F(scope.unit_field), t=EpochMs("timestamp"), eid=F("id"), **flags)
        .order_by()
    )
    sql, params = rows.query.sql_with_params()
    window_ms = int(window.total_seconds() * 1000)
    # A chain of common table expressions rather than nested subqueries: SQLite's parser
    # overflows its stack on ten nested levels, and PostgreSQL inlines each one anyway.
    steps = [f"step0 AS (SELECT *, CASE WHEN s0 = 1 THEN t END AS c0 FROM ({sql}) rows)"]
    for i in range(1, len(query.steps)):
        steps.append(
            f"prior{i} AS (SELECT *, MAX(c{i - 1}) OVER (PARTITION BY unit ORDER BY t, eid "
            f"ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS p{i} FROM step{i - 1})"
        )
        steps.append(
            f"step{i} AS (SELECT *, CASE WHEN s{i} = 1 AND t - p{i} <= {window_ms} THEN p{i} END AS c{i} "
            f"FROM prior{i})"
        )
    n = len(query.steps)
    furthest = " ".join(f"WHEN c{i} IS NOT NULL THEN {i + 1}" for i in reversed(range(n)))
    quickest = "".join(f", MIN(t - c{i}) AS ms_{i}" for i in range(1, n))
    sql = (
        f"WITH {', '.join(steps)} "
        f"SELECT unit, MAX(CASE {furthest} END) AS furthest{quickest} FROM step{n - 1} "
        f"GROUP BY unit HAVING MAX(c0) IS NOT NULL"
    )
    return sql, list(params)


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
