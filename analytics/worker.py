"""The task worker (``manage.py task_worker``): runs the background work queued in the
database, and starts again by itself the work of a worker that died.

Tasks (``django.tasks``) are rows of django-tasks-db's table. Its worker marks a task
RUNNING when it claims it and finished when it ends, so a worker that dies in between (a
deploy, ``kill -9``, the machine going down) leaves the task RUNNING for ever. This
worker adds what takes such a task back:

- While it runs, a worker is registered (``TaskWorker``) and keeps proving it is alive:
  on PostgreSQL it holds an advisory lock, which the server releases the moment the
  process or its connection dies; on SQLite it writes a heartbeat every few seconds.
- When it starts, and at every heartbeat after that, a worker puts the RUNNING tasks of
  dead workers back to READY, where the next free worker claims them.
- With ClickHouse as the event store, each heartbeat stores there the events ingestion
  queued (``QueuedEvents``: a call is answered once its events are queued; also every
  second between beats, ``FLUSH_EVERY``), makes there
  the merges of visitors into users recorded but not made yet (a request that recorded one stopped before it
  could), and copies there the memberships changed since the beat before (without
  ClickHouse, it forgets the records of those changes).
- Once an hour, a heartbeat also deletes the receipts of message ids older than they are
  kept (``EventReceipt.KEPT``), which ingestion writes with ClickHouse as the event store.

What that guarantees:

- A task is not lost when its worker dies: it runs again, from the start, once any
  worker is running.
- On PostgreSQL the task of a live worker is never taken back. On SQLite a worker that
  could not write its heartbeat for ``TaskWorker.SILENT_AFTER`` counts as dead: SQLite
  lets one connection write at a time, so a task holding the write lock that long keeps
  its own worker silent, and may then run a second time.
- So a task runs at least once, not exactly once: a task must be safe to run again after
  an interruption, as ``deletion.run_deletion`` is. Tasks claimed by django-tasks-db's
  own ``db_worker``, which does not register, are never taken back.
"""

import logging
import os
import signal
import threading
import time

from django.db import DatabaseError, connection
from django.tasks import TaskResultStatus
from django_tasks_db.management.commands import db_worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction

from analytics import event_store
from analytics.models import EventReceipt, TaskWorker

logger = logging.getLogger(__name__)

# Seconds between a worker's heartbeats, each also a look for tasks of dead workers.
HEARTBEAT = 5.0
# Seconds between two purges of expired receipts of message ids (``EventReceipt``).
PURGE_EVERY = 3600.0
# Seconds between stores of the events ingestion queued (with ClickHouse as the event
# store), between heartbeats too: how long an event waits, but for a read storing first.
FLUSH_EVERY = 1.0
STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGQUIT}


def requeue_tasks_of_dead_workers() -> list[str]:
    """Put the RUNNING tasks of dead workers back to READY and forget those workers;
    returns the ids of the tasks put back. Tasks of live or unregistered workers stay."""
    with exclusive_transaction(DBTaskResult.objects.db):
        # Read before the workers: a worker registers before it claims anything, so the
        # worker of every task read here is seen below, alive or dead.
        running = list(DBTaskResult.objects.running().select_for_update(skip_locked=True))
        dead = set(TaskWorker.objects.dead().values_list("worker_id", flat=True))
        orphans = [
            str(task.pk) for task in running if task.worker_ids and task.worker_ids[-1] in dead
        ]
        DBTaskResult.objects.filter(pk__in=orphans).update(status=TaskResultStatus.READY)
        TaskWorker.objects.filter(worker_id__in=dead).delete()
    if orphans:
        logger.warning("Tasks of dead workers put back in the queue: %s", ", ".join(orphans))
    return orphans


class Heartbeat(threading.Thread):
    """Registers a worker and keeps it alive, in a thread (and a database connection) of
    its own, since the worker itself may be busy with one task for a long time. Each beat
    also takes back the tasks of dead workers."""

    def __init__(self, worker_id, *, every):
        super().__init__(name=f"heartbeat-{worker_id}", daemon=True)
        self.worker_id = worker_id
        self.every = every
        self.worker = None
        self.error = None
        self.registered = threading.Event()
        self.stopping = threading.Event()
        self.purged_at = None  # time.monotonic() of the last purge

    def start_and_register(self):
        """Start beating once registered; raises what prevented the registration."""
        self.start()
        self.registered.wait()
        if self.error is not None:
            raise self.error

    def stop(self):
        """Stop beating and unregister."""
        self.stopping.set()
        self.join()

    def run(self):
        # The signals that stop the worker go to its main thread, which then handles them
        # even while it waits for the database in the middle of a task.
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            self.worker = TaskWorker.register(self.worker_id)
        except Exception as error:  # raised again by start_and_register
            self.error = error
            connection.close()
            return
        finally:
            self.registered.set()
        try:
            beaten = time.monotonic()
            while not self.stopping.wait(min(self.every, FLUSH_EVERY)):
                if time.monotonic() - beaten >= self.every:
                    self.beat()
                    beaten = time.monotonic()
                elif event_store.in_clickhouse():
                    self.flush()
            self.worker.delete()
        finally:
            connection.close()  # and with it, on PostgreSQL, the worker's lock

    def beat(self):
        try:
            if not self.worker.beat():
                logger.warning(
                    "Worker %s was taken for dead; its task may run a second time", self.worker_id
                )
                self.worker = TaskWorker.register(self.worker_id)
            requeue_tasks_of_dead_workers()
            # ClickHouse's work, each step tried again at the next beat if it fails:
            # the events queued by ingestion, stored; merges of visitors into users
            # recorded by requests; the memberships changed since, and the events stored
            # since added to the rollups, so that few wait for the next report.
            self.flush()
            made = self.in_clickhouse("Reassigning events", event_store.apply_reassignments)
            if made:
                logger.info("Made %s reassignment(s) of events in ClickHouse", made)
            self.in_clickhouse("Copying memberships", event_store.sync_memberships)
            self.in_clickhouse("Adding events to the rollups", event_store.catch_up_rollups)
            if self.purged_at is None or time.monotonic() - self.purged_at >= PURGE_EVERY:
                purged = event_store.purge_receipts()
                self.purged_at = time.monotonic()
                if purged:
                    logger.info("Purged %s receipts of message ids older than %s", purged, EventReceipt.KEPT)
                self.in_clickhouse("Forgetting calls held twice", event_store.purge_duplicate_windows)
        except DatabaseError as error:
            logger.warning("Heartbeat of worker %s failed, trying again: %s", self.worker_id, error)
            # A broken connection took the lock with it: the next beat reconnects and locks.
            connection.close()

    def flush(self):
        """Store in ClickHouse the events queued since (each beat does too)."""
        try:
            self.in_clickhouse("Storing queued events", event_store.flush_queued)
        except DatabaseError as error:
            logger.warning("Storing queued events of worker %s failed, trying again: %s", self.worker_id, error)
            # A deadlock or a lock waited for too long leaves the connection usable, and
            # with it the worker's lock; a broken one is reconnected by the next beat.
            if not connection.is_usable():
                connection.close()

    def in_clickhouse(self, what: str, step):
        """``step()``'s result; None, logged, if ClickHouse failed (not the main
        database: the beat's own handling reconnects)."""
        try:
            return step()
        except DatabaseError:
            raise
        except Exception as error:  # ClickHouse's
            logger.warning("%s in ClickHouse failed, trying again: %s", what, error)
            return None


class Worker(db_worker.Worker):
    """django-tasks-db's worker, registered while it runs, which takes back the tasks of
    dead workers when it starts and at every heartbeat."""

    def __init__(self, *, heartbeat=HEARTBEAT, **options):
        super().__init__(**options)
        self.heartbeat = Heartbeat(self.worker_id, every=heartbeat)
        self.stop_signals = 0

    def run(self):
        try:
            requeue_tasks_of_dead_workers()
            self.heartbeat.start_and_register()
            super().run()
        finally:
            if self.heartbeat.is_alive():
                self.heartbeat.stop()

    def shutdown(self, signum, frame):
        # Counted first: a second signal may interrupt the handling of the first.
        self.stop_signals += 1
        if self.stop_signals > 1:
            # Asked twice: stop at once, as a killed worker would. The task's transaction
            # is rolled back and the task goes back to the queue, where ending it by an
            # exception would record it as failed, for good.
            logger.warning("Received %s again: stopping now", signal.strsignal(signum))
            os._exit(1)
        super().shutdown(signum, frame)
