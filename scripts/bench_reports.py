"""Groupsite's reports on PostgreSQL: our report code against hand-written SQL, on a
workspace of generated events.

    .venv/bin/python scripts/bench_reports.py \
        --database-url postgres://postgres@127.0.0.1:5432/groupsite_reports_1m --events 1000000

1. Unless the database already holds the workspace for this --events and --seed (the
   database's comment is the marker), drops it (it must hold nothing else), creates and
   migrates it, and generates the workspace straight into the tables with COPY:
   ingestion stores about 4,400 events a second here, so 10,000,000 would take most of an
   hour, and ``analytics.demo_data`` has the pages' shape (90 days, other events), not the
   reports'; its vocabulary and habits are borrowed. The shape is ``Cast``
   (``bench_reports_cast.py``), its rows ``Writer`` (``bench_reports_rows.py``), the
   loading ``bench_reports_load.py``. The rows
   are what ingestion would have stored for those calls (memberships, implicit group
   context, member counts, last seen, the multi-company flags); the load runs in one
   transaction and checks its own foreign keys. Prints how long it took and the disk used.
2. Runs VACUUM ANALYZE (as autovacuum would have; it may be off on a development machine).
3. Asks four questions of the workspace, counted by company: (a) a daily trend of
   feature_used, (b) a signed_up → project_created → invite_sent funnel, (c) weekly
   retention after the first signed_up, (d) daily active companies, strict and
   over-counted. Each is answered by the report code (``ours``: ``analytics.reports``)
   and by the best hand-written SQL over the raw event table found so far; each is
   timed, best of --rounds after a warm-up run. Prints ours, hand-written, their ratio, the answer's rows and checksum; ours must give the same answer. Both
   run with JIT compilation off (--jit leaves it on), which costs seconds here.
4. --explain prints EXPLAIN (ANALYZE, BUFFERS) of each hand-written query.
5. --clickhouse PATH also answers each question with the events in ClickHouse's embedded
   engine (chdb) at PATH: the workspace's events are copied there once (ClickHouse
   reads them straight from PostgreSQL, ``postgresql()``), merged (``OPTIMIZE ...
   FINAL``, as a live server's background merges would have), and the report code asks
   ClickHouse (``CLICKHOUSE_URL`` set for the run). Its answers must be the same too;
   the last column is how many times quicker than ours on PostgreSQL.
   With --clickhouse-times N, ClickHouse holds N times the workspace's events: each again
   N-1 times, a microsecond later each time, with message ids of their own (the same
   people and groups, N times as busy). Its answers are then timed, not checked: they
   are those of the same questions about heavier users, about the same but for events a
   few microseconds from midnight.
"""

import argparse
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import (  # noqa: E402
    connect,
    setup_django,
)
from bench_reports_cast import ACTIVITY_TYPES, INVITE_SENT, PROJECT_CREATED, SIGNED_UP  # noqa: E402
from bench_reports_load import describe, reusable_marker, vacuum, workspace_of_size  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="postgres://... (a database of its own)")
    parser.add_argument("--events", type=int, default=1_000_000, help="calls of all types")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--until", type=date.fromisoformat, help="the last day of data "
                        "(default: today, the data ending now); reports end there")
    parser.add_argument("--regenerate", action="store_true", help="drop the database and generate it again")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of each (the best counts)")
    parser.add_argument("--questions", default="trend,funnel,retention,active",
                        help="which to ask, comma-separated (default: %(default)s)")
    parser.add_argument("--work-mem", help="work_mem for the queries, e.g. 64MB (default: what "
                        "Groupsite's connections ask for, DATABASE_WORK_MEM, else the server's)")
    parser.add_argument("--jit", action="store_true", help="leave JIT compilation on, as the "
                        "server has it (it costs seconds of compiling for these queries)")
    parser.add_argument("--explain", action="store_true", help="print each hand-written query's plan")
    parser.add_argument("--clickhouse", metavar="PATH", help="also answer with ClickHouse's embedded "
                        "engine (chdb) keeping its data at PATH (an absolute path)")
    parser.add_argument("--clickhouse-times", type=int, default=1, metavar="N",
                        help="with --clickhouse, hold N times the events there (default 1)")
    parser.add_argument("--cpu", action="store_true", help="also run each hand-written query "
                        "once without parallel workers and print the CPU time its server "
                        "process took: a figure that other work on the machine changes less")
    args = parser.parse_args()
    if args.rounds < 1 or args.events < 1:
        parser.error("--rounds and --events must be positive")
    return args


# --- the questions --------------------------------------------------------------------
#
# Each is asked of the workspace in its time zone, over the days up to the last of the
# data, and counted by company (the group type in slot 0: the ``group_0_id`` column).
# The hand-written SQL reads the raw event table and its indexes as they are.


@dataclass(frozen=True)
class Question:
    key: str
    title: str
    params: dict  # what it asks, in the words of a report's parameters (for ``ours``)
    query: sql.Composed
    values: dict
    canonical: Callable  # rows -> the answer, as plain values both answers must match
    summary: Callable  # the answer -> a line of figures


# Each event's day is looked up among the days' first moments (width_bucket, a binary
# search) rather than converted to the time zone: a third quicker over a million events.
# Like a trend's table, it also counts the companies of the whole period (the last row).
TREND = sql.SQL("""
WITH days AS (
    SELECT array_agg(day::date ORDER BY day) AS days,
           array_agg(day AT TIME ZONE %(time_zone)s ORDER BY day) AS firsts
    FROM generate_series(%(first_day)s::timestamp, %(last_day)s::timestamp, interval '1 day') AS day
), pairs AS (
    SELECT DISTINCT days.days[width_bucket(timestamp, days.firsts)] AS day, {slot} AS company
    FROM analytics_event, days
    WHERE workspace_id = %(workspace)s AND timestamp >= %(start)s AND timestamp < %(end)s
      AND type = 'track' AND name = %(event)s AND {slot} IS NOT NULL
)
SELECT d.day, coalesce(active.companies, 0)
FROM days, unnest(days.days) AS d(day)
LEFT JOIN (SELECT day, count(*) AS companies FROM pairs GROUP BY 1) AS active ON active.day = d.day
UNION ALL
SELECT NULL, count(DISTINCT company) FROM pairs
ORDER BY 1 NULLS LAST
""")

# For every first step in the range, the earliest second step at or after it and the
# earliest third step at or after that: taking the earliest at each step is never worse.
# Both come from running minimums over each company's step events, latest first, in one
# sort: ``next3`` (the earliest third step at or after an event) only grows with time,
# so the smallest over the second steps at or after a first one is the one after the
# earliest of them. A company reaches step k if any of its attempts does.
FUNNEL = sql.SQL("""
WITH steps AS (
    SELECT {slot} AS company, timestamp AS at,
           CASE name WHEN %(step1)s THEN 1 WHEN %(step2)s THEN 2 ELSE 3 END AS step
    FROM analytics_event
    WHERE workspace_id = %(workspace)s AND type = 'track' AND {slot} IS NOT NULL
      AND name IN (%(step1)s, %(step2)s, %(step3)s)
      AND timestamp >= %(start)s AND timestamp < %(end)s + %(window)s
), with_next3 AS (
    SELECT company, at, step, min(at) FILTER (WHERE step = 3) OVER later AS next3
    FROM steps WINDOW later AS (PARTITION BY company ORDER BY at DESC)
), attempts AS (
    SELECT company, at, step,
           min(at) FILTER (WHERE step = 2) OVER later AS next2,
           min(next3) FILTER (WHERE step = 2) OVER later AS next3
    FROM with_next3 WINDOW later AS (PARTITION BY company ORDER BY at DESC)
)
SELECT count(DISTINCT company),
       count(DISTINCT company) FILTER (WHERE next2 <= at + %(window)s),
       count(DISTINCT company) FILTER (WHERE next3 <= at + %(window)s)
FROM attempts WHERE step = 1 AND at < %(end)s
""")

# Cohorts from one pass over signed_up; then, for each cohort company and week, whether
# it has any activity event: a probe of the (company, time) index that stops at the first
# event, rather than aggregating twelve weeks of every company's events.
RETENTION = sql.SQL("""
WITH cohorts AS (
    -- a company's cohort is the week of its first signed_up ever, if among the weeks asked
    SELECT {slot} AS company, date_trunc('week', min(timestamp) AT TIME ZONE %(time_zone)s) AS week
    FROM analytics_event
    WHERE workspace_id = %(workspace)s AND type = 'track' AND name = %(start_event)s
      AND {slot} IS NOT NULL AND timestamp < %(end)s
    GROUP BY 1 HAVING min(timestamp) >= %(start)s
), cells AS (
    SELECT company, week, k,
           (week + k * interval '1 week') AT TIME ZONE %(time_zone)s AS since,
           (week + (k + 1) * interval '1 week') AT TIME ZONE %(time_zone)s AS until
    FROM cohorts, generate_series(0, 11) AS k
    WHERE (week + k * interval '1 week') AT TIME ZONE %(time_zone)s < %(end)s
)
SELECT week::date, k, count(*) FROM cells
WHERE EXISTS (
    SELECT FROM analytics_event e
    WHERE e.{slot} = cells.company AND e.timestamp >= cells.since AND e.timestamp < cells.until
      AND e.workspace_id = %(workspace)s AND e.type = ANY(%(activity)s)
)
GROUP BY 1, 2 ORDER BY 1, 2
""")

# Strict: the companies named by activity events. Over-counted: also every company
# each activity event without one could belong to, i.e. every company its person was a
# member of at that moment (the multi-company banner's warning, in figures). The events
# are read once (the CTE, used twice, is kept); only those without a company look for
# memberships. (A LEFT JOIN of every event to memberships reads once and keeps nothing,
# but costs twice the CPU: every event probes the hash.)
ACTIVE = sql.SQL("""
WITH activity AS (
    SELECT (timestamp AT TIME ZONE %(time_zone)s)::date AS day, {slot} AS company,
           person_id, timestamp
    FROM analytics_event
    WHERE workspace_id = %(workspace)s AND type = ANY(%(activity)s)
      AND timestamp >= %(start)s AND timestamp < %(end)s
), credited AS (
    SELECT day, company, true AS named FROM activity WHERE company IS NOT NULL
    UNION ALL
    SELECT activity.day, m.group_id, false
    FROM activity JOIN analytics_membership m ON m.person_id = activity.person_id
     AND m.group_type_id = %(group_type)s AND m.started_at <= activity.timestamp
     AND (m.ended_at IS NULL OR activity.timestamp < m.ended_at)
    WHERE activity.company IS NULL
), per_day AS (
    SELECT day, company, bool_or(named) AS named FROM credited GROUP BY day, company
)
SELECT d.day::date, count(per_day.company) FILTER (WHERE per_day.named), count(per_day.company)
FROM generate_series(%(first_day)s::timestamp, %(last_day)s::timestamp, interval '1 day') AS d(day)
LEFT JOIN per_day ON per_day.day = d.day::date
GROUP BY d.day ORDER BY d.day
""")


def questions(workspace, until):
    """The four questions, over the 90 days (12 weeks) up to the data's last day."""
    company = workspace.group_types.get(slot=0)
    zone = ZoneInfo(workspace.time_zone)
    today = until.astimezone(zone).date()

    def midnight(day):
        return datetime.combine(day, datetime.min.time(), zone)

    first_day = today - timedelta(days=89)
    days = {"first_day": first_day, "last_day": today, "start": midnight(first_day),
            "end": midnight(today + timedelta(days=1))}
    first_week = today - timedelta(days=today.weekday(), weeks=11)
    weeks = {"first_week": first_week, "start": midnight(first_week),
             "end": midnight(first_week + timedelta(weeks=12))}
    common = {"workspace": workspace.pk, "time_zone": workspace.time_zone}
    by = {"count_by": company.name, "slot": company.slot, "time_zone": workspace.time_zone}
    slot = sql.Identifier(f"group_{company.slot}_id")
    window = timedelta(days=14)
    steps = (SIGNED_UP, PROJECT_CREATED, INVITE_SENT)
    return [
        Question(
            "trend", "(a) trend: feature_used, companies a day, 90 days",
            {**by, "event": "feature_used", "interval": "day", **days},
            TREND.format(slot=slot), {**common, **days, "event": "feature_used"},
            lambda rows: [(day.isoformat() if day else "total", n) for day, n in rows],
            lambda answer: _spread([n for day, n in answer if day != "total"], "companies a day")
            + f"; {answer[-1][1]:,} in all",
        ),
        Question(
            "funnel", "(b) funnel: signed_up > project_created > invite_sent, 14 days",
            {**by, "steps": steps, "window": window, **days},
            FUNNEL.format(slot=slot),
            {**common, **days, "window": window, **{f"step{n}": s for n, s in enumerate(steps, 1)}},
            lambda rows: list(rows[0]),
            lambda answer: " > ".join(f"{n:,}" for n in answer) + " companies",
        ),
        Question(
            "retention", "(c) retention: after first signed_up, 12 weeks",
            {**by, "start_event": SIGNED_UP, "returning": ACTIVITY_TYPES, "interval": "week",
             "periods": 12, **weeks},
            RETENTION.format(slot=slot),
            {**common, **weeks, "start_event": SIGNED_UP, "activity": list(ACTIVITY_TYPES)},
            lambda rows: _retention(rows, first_week),
            lambda answer: "cohorts of " + ", ".join(str(cells[0]) for _, cells in answer)
            + "; week 1 kept " + _share(sum(c[1] for _, c in answer[:-1]), sum(c[0] for _, c in answer[:-1])),
        ),
        Question(
            "active", "(d) active companies a day, strict / over-counted, 90 days",
            {**by, "activity": ACTIVITY_TYPES, "interval": "day", **days},
            ACTIVE.format(slot=slot),
            {**common, **days, "activity": list(ACTIVITY_TYPES), "group_type": company.pk},
            lambda rows: [(day.isoformat(), strict, over) for day, strict, over in rows],
            lambda answer: _spread([s for _, s, _ in answer], "strict") + "; over-counted "
            + _share(sum(o for *_, o in answer) - sum(s for _, s, _ in answer), sum(s for _, s, _ in answer))
            + " more",
        ),
    ]


def _retention(rows, first_week):
    """[(cohort week, [companies active k weeks later, for k = 0 up to the last week])]."""
    cells = {(week, k): n for week, k, n in rows}
    answer = []
    for w in range(12):
        week = first_week + timedelta(weeks=w)
        answer.append((week.isoformat(), [cells.get((week, k), 0) for k in range(12 - w)]))
    return answer


def _spread(values, unit):
    return f"{min(values):,} to {max(values):,} {unit} (mean {sum(values) / len(values):,.0f})"


def _share(part, whole):
    return f"{part / whole:.1%}" if whole else "—"


def checksum(answer):
    return hashlib.sha256(json.dumps(answer).encode()).hexdigest()[:12]


def rows_of(answer):
    return sum(len(item[1]) if isinstance(item, tuple) and isinstance(item[1], list) else 1
               for item in answer)


def ours(question, workspace):
    """Groupsite's own answer to ``question`` about ``workspace``, computed by its report
    code (``analytics.reports``, on Django's default database), as ``question.canonical``
    writes the hand-written one. The hand-written SQL counts the staff at the internal
    domain too, so ours is asked to include them."""
    from analytics import reports

    p = question.params
    common = {"count_by": p["count_by"], "exclude_internal": False}
    if question.key == "retention":
        weeks = reports.Period(p["first_week"], p["first_week"] + timedelta(weeks=12, days=-1))
        result = reports.retention(workspace, reports.Retention(
            period=weeks, start_event=p["start_event"], return_event="", interval="week",
            periods=11, **common,
        ))
        # Week 0 is the cohort itself; the hand-written rows stop at the last week asked.
        return [
            (cohort.start.isoformat(), [cohort.size, *(n or 0 for n in cohort.returned)][: 12 - w])
            for w, cohort in enumerate(result.cohorts)
        ]
    days = reports.Period(p["first_day"], p["last_day"])
    if question.key == "trend":
        result = reports.trends(workspace, reports.Trend(
            period=days, events=(p["event"],), interval="day", **common
        ))
        [series] = result.series
        return [
            *((day.isoformat(), n) for day, n in zip(result.dates, series.values)),
            ("total", series.total),
        ]
    if question.key == "funnel":
        result = reports.funnel(workspace, reports.Funnel(
            period=days, steps=tuple(p["steps"]), window_days=p["window"].days, **common
        ))
        return [step.count for step in result.steps]
    result = reports.active_groups(workspace, reports.ActiveGroups(period=days, interval="day", **common))
    return [(day.isoformat(), *pair) for day, *pair in zip(result.dates, result.strict, result.overcount)]


# --- timing ---------------------------------------------------------------------------


def clickhouse_of(args, workspace):
    """The CLICKHOUSE_URL configuration of chdb at ``args.clickhouse``, holding the
    workspace's events: copied from PostgreSQL by ClickHouse itself unless it holds as
    many already, then merged. Prints what it took."""
    import dj_database_url
    from django.conf import settings

    from analytics import clickhouse
    from analytics.clickhouse import memberships
    from analytics.clickhouse.schema import (
        EVENT_COLUMNS, PERSON_ROLLUPS, REBUILD_AFTER, ROLLUPS, Target, migrate, rollup_select,
    )
    from analytics.models import Event, RollupProgress
    from groupsite.settings import clickhouse_config

    config = clickhouse_config(f"chdb://{args.clickhouse}?database=bench")
    settings.CLICKHOUSE = config
    client = clickhouse.client()
    applied = migrate(client, Target("bench"))
    expected = Event.objects.filter(workspace=workspace).count() * args.clickhouse_times
    held = client.command("SELECT count() FROM bench.events FINAL WHERE workspace_id = %(w)s",
                          parameters={"w": workspace.pk})
    if held != expected:
        started = time.perf_counter()
        for name in ("events", *ROLLUPS, *PERSON_ROLLUPS):
            client.command(f"TRUNCATE TABLE bench.{name}")
        db = dj_database_url.parse(args.database_url)
        columns = ", ".join(name for name, _ in EVENT_COLUMNS if not name.startswith("_"))
        # Each event's day in the workspace's time zone, as a delivery writes it (the
        # rollups' day), worked out by ClickHouse as it copies.
        zone = workspace.time_zone
        client.command(
            f"INSERT INTO bench.events ({columns}, day) SELECT {columns}, toDate(timestamp, %(zone)s) FROM postgresql("
            "%(address)s, %(db)s, 'analytics_event', %(user)s, %(password)s) WHERE workspace_id = %(w)s",
            parameters={
                "address": f"{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}", "db": db["NAME"],
                "user": db["USER"] or "postgres", "password": db["PASSWORD"] or "", "w": workspace.pk,
                "zone": zone,
            },
            settings={"max_insert_threads": 2},
        )
        copied = time.perf_counter() - started
        for k in range(1, args.clickhouse_times):
            started_copy = time.perf_counter()
            copy = ", ".join(_copied(name, k) for name in columns.split(", "))
            client.command(
                f"INSERT INTO bench.events ({columns}, day) SELECT {copy}, "
                f"toDate({_copied('timestamp', k)}, %(zone)s) FROM bench.events "
                f"WHERE workspace_id = %(w)s AND id < {COPY_STRIDE}",
                parameters={"w": workspace.pk, "zone": zone},
                settings={"max_insert_threads": 2},
            )
            print(f"  copy {k + 1} of {args.clickhouse_times} in {time.perf_counter() - started_copy:.0f} s")
        copied = time.perf_counter() - started
        started = time.perf_counter()
        client.command("OPTIMIZE TABLE bench.events FINAL")
        print(f"Copied {expected:,} events into ClickHouse in {copied:.0f} s, merged them in "
              f"{time.perf_counter() - started:.0f} s.")
    if held != expected or REBUILD_AFTER.intersection(applied):
        # The rollups worked out of the events (as clickhouse_schema does after such a
        # migration), then merged, and recorded as worked out up to the last event.
        started = time.perf_counter()
        for name in (*ROLLUPS, *PERSON_ROLLUPS):
            client.command(f"TRUNCATE TABLE bench.{name}")
            client.command(f"INSERT INTO bench.{name} {rollup_select(name, 'bench.events FINAL')}")
            client.command(f"OPTIMIZE TABLE bench.{name} FINAL")
        last = client.command("SELECT max(id) FROM bench.events WHERE workspace_id = %(w)s", parameters={"w": workspace.pk})
        RollupProgress.objects.update_or_create(workspace=workspace, defaults={"rolled_up_to": last})
        print(f"Worked the rollups out in {time.perf_counter() - started:.0f} s.")
    # The memberships, as clickhouse_schema and the copy command copy them.
    started = time.perf_counter()
    mirrored = memberships.mirror(workspace.pk)
    client.command("OPTIMIZE TABLE bench.memberships FINAL")
    print(f"Copied {mirrored:,} memberships into ClickHouse in {time.perf_counter() - started:.1f} s.")
    size, rows = client.query(
        "SELECT sum(bytes_on_disk), sum(rows) FROM system.parts WHERE database = 'bench' "
        "AND table = 'events' AND active"
    ).result_rows[0]
    print(f"ClickHouse (chdb) holds {rows:,} events in {size / 2**30:.2f} GB on disk "
          f"({size / max(rows, 1):.0f} bytes an event).")
    for name in (*ROLLUPS, *PERSON_ROLLUPS):
        size, rows = client.query(
            "SELECT sum(bytes_on_disk), sum(rows) FROM system.parts WHERE database = 'bench' "
            "AND table = %(t)s AND active", parameters={"t": name}
        ).result_rows[0]
        print(f"  its {name}: {rows:,} rows in {size / 2**20:.0f} MB.")
    settings.CLICKHOUSE = None
    return config


# The numbers of the copies of an event (--clickhouse-times) are its own plus k times this.
COPY_STRIDE = 10**12


def _copied(column: str, k: int) -> str:
    """SQL of ``column`` of the k-th copy of an event: its own number and message id, a
    microsecond later each time."""
    if column == "id":
        return f"id + {k * COPY_STRIDE}"
    if column == "message_id":
        return f"concat(message_id, '-{k}')"
    if column == "timestamp":
        return f"timestamp + toIntervalMicrosecond({k})"
    return column


def ours_on(config, question, workspace):
    """``ours``, with the events read from ClickHouse (``config``: CLICKHOUSE_URL's)."""
    from django.conf import settings

    settings.CLICKHOUSE = config
    try:
        return ours(question, workspace)
    finally:
        settings.CLICKHOUSE = None


def best_of(run, rounds, *, warm_up=True):
    """(the best time in ms of ``rounds`` runs after a warm-up one, the last answer)."""
    if warm_up:
        run()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        answer = run()
        times.append((time.perf_counter() - started) * 1000)
    return min(times), answer


def first_difference(ours_answer, theirs):
    if len(ours_answer) != len(theirs):
        return f"{len(ours_answer)} items against {len(theirs)}"
    for n, (a, b) in enumerate(zip(ours_answer, theirs)):
        if a != b:
            return f"item {n}: ours {a!r}, hand-written {b!r}"
    return "none"


def cpu_time(conn, question):
    """(CPU ms, elapsed ms) of the server process running the question's query alone,
    without parallel workers, from PostgreSQL's statement statistics (those of parsing,
    planning and executing it)."""
    found = []

    def keep(diagnostic):
        if diagnostic.message_primary.endswith("STATISTICS"):
            found.append(diagnostic.message_detail)

    conn.execute("SET client_min_messages = log")
    conn.execute("SET max_parallel_workers_per_gather = 0")
    conn.execute("SET log_statement_stats = on")
    conn.add_notice_handler(keep)
    try:
        conn.execute(question.query, question.values).fetchall()
    finally:
        conn.remove_notice_handler(keep)
        conn.execute("RESET log_statement_stats")
        conn.execute("RESET max_parallel_workers_per_gather")
        conn.execute("RESET client_min_messages")
    cpu = elapsed = 0.0
    for stats in found:
        user, system, seconds = re.search(
            r"([\d.]+) s user, ([\d.]+) s system, ([\d.]+) s elapsed", stats
        ).groups()
        cpu, elapsed = cpu + float(user) + float(system), elapsed + float(seconds)
    return cpu * 1000, elapsed * 1000


def explain(conn, question):
    plan = conn.execute(
        sql.SQL("EXPLAIN (ANALYZE, BUFFERS) ") + question.query, question.values
    ).fetchall()
    print(f"\n{question.title}\n" + "\n".join(line for (line,) in plan))


def configure(conn, args):
    """The same session settings for the hand-written queries and for ours (Django's
    connection)."""
    from django.db import connection

    settings = {"jit": "on" if args.jit else "off"}
    with connection.cursor() as cursor:
        # By default, the work_mem Groupsite's connections ask for (DATABASE_WORK_MEM).
        cursor.execute("SELECT current_setting('work_mem')")
        settings["work_mem"] = args.work_mem or cursor.fetchone()[0]
        for name, value in settings.items():
            conn.execute("SELECT set_config(%s, %s, false)", [name, value])
            cursor.execute("SELECT set_config(%s, %s, false)", [name, value])


def main():
    args = parse_args()
    marker = reusable_marker(args)
    setup_django(args.database_url, "benchmark-only-secret-key")
    workspace, until = workspace_of_size(args, marker)
    vacuum(args.database_url)
    asked = [q for q in questions(workspace, until) if q.key in args.questions.split(",")]
    on_clickhouse = clickhouse_of(args, workspace) if args.clickhouse else None
    with connect(args.database_url) as conn:
        describe(conn, workspace)
        configure(conn, args)
        settings = conn.execute(
            "SELECT current_setting('work_mem'), current_setting('max_parallel_workers_per_gather'), "
            "current_setting('jit'), current_setting('shared_buffers')"
        ).fetchone()
        print(f"Queries with work_mem {settings[0]}, {settings[1]} parallel workers per gather, "
              f"JIT {settings[2]}, shared_buffers {settings[3]}; best of {args.rounds} after a "
              f"warm-up. Load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPU(s).\n")
        print(f"{'question':62} {'ours (ms)':>10} {'hand-written (ms)':>18} {'ratio':>6} "
              f"{'rows':>5}  checksum")
        if on_clickhouse:
            print(f"{'':62} {'ClickHouse (ms)':>16} {'ours / ClickHouse':>18}")
        failures = []
        for question in asked:
            hand_ms, rows = best_of(
                lambda q=question: conn.execute(q.query, q.values).fetchall(), args.rounds
            )
            theirs = question.canonical(rows)
            ours_ms, ours_answer = best_of(lambda q=question: ours(q, workspace), args.rounds)
            shown, ratio = f"{ours_ms:.1f}", f"{ours_ms / hand_ms:.2f}"
            if ours_answer != theirs:
                failures.append(f"{question.key}: {first_difference(ours_answer, theirs)}")
            print(f"{question.title:62} {shown:>10} {hand_ms:18.1f} {ratio:>6} "
                  f"{rows_of(theirs):5d}  {checksum(theirs)}")
            print(f"  {question.summary(theirs)}")
            if on_clickhouse:
                ch_ms, ch_answer = best_of(lambda q=question: ours_on(on_clickhouse, q, workspace), args.rounds)
                if args.clickhouse_times > 1:
                    print(f"  ClickHouse's answer over {args.clickhouse_times}x the events: "
                          f"{question.summary(ch_answer)}")
                elif ch_answer != theirs:
                    failures.append(f"{question.key} (ClickHouse): {first_difference(ch_answer, theirs)}")
                print(f"{'  on ClickHouse':62} {ch_ms:16.1f} {ours_ms / ch_ms:18.1f}")
            if args.cpu:
                cpu, elapsed = cpu_time(conn, question)
                print(f"  without parallel workers: {cpu:,.0f} ms of CPU in {elapsed:,.0f} ms")
        print(f"Load average {os.getloadavg()[0]:.1f} at the end.")
        if args.explain:
            for question in asked:
                explain(conn, question)
    if failures:
        sys.exit("Our answers differ from the hand-written ones:\n  " + "\n  ".join(failures))


if __name__ == "__main__":
    main()
