"""The task worker (manage.py task_worker): it runs what the dashboard queues, in a
process of its own, and a task whose worker died (killed, a restart) runs again by
itself. A deletion interrupted that way finishes exactly once, never in part."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from analytics.models import Deletion, Event, Person, SuppressedUser, TaskWorker
from analytics.worker import requeue_tasks_of_dead_workers
from conftest import ROOT, WorkerProcess, rows_of, wait_until
from journeys import DELETES

# --- which tasks go back to the queue -----------------------------------------------


def running_task(worker_id):
    """A task claimed by ``worker_id``, as a worker leaves it while it runs it."""
    task = DBTaskResult.objects.create(
        task_path="analytics.deletion.run_deletion",
        args_kwargs={"args": [0], "kwargs": {}},
        queue_name="dashboard",
        backend_name="default",
    )
    task.claim(worker_id)
    return task


def test_the_tasks_of_a_dead_worker_go_back_to_the_queue(dead_worker):
    task = running_task(dead_worker.worker_id)
    assert requeue_tasks_of_dead_workers() == [str(task.pk)]
    task.refresh_from_db()
    assert task.status == "READY" and task.worker_ids == ["dead-worker"]
    assert not TaskWorker.objects.exists()  # forgotten once its tasks are back


def test_the_tasks_of_a_live_worker_stay_with_it(live_worker):
    task = running_task(live_worker.worker_id)
    assert requeue_tasks_of_dead_workers() == []
    task.refresh_from_db()
    assert task.status == "RUNNING"
    assert list(TaskWorker.objects.alive()) == [live_worker]


def test_a_worker_that_beats_stays_alive(live_worker):
    TaskWorker.objects.filter(pk=live_worker.pk).update(
        beat_at=timezone.now() - TaskWorker.SILENT_AFTER - timedelta(seconds=1)
    )
    assert live_worker.beat()
    assert list(TaskWorker.objects.alive()) == [live_worker]


def test_a_worker_taken_for_dead_learns_it_at_its_next_beat(live_worker):
    live_worker.delete()
    assert live_worker.beat() is False


def test_the_tasks_of_an_unregistered_worker_are_left_alone(db):
    # A task claimed by django-tasks-db's own db_worker, which does not register.
    task = running_task("db-worker")
    assert requeue_tasks_of_dead_workers() == []
    task.refresh_from_db()
    assert task.status == "RUNNING"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite workers have no lock")
def test_on_postgresql_a_worker_without_its_lock_is_dead_however_recent_its_beat(db):
    worker = TaskWorker.objects.create(worker_id="no-lock")  # beat_at: now
    assert list(TaskWorker.objects.dead()) == [worker]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite workers have no lock")
def test_on_postgresql_a_worker_whose_connection_lost_its_lock_takes_it_again(live_worker):
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock_all()")  # as a lost connection would
    assert not live_worker.is_alive()
    assert live_worker.beat()
    assert live_worker.is_alive()


@pytest.mark.skipif(connection.vendor == "postgresql", reason="PostgreSQL workers hold a lock")
def test_on_sqlite_a_worker_is_dead_once_silent_too_long(db):
    limit = timezone.now() - TaskWorker.SILENT_AFTER
    silent = TaskWorker.objects.create(worker_id="silent", beat_at=limit - timedelta(seconds=1))
    recent = TaskWorker.objects.create(worker_id="recent", beat_at=limit + timedelta(seconds=5))
    assert list(TaskWorker.objects.dead()) == [silent]
    assert list(TaskWorker.objects.alive()) == [recent]


# --- real workers (PostgreSQL) -----------------------------------------------------


SAM_BEFORE = {"person": True, "events": 7, "memberships": 2, "identities": 1}
POSTGRESQL_ONLY = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the SQLite test database is in memory, out of a worker process's reach (the last "
    "test runs a worker on an SQLite file); nor can SQLite hold a deletion mid-way",
)


def ask_to_delete_sam(alice_client):
    """Ask for Sam's deletion (blocking his user id) and wait until a worker holds it
    mid-way: his events deleted inside its transaction, which cannot commit while
    ``held_before_deleting_people`` holds it."""
    sam = Person.objects.by_user_id("sam")
    response = alice_client.post(f"/people/{sam.pk}/delete", {"suppress": "1"})
    wait_until(lambda: Deletion.objects.get().deleted == 7, "the deletion to be held mid-way")
    return response["Location"]


def assert_nothing_deleted(events):
    assert rows_of("sam") == SAM_BEFORE and Event.objects.count() == events
    assert not SuppressedUser.objects.exists()
    assert Deletion.objects.get().status == "running"


def assert_deleted_once(worker_ids):
    """The deletion finished exactly once: one job, done, with every figure right, and
    one task, which succeeded after the attempts of ``worker_ids``."""
    deletion = Deletion.objects.get()
    assert (deletion.status, deletion.deleted, deletion.total) == ("done", 7, 7)
    totals = deletion.summary["totals"]
    assert (totals["people"], totals["events"], totals["memberships"]) == (1, 7, 2)
    assert deletion.summary["people"][0]["user_ids"] == ["sam"]
    # The worker records the task's end just after the deletion's own transaction commits.
    wait_until(lambda: DBTaskResult.objects.get().status != "RUNNING", "the task to be recorded as ended")
    task = DBTaskResult.objects.get()
    assert (task.status, task.return_value, task.worker_ids) == ("SUCCESSFUL", "done", worker_ids)
    assert str(task.pk) == deletion.task_id
    assert rows_of("sam") == {"person": False, "events": 0, "memberships": 0, "identities": 0}
    assert Event.objects.filter(user_id="ann").count() == 3
    assert list(SuppressedUser.objects.values_list("user_id", flat=True)) == ["sam"]


@POSTGRESQL_ONLY
def test_a_second_worker_of_the_same_id_is_refused(start_worker):
    start_worker("twin").wait_for("Starting worker")
    twin = start_worker("twin")
    twin.wait_for("A worker with id 'twin' is running already")
    assert twin.process.wait(30) == 1


@DELETES
@POSTGRESQL_ONLY
def test_a_worker_runs_the_deletion_and_the_page_follows_it(
    alice_client, staff_in_a_customer_account, held_before_deleting_people, start_worker
):
    start_worker()
    progress = ask_to_delete_sam(alice_client)
    page = alice_client.get(progress).content.decode()
    assert "<strong>7</strong> of 7 calls deleted" in page and 'hx-trigger="every 1s"' in page
    # Not final until the job commits: from here, everything is still there.
    assert rows_of("sam") == SAM_BEFORE
    held_before_deleting_people()
    wait_until(lambda: Deletion.objects.get().is_finished, "the deletion to finish")
    assert_deleted_once(["worker"])
    assert "<h1>Deleted Sam Staff (sam)</h1>" in alice_client.get(progress).content.decode()


@DELETES
@POSTGRESQL_ONLY
@pytest.mark.parametrize("stopped", ["killed", "asked to stop twice"])
def test_a_deletion_whose_worker_stops_mid_way_finishes_once_when_a_worker_starts_again(
    alice_client, staff_in_a_customer_account, held_before_deleting_people, start_worker, stopped
):
    events = Event.objects.count()
    first = start_worker("first")
    progress = ask_to_delete_sam(alice_client)
    if stopped == "killed":
        first.kill()  # SIGKILL
    else:
        # A deploy that does not wait, Ctrl-C twice: the first signal would let the task
        # finish, the second stops the worker at once.
        first.signal(signal.SIGTERM)
        first.wait_for("shutting down gracefully")
        first.signal(signal.SIGTERM)
        assert first.process.wait(30) == 1

    # Stopped mid-way: nothing of the deletion was committed, and its task is still
    # marked running (not failed, which would be for good).
    assert_nothing_deleted(events)
    assert DBTaskResult.objects.get().status == "RUNNING"
    # Lift the hold: what the dead worker's connection still held ends, rolled back.
    held_before_deleting_people()
    wait_until(lambda: Deletion.objects.get().is_interrupted, "the dead worker's lock to go")
    page = alice_client.get(progress).content.decode()
    assert "Its worker stopped before it finished (a restart), so nothing was deleted yet" in page
    assert "No task worker is running" in page and "Try again" not in page
    assert_nothing_deleted(events)

    second = start_worker("second")
    wait_until(lambda: Deletion.objects.get().is_finished, "the deletion to finish")
    assert "Tasks of dead workers put back in the queue" in second.log()
    assert_deleted_once(["first", "second"])
    assert "Deleted 1 person and 7 calls" in alice_client.get(progress).content.decode()


@DELETES
@POSTGRESQL_ONLY
def test_a_running_worker_leaves_a_live_workers_task_alone_and_takes_it_once_it_dies(
    alice_client, staff_in_a_customer_account, held_before_deleting_people, start_worker
):
    events = Event.objects.count()
    first = start_worker("first")
    ask_to_delete_sam(alice_client)
    start_worker("second").wait_for("Starting worker")

    def last_beat():
        return TaskWorker.objects.values_list("beat_at", flat=True).get(worker_id="second")

    # Two heartbeats of the second worker, with a full look for the tasks of dead
    # workers between them: the first worker's task stays with it.
    for _ in range(2):
        seen = last_beat()
        wait_until(lambda: last_beat() != seen, "a heartbeat of the second worker")
    task = DBTaskResult.objects.get()
    assert (task.status, task.worker_ids) == ("RUNNING", ["first"])
    assert_nothing_deleted(events)

    first.kill()
    held_before_deleting_people()
    wait_until(lambda: Deletion.objects.get().is_finished, "the deletion to finish")
    assert_deleted_once(["first", "second"])


# --- the demo's set-up: a worker beside the server, on an SQLite file -----------------

DEMO_DATA = """
import json
from datetime import timedelta

import django

django.setup()
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from analytics.deletion import start_deletion
from analytics.ingestion import ingest
from analytics.models import Deletion, Person, TaskWorker, User, Workspace

owner = User.objects.create_user("owner@example.com", "owner@example.com")
workspace, _ = Workspace.create(name="Demo", owner=owner)
calls = [
    {"type": "identify", "userId": "ann", "traits": {"email": "ann@acme.io"}},
    {"type": "track", "userId": "ann", "event": "Report Viewed"},
    {"type": "identify", "userId": "bob", "traits": {"email": "bob@acme.io"}},
    {"type": "track", "userId": "bob", "event": "Report Viewed"},
    {"type": "track", "userId": "bob", "event": "Report Shared"},
]
ingest(workspace, calls, received_at=timezone.now())
ann, bob = (
    start_deletion(workspace=workspace, requested_by=owner, person=Person.objects.get(user_id=user))
    for user in ("ann", "bob")
)
# Bob's deletion as a worker killed in the middle of it leaves it: running, its task
# claimed by a worker whose heartbeat stopped.
killed = TaskWorker.objects.create(
    worker_id="killed", beat_at=timezone.now() - TaskWorker.SILENT_AFTER - timedelta(seconds=1)
)
DBTaskResult.objects.get(pk=Deletion.objects.get(pk=bob.pk).task_id).claim(killed.worker_id)
Deletion.objects.filter(pk=bob.pk).update(status="running")
print(json.dumps({"ann": ann.pk, "bob": bob.pk}))
"""


def python(database_url, *args):
    """Run Python (a script, manage.py) on the database at ``database_url``; its output."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_on_sqlite_a_worker_beside_the_server_runs_what_is_queued(tmp_path):
    """As ``make run`` runs it: a worker process on the SQLite file of the dashboard runs
    a queued deletion, and takes back the one a killed worker left running."""
    path = tmp_path / "demo.sqlite3"
    url = f"sqlite:///{path}"
    python(url, "manage.py", "migrate", "--noinput")
    ids = json.loads(python(url, "-c", DEMO_DATA).splitlines()[-1])

    worker = WorkerProcess("demo", url)
    database = sqlite3.connect(path)

    def statuses():
        rows = database.execute("SELECT id, status FROM analytics_deletion").fetchall()
        return {pk: status for pk, status in rows}

    try:
        wait_until(lambda: set(statuses().values()) == {"done"}, "both deletions to finish")
        assert worker.stop() == 0  # SIGTERM: it stops cleanly
    finally:
        if worker.process.poll() is None:
            worker.kill()
    assert "put back in the queue" in worker.log()
    summaries = dict(database.execute("SELECT id, summary FROM analytics_deletion"))
    assert json.loads(summaries[ids["ann"]])["totals"]["events"] == 2
    assert json.loads(summaries[ids["bob"]])["totals"]["events"] == 3
    tasks = [
        (status, json.loads(workers), json.loads(value))
        for status, workers, value in database.execute(
            "SELECT status, worker_ids, return_value FROM django_tasks_database_dbtaskresult"
            " ORDER BY enqueued_at"
        )
    ]
    assert tasks == [
        ("SUCCESSFUL", ["demo"], "done"),
        ("SUCCESSFUL", ["killed", "demo"], "done"),
    ]
    assert database.execute("SELECT count(*) FROM analytics_person").fetchone() == (0,)
    # Stopped cleanly: registered no more. (Its log says why if not: this failed once
    # in CI, under load, and never alone.)
    registered = database.execute("SELECT worker_id, beat_at FROM analytics_taskworker").fetchall()
    assert registered == [], worker.log()
    database.close()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TCP keepalives are PostgreSQL's")
@pytest.mark.django_db
def test_the_database_ends_the_session_of_a_machine_gone_away_within_a_minute():
    # A worker's lock goes with its session; without keepalives of its own the server
    # would keep the session of a machine that vanished for the system's two hours.
    with connection.cursor() as cursor:
        settings = {}
        for name in ("tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count"):
            cursor.execute(f"SHOW {name}")
            settings[name] = int(cursor.fetchone()[0])
    # Silent for 30 s, then three probes 10 s apart: a minute at most.
    assert settings == {"tcp_keepalives_idle": 30, "tcp_keepalives_interval": 10, "tcp_keepalives_count": 3}
