"""Funnels: the furthest step each unit reached within the window of a first step,
in SQL (one window function per step)."""

from __future__ import annotations

import operator
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
)
from analytics.reports.results import (
    FunnelResult,
)
from analytics.reports.sql.scope import Scope, fetch

# A moment as whole milliseconds since 1970 on PostgreSQL (``{}``: the moment's SQL).
POSTGRESQL_MS = "(EXTRACT(EPOCH FROM {}) * 1000)::bigint"


class EpochMs(Func):
    """A moment as whole milliseconds since 1970 (UTC), for arithmetic on both databases."""

    output_field = IntegerField()

    def as_postgresql(self, compiler, connection):
        return self.as_sql(compiler, connection, template=POSTGRESQL_MS.format("%(expressions)s"))

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
    window function per step, each reading the column ``c{k-1}`` the one before wrote.

    An event carries the steps it is one of as the bits of ``m`` (it can be several).
    After each step only the events that still matter go on: those of a later step,
    those that reached a step, and each unit's first start (``f``), which stands for the
    units that went no further. PostgreSQL orders and compares the moments themselves,
    SQLite whole milliseconds (its precision); both count times to convert in those.
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
        sql += " OFFSET 0"  # m worked out once, not again wherever the steps read it
    n = len(query.steps)

    def reached(i):  # the events that reached a step before step i, or the first start
        return " OR ".join(["f IS NOT NULL", *(f"c{j} IS NOT NULL" for j in range(1, i))])

    # A chain of common table expressions rather than nested subqueries: SQLite's parser
    # overflows its stack on ten nested levels.
    steps = [f"step0 AS (SELECT *, CASE WHEN m & 1 <> 0 THEN t END AS c0 FROM ({sql}) rows)"]
    for i in range(1, n):
        prior = f"MAX(c{i - 1}) OVER w"
        if postgres:
            within = f"t <= {prior} + interval '{int(window.total_seconds())} seconds'"
        else:
            within = f"t - {prior} <= {int(window.total_seconds() * 1000)}"
        first = "CASE WHEN c0 IS NOT NULL AND MAX(c0) OVER w IS NULL THEN 1 END AS f"
        steps.append(
            f"step{i} AS (SELECT unit, t, eid, m, {first if i == 1 else 'f'}"
            + "".join(f", c{j}" for j in range(1, i))
            + f", CASE WHEN m & {1 << i} <> 0 AND {within} THEN {prior} END AS c{i} FROM step{i - 1}"
            + ("" if i == 1 else f" WHERE m >= {1 << i} OR {reached(i)}")
            + " WINDOW w AS (PARTITION BY unit ORDER BY t, eid ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING))"
        )
    quickest = ", ".join(
        f"MIN(CASE WHEN c{i} IS NOT NULL THEN {_ms('t', postgres)} - {_ms(f'c{i}', postgres)} END) AS ms_{i}"
        for i in range(1, n)
    )
    # Reaching a step is reaching the ones before it.
    furthest = " ".join(f"WHEN ms_{i} IS NOT NULL THEN {i + 1}" for i in reversed(range(1, n)))
    sql = (
        f"WITH {', '.join(steps)} SELECT unit, CASE {furthest} ELSE 1 END AS furthest, "
        f"{', '.join(f'ms_{i}' for i in range(1, n))} "
        f"FROM (SELECT unit, {quickest} FROM step{n - 1} WHERE {reached(n)} GROUP BY unit) units"
    )
    return sql, list(params)


def _ms(moment: str, postgres: bool) -> str:
    """A moment of the funnel's SQL in whole milliseconds: on SQLite it is already
    (``EpochMs``)."""
    return POSTGRESQL_MS.format(moment) if postgres else moment


def funnel(workspace: Workspace, query: Funnel) -> FunnelResult:
    scope = Scope(workspace, query)
    scope.check_counts_units("A funnel counts users or groups, not events.")
    sql, params = _funnel_sql(scope, query)
    return FunnelResult.of_units(query.steps, fetch(f"SELECT * FROM ({sql}) units", params))


def funnel_actors(workspace: Workspace, query: Funnel, *, step: int, dropped=False) -> list:
    """Ids of the units that reached step ``step`` (from 1), or with ``dropped`` that
    reached the one before it and went no further."""
    scope = Scope(workspace, query)
    scope.check_funnel_step(step, dropped)
    sql, params = _funnel_sql(scope, query)
    condition, wanted = ("furthest = %s", step - 1) if dropped else ("furthest >= %s", step)
    return [unit for (unit,) in fetch(f"SELECT unit FROM ({sql}) units WHERE {condition}", [*params, wanted])]
