"""Faults, for real: a PostgreSQL cluster of the test's own is stopped and started while
the unmodified Segment library streams events to gunicorn, and a gunicorn worker is
killed in the middle of storing a batch. Nothing is lost, nothing is stored twice, and
a client is never told a call was stored when it was not.

The cluster is made for the test (initdb in a temporary folder, a free port), never the
shared server the rest of the suite uses, so stopping it disturbs no one.
"""

import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psycopg
import pytest
from django.db import connection
from segment.analytics import Client
from segment.analytics import request as segment_request

BASE_DIR = Path(__file__).resolve().parent.parent
PG_BIN = next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin"))), None)

pytestmark = [
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="the faults are PostgreSQL's (stopped, restarted)"
    ),
    pytest.mark.skipif(PG_BIN is None, reason="PostgreSQL's server programs are not installed"),
    pytest.mark.skipif(
        os.geteuid() != 0 and shutil.which("initdb") is None,
        reason="making a cluster needs initdb: run as root (it runs as postgres) or as a user with initdb",
    ),
]


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """A PostgreSQL cluster of this test module's own, on a free port."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="groupsite-faults-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/groupsite_faults"
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            shutil.chown(self.dir, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        self.sql("CREATE DATABASE groupsite_faults", dbname="postgres")

    def _run(self, program, *args):
        command = [str(PG_BIN / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd=self.dir)

    def start(self):
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "-w", "start")

    def stop(self):
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def sql(self, query, params=(), *, dbname="groupsite_faults"):
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, autocommit=True
        ) as conn:
            cursor = conn.execute(query, params)
            return cursor.fetchall() if cursor.description else None

    def remove(self):
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except subprocess.CalledProcessError:
            pass  # stopped already
        shutil.rmtree(self.dir, ignore_errors=True)


class Server:
    """gunicorn with sync workers, serving Groupsite on the cluster."""

    def __init__(self, cluster, *, workers):
        self.env = {
            **os.environ,
            "DATABASE_URL": cluster.url,
            "SECRET_KEY": "faults-test-only-" + "x" * 40,
            "DEBUG": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
        }
        self.env.pop("PYTEST_VERSION", None)
        self.manage("migrate", "--noinput")
        created = json.loads(self.manage("create_workspace", "Faults", "--owner", "ops@example.com"))
        self.write_key = created["write_key"]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "groupsite.wsgi", "--workers", str(workers),
             "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning", "--timeout", "120"],
            cwd=BASE_DIR, env=self.env,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                assert self.process.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)

    def manage(self, *args):
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=self.env, check=True,
            capture_output=True, text=True,
        ).stdout

    def workers(self):
        """The pids of gunicorn's worker processes."""
        workers = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                # The fields after the command (in parentheses): state, then parent pid.
                parent = int(stat.read_text().rpartition(")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                continue  # ended meanwhile
            if parent == self.process.pid:
                workers.append(int(stat.parent.name))
        return workers

    def post(self, calls, *, timeout=60):
        """POST a batch; returns (status, headers, answer)."""
        auth = base64.b64encode(f"{self.write_key}:".encode()).decode()
        request = urllib.request.Request(
            f"{self.url}/v1/batch", data=json.dumps({"batch": calls}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Basic {auth}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, response.headers, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, error.headers, json.load(error)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def cluster():
    cluster = Cluster()
    yield cluster
    cluster.remove()


@pytest.fixture
def server(cluster):
    cluster.sql("DROP DATABASE IF EXISTS groupsite_faults WITH (FORCE)", dbname="postgres")
    cluster.sql("CREATE DATABASE groupsite_faults", dbname="postgres")
    servers = []

    def serve(workers=2):
        servers.append(Server(cluster, workers=workers))
        return servers[-1]

    yield serve
    for running in servers:
        running.stop()


def stored(cluster, name):
    """(events, distinct values of property n) of the events called ``name``."""
    return tuple(cluster.sql(
        "SELECT count(*), count(DISTINCT properties->>'n') FROM analytics_event WHERE name = %s",
        [name],
    )[0])


def test_a_database_outage_loses_and_doubles_nothing(cluster, server):
    groupsite = server()
    errors = []
    segment = Client(
        groupsite.write_key, host=groupsite.url, upload_size=50, upload_interval=0.05,
        max_retries=30, on_error=lambda error, batch: errors.append(error),
    )
    sent, outage = 3000, {}

    def probe():
        """What a batch sent while the database is down is answered."""
        status, headers, answer = groupsite.post(
            [{"type": "track", "userId": "probe", "event": "Probe", "messageId": "probe-1"}]
        )
        outage.update(status=status, retry_after=headers.get("Retry-After"), answer=answer)

    try:
        for n in range(sent):
            segment.track(f"user-{n % 40}", "Streamed", {"n": n})
            if n == sent // 3:
                cluster.stop()
                probe()
                threading.Timer(6, cluster.start).start()
            time.sleep(0.003)
        segment.flush()
    finally:
        segment.shutdown()
        segment_request._session.close()

    assert outage["status"] == 503, outage
    assert outage["retry_after"] == "5"
    assert outage["answer"]["success"] is False
    assert errors == []
    assert stored(cluster, "Streamed") == (sent, sent)
    # The probe was answered 503, and so it was not stored.
    assert stored(cluster, "Probe") == (0, 0)


def test_a_worker_killed_while_storing_a_batch_stores_all_of_it_or_none(cluster, server):
    groupsite = server(workers=1)
    calls = [
        {"type": "identify", "userId": "ann", "traits": {"email": "ann@acme.io"}, "messageId": "i1"},
        {"type": "group", "userId": "ann", "groupId": "acme", "messageId": "g1"},
        *({"type": "track", "userId": f"u{n % 30}", "event": "Streamed", "properties": {"n": n},
           "context": {"groupId": "acme"}, "messageId": f"t{n}"} for n in range(1000)),
    ]
    # Every event insert waits for an advisory lock this test holds, so the worker is
    # caught in the middle of the batch's transaction: people and groups written,
    # events being copied.
    cluster.sql(
        "CREATE FUNCTION hold_events() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "PERFORM pg_advisory_lock(4343); PERFORM pg_advisory_unlock(4343); RETURN NEW; END $$"
    )
    cluster.sql("CREATE TRIGGER hold_events BEFORE INSERT ON analytics_event "
                "FOR EACH ROW EXECUTE FUNCTION hold_events()")
    holder = psycopg.connect(host="127.0.0.1", port=cluster.port, user="postgres",
                             dbname="groupsite_faults", autocommit=True)
    holder.execute("SELECT pg_advisory_lock(4343)")
    answers = []

    def send():
        try:
            answers.append(groupsite.post(calls, timeout=30))
        except (urllib.error.URLError, ConnectionError):
            pass  # the worker died before it could answer

    sender = threading.Thread(target=send)
    sender.start()
    deadline = time.monotonic() + 30
    while not cluster.sql("SELECT 1 FROM pg_stat_activity WHERE wait_event = 'advisory'"):
        assert time.monotonic() < deadline, "the batch never reached its events"
        time.sleep(0.05)
    (worker,) = groupsite.workers()
    os.kill(worker, signal.SIGKILL)
    sender.join()
    holder.close()

    # The client got no answer (the connection dropped), so it knows to retry; and the
    # database rolled the whole batch back.
    assert answers == [] or answers[0][0] >= 500, answers
    deadline = time.monotonic() + 30
    while cluster.sql("SELECT 1 FROM pg_stat_activity WHERE wait_event = 'advisory'"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    for table in ("analytics_event", "analytics_person", "analytics_group", "analytics_membership"):
        assert cluster.sql(f"SELECT count(*) FROM {table}") == [(0,)], table

    cluster.sql("DROP TRIGGER hold_events ON analytics_event")
    deadline = time.monotonic() + 30
    while len(groupsite.workers()) != 1:  # gunicorn starts a new worker
        assert time.monotonic() < deadline
        time.sleep(0.1)
    status, _, answer = groupsite.post(calls)
    assert (status, answer["stored"]) == (200, 1002), answer
    status, _, answer = groupsite.post(calls)
    assert (status, answer["stored"], answer["duplicates"]) == (200, 0, 1002)
    assert stored(cluster, "Streamed") == (1000, 1000)
    assert cluster.sql("SELECT member_count FROM analytics_group") == [(1,)]
