"""Funnels from ClickHouse: the furthest step each unit reached within the window of a
first step, and how quickly, worked out per unit from its events as one sorted array.

The answers are those of ``analytics.reports.sql.funnels``, step by step: the window
function each step runs there over a unit's events in order of (time, id) is an array
function here over the same events in the same order. ``windowFunnel`` is not used: it
gives the furthest step but not how quickly each was reached, and it orders events of
one moment without their id.
"""

from __future__ import annotations

from datetime import timedelta

from analytics.models import Workspace
from analytics.reports.clickhouse.scope import Scope, events_table, fetch
from analytics.reports.queries import Funnel
from analytics.reports.results import FunnelResult


def _ms(micros: str) -> str:
    """SQL of a moment in microseconds since 1970 as whole milliseconds, rounded as
    PostgreSQL rounds the SQL version's (half a millisecond up)."""
    return f"intDiv({micros} + 500, 1000)"


def _event_number() -> str:
    """SQL of an event of a funnel as one number that sorts as (moment, id): its moment
    in µs in the top 64 bits, its id (below 2**48) in the next 48, its steps ``m`` (at
    most ``Funnel.MAX_STEPS`` bits) in the last 16."""
    return (
        "bitOr(bitShiftLeft(toUInt128(toUnixTimestamp64Micro(timestamp)), 64), "
        "bitOr(bitShiftLeft(toUInt128(id), 16), toUInt128(m)))"
    )


def _funnel_sql(scope: Scope, query: Funnel) -> str:
    """SQL of one row per unit that did the first step in the period: ``unit``,
    ``furthest`` (the furthest step reached, from 1) and ``ms_1`` … (for each later step
    reached, the quickest it was reached from a first step, in milliseconds; NULL if
    not reached).

    Each unit's events of the steps, from the period's start to the window past its end,
    are one array sorted by moment then id; ``m`` carries the steps an event is one of as
    bits (only a start in the period is step 1). Each event is one 128-bit number
    (``_event_number``): sorting numbers is quicker than sorting tuples (a funnel on
    10,000,000 events read 85 ms sorting tuples of the three, 60 so). Then, per
    step k, ``c{k}`` holds for each event of step k the start of the chain it carries
    on: the latest start of a chain that reached step k-1 before it (the one with most
    of its window left), if the event is within that start's window; else 0. The starts
    a step's events carry never decrease along the array, so the latest before an event
    is the last one so far (``arrayFill``) shifted by one event: strictly before it, as
    an event is never two steps of one chain.
    """
    start, end = query.period.bounds(scope.zone)
    window = timedelta(days=query.window_days)
    window_us = int(window.total_seconds()) * 1_000_000
    n = len(query.steps)
    bits = " + ".join(
        f"if({scope.event_condition(step)}"
        + (f" AND timestamp < {scope.moment(end)}" if i == 0 else "")
        + f", {1 << i}, 0)"
        for i, step in enumerate(query.steps)
    )
    where = f"{scope.where(None, start=start, end=end + window)} AND {scope.events_condition(query.steps)}"
    chains = ["arrayMap((x, b) -> if(bitAnd(b, 1) != 0, x, 0), t, m) AS c0"]
    for k in range(1, n):
        prior = f"arrayPushFront(arrayPopBack(arrayFill(s -> s > 0, c{k - 1})), 0)"
        chains.append(
            f"arrayMap((x, b, p) -> if(bitAnd(b, {1 << k}) != 0 AND p > 0 AND x <= p + {window_us}, p, 0), "
            f"t, m, {prior}) AS c{k}"
        )
    # The quickest time to each step: over its events, from the start each carries on.
    quickest = [
        f"arrayFilter((d, s) -> s > 0, arrayMap((x, s) -> {_ms('x')} - {_ms('s')}, t, c{k}), c{k}) AS d{k}, "
        f"if(empty(d{k}), NULL, arrayMin(d{k})) AS ms_{k}"
        for k in range(1, n)
    ]
    # Reaching a step is reaching the ones before it.
    furthest = ", ".join(f"ms_{k} IS NOT NULL, {k + 1}" for k in reversed(range(1, n)))
    return (
        f"SELECT unit, multiIf({furthest}, 1) AS furthest, {', '.join(f'ms_{k}' for k in range(1, n))} "
        f"FROM (SELECT unit, arrayMap(e -> toUInt64(bitShiftRight(e, 64)), events) AS t, "
        f"arrayMap(e -> toUInt16(bitAnd(e, 65535)), events) AS m, "
        f"{', '.join(chains)}, {', '.join(quickest)} "
        f"FROM (SELECT {scope.unit} AS unit, arraySort(groupArray({_event_number()})) AS events "
        f"FROM (SELECT {scope.unit}, timestamp, id, toUInt16({bits}) AS m FROM {events_table()} WHERE {where}) "
        f"GROUP BY unit HAVING max(bitAnd(m, 1)) = 1))"
    )


def funnel(workspace: Workspace, query: Funnel) -> FunnelResult:
    scope = Scope(workspace, query)
    scope.check_counts_units("A funnel counts users or groups, not events.")
    n = len(query.steps)
    # Counted in ClickHouse: how many units reached each step, and the two middle values
    # of each later step's quickest times (the median's), not a row per unit.
    counts = ", ".join(f"countIf(furthest >= {k})" for k in range(1, n + 1))
    middles = ", ".join(
        f"if(count(ms_{k}) = 0, NULL, (quantileExactLow(0.5)(ms_{k}), quantileExactHigh(0.5)(ms_{k})))"
        for k in range(1, n)
    )
    [row] = fetch(f"SELECT {counts}, {middles} FROM ({_funnel_sql(scope, query)})", scope.params)
    return FunnelResult.of_middles(query.steps, list(row[:n]), row[n:])


def funnel_actors(workspace: Workspace, query: Funnel, *, step: int, dropped=False) -> list:
    """Ids of the units that reached step ``step`` (from 1), or with ``dropped`` that
    reached the one before it and went no further."""
    scope = Scope(workspace, query)
    scope.check_funnel_step(step, dropped)
    sql = _funnel_sql(scope, query)
    condition = f"furthest = {scope.param(step - 1)}" if dropped else f"furthest >= {scope.param(step)}"
    return [unit for (unit,) in fetch(f"SELECT unit FROM ({sql}) WHERE {condition}", scope.params)]
