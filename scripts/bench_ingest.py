"""Ingestion throughput over HTTP against PostgreSQL's raw COPY rate, on this machine.

    .venv/bin/python scripts/bench_ingest.py \
        --database-url postgres://postgres@127.0.0.1:5432/groupsite_bench

1. Migrates the database (created if missing, and then dropped at the end) and creates a
   benchmark workspace with the company and team group types.
2. Starts gunicorn on a free port: sync workers, or gthread ones with --threads above 1.
3. Warm-up, not timed: an identify and a group call for every user, as a live product
   would have sent long before, so people, groups and memberships exist; then VACUUM ANALYZE,
   as autovacuum would have by then.
4. Timed: --events calls in batches of --batch-size (mostly track calls naming their
   company and team, some identify and group calls, distinct message ids), prepared as
   JSON bodies beforehand and posted to /v1/batch by --clients threads with http.client.
5. Timed: the same number of the rows the server just wrote, with new message ids, COPY'd
   into the event table by psycopg, in two ways: as Python rows (``write_row``, what a
   Python writer pays at least) and as raw COPY text prepared beforehand (the database
   alone); each --copy-rounds times, the best round counting.
6. Prints events/s, rows/s and the ratio, then deletes the workspace (or drops the
   database it created).
7. With --clickhouse PATH, steps 2 to 4 again with ClickHouse as the event store
   (``CLICKHOUSE_URL``: its embedded engine, chdb, keeping its data at PATH), in a
   workspace of its own, with the same calls: the two HTTP rates side by side. The
   embedded engine's directory is held by one process, so both runs then use one
   gunicorn worker (a real ClickHouse server takes any number of clients). Ingestion
   queues the events in the main database; the task worker, running beside gunicorn
   as on a live deployment, stores them in ClickHouse, and the time counted ends once
   it has stored the last one.
"""

import argparse
import base64
import http.client
import json
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import dj_database_url
import psycopg

BASE_DIR = Path(__file__).resolve().parent.parent
TARGET_RATIO = 0.20
EVENT_NAMES = (
    ("Report Viewed", 30),
    ("Feature Used", 25),
    ("Dashboard Viewed", 15),
    ("Search Performed", 8),
    ("Report Created", 5),
    ("Dashboard Created", 3),
    ("Report Exported", 3),
    ("Invite Sent", 2),
)
LIBRARY = {"name": "analytics-python", "version": "2.4.0"}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url", required=True, help="postgres://... (a database of its own)"
    )
    parser.add_argument(
        "--events", type=int, default=100_000, help="timed calls (default: %(default)s)"
    )
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client connections")
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--companies", type=int, default=1000)
    parser.add_argument(
        "--copy-rounds", type=int, default=3, help="times each COPY is measured (the best counts)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the workspace and its data")
    parser.add_argument(
        "--clickhouse", metavar="PATH",
        help="also ingest with ClickHouse's embedded engine (chdb) at PATH as the event store",
    )
    args = parser.parse_args()
    if args.clickhouse:
        args.clickhouse = os.path.abspath(args.clickhouse)
        args.workers = 1  # one process holds the embedded engine's directory
    return args


# --- the database ---------------------------------------------------------------------


def connect(url, dbname=None):
    db = dj_database_url.parse(url)
    return psycopg.connect(
        dbname=dbname or db["NAME"],
        user=db["USER"] or None,
        password=db["PASSWORD"] or None,
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        autocommit=True,
    )


def create_database_if_missing(url) -> bool:
    name = dj_database_url.parse(url)["NAME"]
    with connect(url, "postgres") as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            return False
        conn.execute(f'CREATE DATABASE "{name}"')
        return True


def drop_database(url):
    name = dj_database_url.parse(url)["NAME"]
    with connect(url, "postgres") as conn:
        conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def setup_django(url, secret_key):
    os.environ.update(
        DATABASE_URL=url,
        SECRET_KEY=secret_key,
        DEBUG="0",
        DJANGO_SETTINGS_MODULE="groupsite.settings",
        # Far above what it sends: the budget is counted, as on a live server, but never hit.
        INGEST_CALLS_PER_MINUTE="1000000000",
    )
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def create_workspace():
    from analytics.models import User, Workspace

    owner, _ = User.objects.get_or_create(
        username="bench@groupsite.local", email="bench@groupsite.local"
    )
    workspace, _ = Workspace.create(
        name="Benchmark",
        owner=owner,
        slug=f"bench-{secrets.token_hex(4)}",
        group_types=("company", "team"),
    )
    return workspace


# --- the server -----------------------------------------------------------------------


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(args, port, env=None):
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "groupsite.wsgi",
        "--workers",
        str(args.workers),
        # One thread per worker runs as gunicorn's plain sync worker: gthread's
        # connection-handling thread costs the request thread GIL switches (the People
        # page took 165 ms there against 100 ms in a sync worker).
        "--worker-class",
        "sync" if args.threads == 1 else "gthread",
        "--threads",
        str(args.threads),
        "--bind",
        f"127.0.0.1:{port}",
        "--keep-alive",
        "30",
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(command, cwd=BASE_DIR, env={**os.environ, **(env or {})})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit("gunicorn exited at start-up")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.2)
    server.terminate()
    sys.exit("gunicorn did not start listening within 30 s")


# --- the calls ------------------------------------------------------------------------


class Population:
    """Users spread over companies and teams, as the calls name them."""

    def __init__(self, rng, users, companies):
        self.rng = rng
        self.companies = [f"acc_{n:05d}" for n in range(companies)]
        self.users = [f"usr_{n:06d}" for n in range(users)]
        self.company_of = {user: rng.choice(self.companies) for user in self.users}
        self.team_of = {
            user: f"{self.company_of[user]}-team-{rng.randrange(3)}" for user in self.users
        }

    def identify(self, user):
        return {
            "type": "identify",
            "userId": user,
            "traits": {
                "email": f"{user}@{self.company_of[user]}.example",
                "name": user.title(),
                "role": self.rng.choice(("admin", "member", "viewer")),
            },
        }

    def group(self, user, team=False):
        if team:
            return {
                "type": "group",
                "userId": user,
                "groupId": self.team_of[user],
                "traits": {"name": "Team"},
                "context": {"groupType": "team"},
            }
        company = self.company_of[user]
        return {
            "type": "group",
            "userId": user,
            "groupId": company,
            "traits": {
                "name": company.upper(),
                "plan": self.rng.choice(("free", "pro")),
                "employees": 42,
            },
        }

    def track(self, user):
        names, weights = zip(*EVENT_NAMES)
        return {
            "type": "track",
            "userId": user,
            "event": self.rng.choices(names, weights)[0],
            "properties": {
                "report_id": f"rep_{self.rng.randrange(5000)}",
                "duration_ms": self.rng.randrange(20, 4000),
            },
            "context": {"groups": {"company": self.company_of[user], "team": self.team_of[user]}},
        }

    def call(self):
        user = self.rng.choice(self.users)
        roll = self.rng.random()
        if roll < 0.03:
            return self.identify(user)
        if roll < 0.05:
            return self.group(user)
        return self.track(user)


def body_of(calls):
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    for call in calls:
        call.update(messageId=str(uuid.uuid4()), timestamp=now)
        call.setdefault("context", {})["library"] = LIBRARY
    return json.dumps({"batch": calls, "sentAt": now}).encode()


def warm_up_bodies(population, batch_size):
    calls = [population.identify(user) for user in population.users]
    calls += [population.group(user) for user in population.users]
    calls += [population.group(user, team=True) for user in population.users]
    return [body_of(calls[n : n + batch_size]) for n in range(0, len(calls), batch_size)]


def timed_bodies(population, events, batch_size):
    return [
        body_of([population.call() for _ in range(min(batch_size, events - n))])
        for n in range(0, events, batch_size)
    ]


# --- sending --------------------------------------------------------------------------


class Tally:
    """What the client saw: accepted calls, retries, latencies and the server's own timings."""

    def __init__(self):
        self.lock = threading.Lock()
        self.accepted = 0
        self.retried = 0
        self.failures = []
        self.latencies = []
        self.app_ms = self.db_ms = self.queries = 0.0

    def server_timing(self, header):
        # Server-Timing: app;dur=12.3, db;dur=4.5;desc="16 queries"
        for part in header.split(","):
            name, _, rest = part.strip().partition(";")
            duration = float(rest.split("dur=")[1].split(";")[0]) if "dur=" in rest else 0.0
            if name == "app":
                self.app_ms += duration
            elif name == "db":
                self.db_ms += duration
                self.queries += int(rest.split('desc="')[1].split()[0]) if 'desc="' in rest else 0


def send_all(bodies, *, port, write_key, clients, retries=5):
    """Post every body with ``clients`` keep-alive connections, retrying failures as
    Segment's libraries do; returns (seconds, tally)."""
    auth = "Basic " + base64.b64encode(f"{write_key}:".encode()).decode()
    headers = {"Authorization": auth, "Content-Type": "application/json"}
    queue = iter(range(len(bodies)))
    tally = Tally()

    def client():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        while True:
            with tally.lock:
                n = next(queue, None)
            if n is None:
                break
            for attempt in range(retries + 1):
                started = time.perf_counter()
                conn.request("POST", "/v1/batch", bodies[n], headers)
                response = conn.getresponse()
                payload = response.read()
                with tally.lock:
                    tally.latencies.append(time.perf_counter() - started)
                    tally.server_timing(response.getheader("Server-Timing", ""))
                    if response.status == 200:
                        result = json.loads(payload)
                        tally.accepted += result["stored"] + result["duplicates"]
                        break
                    tally.retried += 1
                    tally.failures.append((response.status, payload[:200]))
                time.sleep(0.1 * 2**attempt)
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - started
    if tally.failures:
        print(
            f"  {len(tally.failures)} request(s) failed and were retried, e.g. {tally.failures[0]}"
        )
    return seconds, tally


# --- COPY -----------------------------------------------------------------------------


def event_columns(conn):
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = 'analytics_event' AND column_name <> 'id' ORDER BY ordinal_position"
    ).fetchall()
    return [name for (name,) in rows]


def stored_rows(conn, workspace_id, columns, count, prefix):
    """``count`` rows as the server stored them, as Python values, each with a new message id."""
    select = ", ".join(f"{c}::text" if c in ("properties", "context") else c for c in columns)
    rows = conn.execute(
        f"SELECT {select} FROM analytics_event WHERE workspace_id = %s ORDER BY id DESC LIMIT %s",
        [workspace_id, count],
    ).fetchall()
    at = columns.index("message_id")
    return [(*row[:at], f"{prefix}-{n}", *row[at + 1 :]) for n, row in enumerate(rows)]


def stored_copy_text(conn, workspace_id, columns, count, prefix) -> bytes:
    """The same as COPY text, rendered by the server beforehand, each with a new message id."""
    select = ", ".join(
        f"'{prefix}-' || id AS message_id" if c == "message_id" else c for c in columns
    )
    chunks = []
    with conn.cursor().copy(
        f"COPY (SELECT {select} FROM analytics_event WHERE workspace_id = {int(workspace_id)} "
        f"ORDER BY id DESC LIMIT {int(count)}) TO STDOUT"
    ) as copy:
        for chunk in copy:
            chunks.append(bytes(chunk))
    return b"".join(chunks)


def copy_rows(conn, columns, rows):
    started = time.perf_counter()
    statement = f"COPY analytics_event ({', '.join(columns)}) FROM STDIN"
    with conn.transaction(), conn.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)
    return time.perf_counter() - started


def copy_text(conn, columns, data):
    started = time.perf_counter()
    statement = f"COPY analytics_event ({', '.join(columns)}) FROM STDIN"
    with conn.transaction(), conn.cursor() as cursor, cursor.copy(statement) as copy:
        for n in range(0, len(data), 1 << 20):
            copy.write(data[n : n + (1 << 20)])
    return time.perf_counter() - started


# --- the run --------------------------------------------------------------------------


def start_task_worker(env):
    """The task worker (``manage.py task_worker``), which stores the events ingestion
    queued with ClickHouse as the event store, as on a live deployment."""
    return subprocess.Popen(
        [sys.executable, "manage.py", "task_worker"], cwd=BASE_DIR, env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
    )


def queued(args, workspace) -> int:
    """How many batches of ``workspace``'s events wait in the queue (``QueuedEvents``)."""
    with connect(args.database_url) as conn:
        return conn.execute(
            "SELECT count(*) FROM analytics_queuedevents WHERE workspace_id = %s", [workspace.pk]
        ).fetchone()[0]


def measure_http(args, workspace, warm_up, bodies, env=None):
    """Steps 2 to 4 for ``workspace``, the server's environment with ``env``: prints
    the rate and returns it with the tally. With ClickHouse (``env``), the task worker
    runs beside the server, and the time counted ends once it has stored every event
    queued: the rate is of events stored in ClickHouse, not only answered."""
    port = free_port()
    server = start_server(args, port, env)
    worker = start_task_worker(env) if env else None
    drained = 0.0
    try:
        seconds, _ = send_all(
            warm_up, port=port, write_key=workspace.write_key, clients=args.clients
        )
        print(
            f"Warm-up: {len(warm_up) * args.batch_size:,} identify and group calls "
            f"in {seconds:.1f} s."
        )
        with connect(args.database_url) as conn:
            # What autovacuum would have done by now on a live server (it may be off here).
            conn.execute("VACUUM ANALYZE")
        started = time.monotonic()
        answered, tally = send_all(
            bodies, port=port, write_key=workspace.write_key, clients=args.clients
        )
        seconds = answered
        if worker is not None:
            deadline = time.monotonic() + 300
            while queued(args, workspace):
                if worker.poll() is not None:
                    sys.exit("the task worker exited")
                if time.monotonic() > deadline:
                    sys.exit("the task worker did not store the queued events within 5 minutes")
                time.sleep(0.05)
            seconds = time.monotonic() - started
            drained = seconds - answered
    finally:
        server.terminate()
        server.wait()
        if worker is not None:
            worker.terminate()
            worker.wait()
    if worker is not None:
        print(
            f"  all answered in {answered:.1f} s ({tally.accepted / answered:,.0f} events/s); "
            f"the last queued stored in ClickHouse {drained:.1f} s after"
        )
    http_rate = tally.accepted / seconds
    latencies = sorted(tally.latencies)
    requests = len(latencies)
    print(
        f"HTTP:  {tally.accepted:,} events in {seconds:.1f} s = {http_rate:,.0f} events/s "
        f"({requests / seconds:,.1f} requests/s; "
        f"latency p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {latencies[int(requests * 0.95)] * 1000:.0f} ms; {tally.retried} retried)"
    )
    print(
        f"  server time per request: {tally.app_ms / requests:.1f} ms in Django, of which "
        f"{tally.db_ms / requests:.1f} ms in {tally.queries / requests:.0f} queries"
    )
    if tally.accepted != args.events:
        print(f"  warning: the server accepted {tally.accepted:,} of {args.events:,} calls")
    return http_rate, tally


def main():
    args = parse_args()
    created = create_database_if_missing(args.database_url)
    setup_django(args.database_url, secret_key=secrets.token_urlsafe(32))
    workspace = create_workspace()
    print(
        f"Machine: {os.cpu_count()} CPU(s). Server: gunicorn, {args.workers} worker(s) x "
        f"{args.threads} thread(s). Client: {args.clients} keep-alive connection(s), "
        f"batches of {args.batch_size}. "
        f"Population: {args.users:,} users in {args.companies:,} companies."
    )
    population = Population(random.Random(1), args.users, args.companies)
    warm_up = warm_up_bodies(population, args.batch_size)
    bodies = timed_bodies(population, args.events, args.batch_size)
    print(
        f"Prepared {len(bodies):,} bodies "
        f"({sum(map(len, bodies)) / len(bodies) / 1024:.1f} KB each)."
    )
    http_rate, tally = measure_http(args, workspace, warm_up, bodies)
    in_clickhouse = None
    if args.clickhouse:
        url = f"chdb://{args.clickhouse}?database=bench_ingest"
        env = {"CLICKHOUSE_URL": url}
        subprocess.run(
            [sys.executable, "manage.py", "clickhouse_schema"], cwd=BASE_DIR,
            env={**os.environ, **env}, check=True, stdout=subprocess.DEVNULL,
        )
        in_clickhouse = create_workspace()
        print("With ClickHouse (chdb) as the event store, the same calls, another workspace:")
        clickhouse_rate, _ = measure_http(args, in_clickhouse, warm_up, bodies, env=env)
        held = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c",
             "from analytics import event_store; "
             f"print(event_store.count(event_store.Selection({in_clickhouse.pk})))"],
            cwd=BASE_DIR, env={**os.environ, **env}, check=True, capture_output=True, text=True,
        ).stdout.strip().splitlines()[-1]
        print(
            f"ClickHouse holds {int(held):,} events of the workspace; HTTP with ClickHouse / "
            f"with PostgreSQL = {clickhouse_rate / http_rate:.2f}"
        )

    # COPY rates swing by a third from run to run on a small machine: each is measured
    # --copy-rounds times and the best counts, which only makes the target harder.
    rows_times, text_times = [], []
    with connect(args.database_url) as conn:
        columns = event_columns(conn)
        for round in range(args.copy_rounds):
            text = stored_copy_text(conn, workspace.pk, columns, args.events, f"copy-text-{round}")
            rows = stored_rows(conn, workspace.pk, columns, args.events, f"copy-rows-{round}")
            rows_times.append(copy_rows(conn, columns, rows))
            text_times.append(copy_text(conn, columns, text))
            conn.execute("VACUUM ANALYZE analytics_event")
    count = len(rows)
    rows_rate, text_rate = count / min(rows_times), count / min(text_times)
    print(
        f"COPY (Python rows, write_row):  {count:,} rows, best of {len(rows_times)} in "
        f"{min(rows_times):.1f} s = {rows_rate:,.0f} rows/s "
        f"(all: {', '.join(f'{count / t:,.0f}' for t in rows_times)})"
    )
    print(
        f"COPY (raw text, prepared):      {count:,} rows, best of {len(text_times)} in "
        f"{min(text_times):.1f} s = {text_rate:,.0f} rows/s "
        f"(all: {', '.join(f'{count / t:,.0f}' for t in text_times)})"
    )
    ratio = http_rate / text_rate
    print(
        f"HTTP / raw COPY = {ratio:.1%} (target {TARGET_RATIO:.0%}: "
        f"{'met' if ratio >= TARGET_RATIO else 'NOT met'}); "
        f"HTTP / COPY of Python rows = {http_rate / rows_rate:.1%}"
    )

    if args.keep:
        print(
            f"Kept the workspace {workspace.slug!r} "
            f"in {dj_database_url.parse(args.database_url)['NAME']}."
        )
    elif created:
        from django.db import connections

        connections.close_all()
        drop_database(args.database_url)
        print("Dropped the benchmark database.")
    else:
        workspace.delete()
        print(f"Deleted the workspace {workspace.slug!r} and its data.")
        if in_clickhouse is not None:
            in_clickhouse.delete()  # its events stay in chdb's directory, which is the caller's


if __name__ == "__main__":
    main()
