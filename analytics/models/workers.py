"""Task workers while they run, with their proof of life (analytics/worker.py)."""

from datetime import timedelta

from django.db import connection, connections, models, transaction
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone


class TaskWorkerQuerySet(models.QuerySet):
    def alive(self):
        return self.filter(self._alive())

    def dead(self):
        return self.exclude(self._alive())

    def _alive(self):
        if connections[self.db].vendor == "postgresql":
            # Holding its advisory lock in this database (pg_locks lists every database's).
            held = RawSQL(
                "SELECT objid::bigint FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND classid::bigint = %s AND objsubid = 2",
                [TaskWorker.LOCK_SPACE],
            )
            return Q(pk__in=held)
        return Q(beat_at__gte=timezone.now() - TaskWorker.SILENT_AFTER)


class TaskWorker(models.Model):
    """A task worker process while it runs (``analytics.worker``), with its proof of life.

    On PostgreSQL the proof is an advisory lock held by the connection that registered
    the worker, which the server releases as soon as the process or that connection dies.
    On SQLite it is the heartbeat, ``beat_at``, renewed every few seconds: a worker silent
    for ``SILENT_AFTER`` counts as dead.
    """

    # The first key of the workers' advisory locks (the second is the row's id).
    LOCK_SPACE = 0x7477  # "tw"
    SILENT_AFTER = timedelta(minutes=1)

    worker_id = models.CharField(max_length=64, unique=True)
    started_at = models.DateTimeField(default=timezone.now)
    beat_at = models.DateTimeField(default=timezone.now)

    objects = TaskWorkerQuerySet.as_manager()

    def __str__(self):
        return f"Task worker {self.worker_id}"

    @classmethod
    def register(cls, worker_id):
        """Record this process as the live worker ``worker_id``; on PostgreSQL its lock
        is held by this thread's connection until that connection closes.

        Raises ``IntegrityError`` when a worker of that id is registered already."""
        with transaction.atomic():
            worker = cls.objects.create(worker_id=worker_id)
            # In the same transaction: no one sees the row without its lock.
            worker._lock()
        return worker

    def beat(self):
        """Renew the proof of life. False if the registration is gone: others took this
        worker for dead, and took back its task, while it could not show it was alive."""
        if not TaskWorker.objects.filter(pk=self.pk).update(beat_at=timezone.now()):
            return False
        if connection.vendor == "postgresql" and not self.is_alive():
            self._lock()  # the connection holding it was lost, and the lock with it
        return True

    def is_alive(self):
        return TaskWorker.objects.alive().filter(pk=self.pk).exists()

    def _lock(self):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(%s, %s)", [self.LOCK_SPACE, self.pk])
