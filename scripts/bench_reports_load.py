"""Loading the reports benchmark's workspace: generated once into a database of its
own with COPY, in one transaction, and reused by later runs (the database's comment
marks what it holds)."""

import json
import random
import re
import sys
import time
from datetime import UTC, datetime
from importlib import import_module
from pathlib import Path
from zoneinfo import ZoneInfo

import dj_database_url
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_ingest import (  # noqa: E402
    connect,
    create_database_if_missing,
    drop_database,
)
from bench_reports_cast import ACTIVITY_TYPES, GROUP_SLOTS, WINDOW_DAYS, Cast  # noqa: E402
from bench_reports_rows import Writer  # noqa: E402

SLUG = "reports-benchmark"
OWNER = "reports@groupsite.local"
TIME_ZONE = "Europe/Paris"
# Bumped whenever the generator changes what it writes: a database marked with another
# version is generated again.
GENERATOR_VERSION = 3  # 3: group days

# --- loading --------------------------------------------------------------------------


def marker_of(conn):
    """What the database's comment says it holds (see ``load``), or {}."""
    text = conn.execute(
        "SELECT shobj_description(oid, 'pg_database') FROM pg_database "
        "WHERE datname = current_database()"
    ).fetchone()[0]
    try:
        return json.loads(text or "{}").get("bench_reports", {})
    except ValueError:
        return {}


def _reserve(conn, table, count):
    """``count`` new primary keys of ``table``, taken from its sequence."""
    return [pk for (pk,) in conn.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
        [table, count],
    )]


def _copy(conn, table, columns, chunks):
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with conn.cursor().copy(statement) as copy:
        for chunk in chunks:
            copy.write(chunk)


def _lines(rows, size=20_000):
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield "".join(batch).encode()
            batch = []
    yield "".join(batch).encode()


def _drop_event_indexes(conn):
    """Drop the event table's indexes but its primary key, and return the statements that
    make them again: building an index once is far quicker than keeping it up to date
    through ten million inserts in random places (message ids, people, groups)."""
    rows = conn.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), c.conname, "
        "pg_get_constraintdef(c.oid) FROM pg_index i LEFT JOIN pg_constraint c "
        "ON c.conindid = i.indexrelid AND c.conrelid = i.indrelid "
        "WHERE i.indrelid = 'analytics_event'::regclass AND NOT i.indisprimary"
    ).fetchall()
    again = []
    for index, definition, constraint, constraint_definition in rows:
        if re.search(r"WHERE \(group_[2-9]_id IS NOT NULL\)", definition):
            continue  # slots the workspace does not use: nothing to index, nothing to build
        if constraint:
            conn.execute(sql.SQL("ALTER TABLE analytics_event DROP CONSTRAINT {}").format(
                sql.Identifier(constraint)))
            again.append(sql.SQL("ALTER TABLE analytics_event ADD CONSTRAINT {} {}").format(
                sql.Identifier(constraint), sql.SQL(constraint_definition)))
        else:
            conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(index)))
            again.append(sql.SQL(definition))
    return again


def _check_references(conn, workspace_id):
    """Foreign keys are not checked during the load (see ``load``): check them here."""
    broken = conn.execute(
        "SELECT count(*) FILTER (WHERE p.id IS NULL OR p.workspace_id <> e.workspace_id), "
        "count(*) FILTER (WHERE e.group_0_id IS NOT NULL AND g0.id IS NULL), "
        "count(*) FILTER (WHERE e.group_1_id IS NOT NULL AND g1.id IS NULL) "
        "FROM analytics_event e LEFT JOIN analytics_person p ON p.id = e.person_id "
        "LEFT JOIN analytics_group g0 ON g0.id = e.group_0_id "
        "LEFT JOIN analytics_group g1 ON g1.id = e.group_1_id WHERE e.workspace_id = %s",
        [workspace_id],
    ).fetchone()
    broken += conn.execute(
        "SELECT count(*) FROM analytics_membership m WHERE m.workspace_id = %(w)s AND ("
        " NOT EXISTS (SELECT FROM analytics_person p WHERE p.id = m.person_id)"
        " OR NOT EXISTS (SELECT FROM analytics_group g WHERE g.id = m.group_id"
        "   AND g.group_type_id = m.group_type_id)) "
        "UNION ALL SELECT count(*) FROM analytics_identity i WHERE i.workspace_id = %(w)s"
        " AND NOT EXISTS (SELECT FROM analytics_person p WHERE p.id = i.person_id)",
        {"w": workspace_id},
    ).fetchall()[0]
    if any(broken):
        raise AssertionError(f"the generated rows break foreign keys: {broken}")


def _fill_daily_activity(conn, workspace):
    """Daily activity as ingestion keeps it (``analytics.event_store``): a row per person,
    day of the workspace's time zone and group context."""
    groups = [sql.SQL("coalesce({}, 0)").format(sql.Identifier(f"group_{s}_id")) for s in range(GROUP_SLOTS)]
    columns = ["workspace_id", "person_id", "day", *(f"group_{s}" for s in range(GROUP_SLOTS)),
               "events", "first_at", "last_at"]
    conn.execute(
        sql.SQL(
            "INSERT INTO analytics_dailyactivity ({columns}) "
            "SELECT workspace_id, person_id, (timestamp AT TIME ZONE %(zone)s)::date, {groups}, "
            "count(*), min(timestamp), max(timestamp) FROM analytics_event "
            "WHERE workspace_id = %(workspace)s AND type = ANY(%(activity)s) "
            "GROUP BY {by}"
        ).format(
            columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
            groups=sql.SQL(", ").join(groups),
            by=sql.SQL(", ").join(sql.SQL(str(n)) for n in range(1, 4 + GROUP_SLOTS)),
        ),
        {"zone": workspace.time_zone, "workspace": workspace.pk, "activity": list(ACTIVITY_TYPES)},
    )


def load(args, workspace, until):
    """Generate the workspace's people, groups, memberships and events and write them in
    one transaction, with COPY; returns the marker written."""
    company = workspace.group_types.get(name="company")
    team = workspace.group_types.get(name="team")
    assert (company.slot, team.slot) == (0, 1), "the questions read company from group_0"
    until_ms = int(until.timestamp() * 1000)
    started = time.perf_counter()
    cast = Cast(random.Random(args.seed), events=args.events, until=until_ms)
    activity = args.events - len(cast.schedule)
    if activity < 0:
        sys.exit(f"--events {args.events:,} is too few for the {len(cast.people):,} people's set-up calls")
    buckets, bits = cast.activity(activity)
    print(
        f"  invented {len(cast.companies):,} companies, {len(cast.teams):,} teams, "
        f"{len(cast.people):,} people ({len(cast.multi):,} in several companies, "
        f"{len(cast.leavers):,} removed, {sum(p.staff for p in cast.people)} staff) and "
        f"{len(cast.visitors):,} visitors; {len(cast.schedule):,} set-up calls and "
        f"{activity:,} of activity, in {time.perf_counter() - started:.0f} s"
    )
    with connect(args.database_url) as conn:
        with conn.transaction():
            # Foreign keys are checked once at the end (_check_references), not by a
            # trigger per row and key; the indexes are built at the end too.
            conn.execute("SET LOCAL session_replication_role = replica")
            conn.execute("SET LOCAL maintenance_work_mem = '1GB'")
            conn.execute("SET LOCAL max_parallel_maintenance_workers = 0")  # a shared machine
            everyone = len(cast.people) + len(cast.visitors)
            writer = Writer(
                cast, workspace_id=workspace.pk, company_type=company.pk, team_type=team.pk,
                person_pks=_reserve(conn, "analytics_person", everyone),
                group_pks=_reserve(conn, "analytics_group", len(cast.companies) + len(cast.teams)),
            )
            indexes = _drop_event_indexes(conn)
            step = time.perf_counter()
            _copy(conn, "analytics_event", Writer.EVENT_COLUMNS, writer.events(buckets, bits))
            del buckets
            print(f"  events written in {time.perf_counter() - step:.0f} s")
            _copy(conn, "analytics_person", ("id", "workspace_id", "user_id", "traits", "email",
                  "created_at", "last_seen_at", "several_without"), _lines(writer.people()))
            _copy(conn, "analytics_identity", ("workspace_id", "person_id", "kind", "value"),
                  _lines(writer.identities()))
            _copy(conn, "analytics_group", ("id", "workspace_id", "group_type_id", "key",
                  "properties", "created_at", "last_updated", "member_count", "last_active_at"),
                  _lines(writer.groups()))
            _copy(conn, "analytics_groupactivity", ("group_id", "group_type_id", "person_id",
                  "last_active_at"), _lines(writer.group_activity()))
            _copy(conn, "analytics_eventname", ("workspace_id", "name"), _lines(writer.event_names()))
            _copy(conn, "analytics_membership", ("workspace_id", "person_id", "group_id",
                  "group_type_id", "started_at", "ended_at"), _lines(writer.membership_rows()))
            step = time.perf_counter()
            for statement in indexes:
                conn.execute(statement)
            print(f"  {len(indexes)} event indexes built in {time.perf_counter() - step:.0f} s")
            step = time.perf_counter()
            _fill_daily_activity(conn, workspace)
            # The triggers that keep group days are off in this session (replica), so
            # they are filled from the daily activity as migration 0020 does.
            conn.execute(import_module("analytics.migrations.0020_group_day").FILL)
            print(f"  daily activity and group days worked out in {time.perf_counter() - step:.0f} s")
            _check_references(conn, workspace.pk)
            marker = {
                "events": args.events, "seed": args.seed, "until": until.isoformat(),
                "version": GENERATOR_VERSION, "workspace": workspace.pk,
            }
            name = dj_database_url.parse(args.database_url)["NAME"]
            conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(
                sql.Identifier(name), sql.Literal(json.dumps({"bench_reports": marker}))))
    counts = writer.counts
    activity_events = sum(n for (kind, _), n in counts.items() if kind in ACTIVITY_TYPES)
    without = sum(n for (kind, has), n in counts.items() if kind in ACTIVITY_TYPES and not has)
    print(
        f"  {without / activity_events:.1%} of activity events (track, page, screen) carry no "
        f"company; {sum(1 for s in writer.several if s):,} people are flagged for it"
    )
    return marker


def reusable_marker(args):
    """The marker of the data asked for if the database holds it already. Otherwise the
    database is made again, empty (generating into a clean one keeps the event table
    free of the dead rows of an earlier workspace), and None; a database holding any
    other workspace is refused."""
    if create_database_if_missing(args.database_url):
        return None
    with connect(args.database_url) as conn:
        marker = marker_of(conn)
        wanted = {"events": args.events, "seed": args.seed, "version": GENERATOR_VERSION}
        fits = all(marker.get(key) == value for key, value in wanted.items())
        if args.until:
            fits = fits and marker.get("until", "").startswith(args.until.isoformat())
        if fits and not args.regenerate:
            return marker
        if conn.execute("SELECT to_regclass('analytics_workspace')").fetchone()[0]:
            others = conn.execute(
                "SELECT count(*) FROM analytics_workspace WHERE slug <> %s", [SLUG]
            ).fetchone()[0]
            if others:
                sys.exit(f"{dj_database_url.parse(args.database_url)['NAME']} holds other "
                         "workspaces: give the benchmark a database of its own")
    print("Dropping the benchmark database of an earlier run, to generate it again.")
    drop_database(args.database_url)
    create_database_if_missing(args.database_url)
    return None


def workspace_of_size(args, marker):
    """The benchmark workspace and the moment its data ends: the marker's, or generated."""
    from analytics.demo_data import INTERNAL_DOMAIN
    from analytics.models import User, Workspace

    if marker:
        workspace = Workspace.objects.filter(pk=marker["workspace"], slug=SLUG).first()
        if workspace is None:
            sys.exit("The database's marker names a workspace it does not hold: use --regenerate.")
        print(f"Reusing the workspace {SLUG!r} of an earlier run ({args.events:,} events, "
              f"seed {args.seed}, up to {marker['until']}).")
        return workspace, datetime.fromisoformat(marker["until"])
    owner = User.objects.filter(username=OWNER).first() or User.objects.create_user(
        username=OWNER, email=OWNER, password=None
    )
    workspace, _ = Workspace.create(
        name="Reports benchmark", owner=owner, slug=SLUG, group_types=("company", "team")
    )
    workspace.time_zone = TIME_ZONE
    workspace.internal_domains = [INTERNAL_DOMAIN]
    workspace.save()
    if args.until:
        until = datetime.combine(args.until, datetime.max.time(), ZoneInfo(TIME_ZONE))
        until = until.astimezone(UTC).replace(microsecond=0)
    else:
        until = datetime.now(UTC).replace(second=0, microsecond=0)
    print(f"Generating {args.events:,} events over the {WINDOW_DAYS} days up to {until:%Y-%m-%d %H:%M} UTC...")
    started = time.perf_counter()
    load(args, workspace, until)
    print(f"  generated in {time.perf_counter() - started:.0f} s")
    return workspace, until


def vacuum(url):
    started = time.perf_counter()
    with connect(url) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"VACUUM ANALYZE in {time.perf_counter() - started:.1f} s.")


def describe(conn, workspace):
    row = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE type IN ('track', 'page', 'screen')), "
        "count(*) FILTER (WHERE type IN ('track', 'page', 'screen') AND group_0_id IS NULL), "
        "count(DISTINCT name) FILTER (WHERE type = 'track') "
        "FROM analytics_event WHERE workspace_id = %s", [workspace.pk]
    ).fetchone()
    events, activity, without, names = row
    types = conn.execute(
        "SELECT type, count(*) FROM analytics_event WHERE workspace_id = %s GROUP BY 1 "
        "ORDER BY 2 DESC", [workspace.pk]
    ).fetchall()
    people, several = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE several_without <> 0) FROM analytics_person "
        "WHERE workspace_id = %s", [workspace.pk]
    ).fetchone()
    groups = conn.execute(
        "SELECT t.name, count(g.id), max(g.member_count) FROM analytics_grouptype t "
        "LEFT JOIN analytics_group g ON g.group_type_id = t.id WHERE t.workspace_id = %s "
        "GROUP BY t.name, t.slot ORDER BY t.slot", [workspace.pk]
    ).fetchall()
    memberships, ended = conn.execute(
        "SELECT count(*), count(ended_at) FROM analytics_membership WHERE workspace_id = %s",
        [workspace.pk]
    ).fetchone()
    sizes = conn.execute(
        "SELECT pg_size_pretty(pg_database_size(current_database())), "
        "pg_size_pretty(pg_table_size('analytics_event')), "
        "pg_size_pretty(pg_indexes_size('analytics_event'))"
    ).fetchone()
    print(
        f"Workspace: {events:,} events ({', '.join(f'{n:,} {t}' for t, n in types)}; "
        f"{names} track names), {people:,} people ({several:,} flagged in several companies), "
        + ", ".join(f"{n:,} {name} groups (largest {biggest:,} members)" for name, n, biggest in groups)
        + f", {memberships:,} memberships ({ended:,} ended)."
    )
    print(
        f"  {without / max(activity, 1):.1%} of activity events carry no company. Disk: database "
        f"{sizes[0]}, events {sizes[1]} and their indexes {sizes[2]}."
    )
