"""Deletions of people asked for in the dashboard, and the user ids they suppress."""

from contextlib import contextmanager

from django.db import connection, models
from django.db.models import Q
from django.tasks import TaskResultStatus, default_task_backend
from django.tasks.exceptions import TaskResultDoesNotExist
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property

from analytics.models.people import Person
from analytics.models.workers import TaskWorker
from analytics.models.workspaces import Workspace


class SuppressedUser(models.Model):
    """A deleted user id whose later calls are refused."""

    workspace = models.ForeignKey(Workspace, models.DB_CASCADE, related_name="suppressed_users")
    user_id = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user_id"], name="suppressed_user_unique"),
        ]


class DeletionQuerySet(models.QuerySet):
    def pending(self):
        """Deletions queued or running (``is_abandoned`` tells the ones that never will)."""
        return self.filter(status__in=[Deletion.Status.QUEUED, Deletion.Status.RUNNING])

    def pending_for(self, person):
        """The deletion of this person that is queued or running, if any."""
        return next((d for d in self.pending().filter(person=person) if not d.is_abandoned), None)


class Deletion(models.Model):
    """A deletion asked for in the dashboard, of one person or of everyone at an email
    domain, run in the background by a task worker (``deletion.run_deletion``). The row
    is the job: its status, its progress, then what went or why nothing did."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    # Where other requests read the progress while the deletion's transaction is open.
    PROGRESS_DATABASE = "progress"
    # The first key of the advisory locks (the second is the deletion's id).
    LOCK_SPACE = 0x6470  # "dp"

    workspace = models.ForeignKey(Workspace, models.DB_CASCADE, related_name="deletions")
    # The email of the account that asked. Not a key to User: a model cannot mix the
    # database's on_delete rules (person, below) with Django's (those of User), and the
    # record should outlive the account anyway.
    requested_by = models.CharField(max_length=254, blank=True, default="")
    # Set for the deletion of one person; the database empties it once they are gone.
    person = models.ForeignKey(Person, models.DB_SET_NULL, null=True, blank=True, related_name="+")
    # Set for the deletion of everyone at this domain.
    email_domain = models.CharField(max_length=253, blank=True, default="")
    # Who is deleted, as the pages name them, kept for when they are gone.
    label = models.CharField(max_length=255)
    suppress = models.BooleanField(default=False)
    status = models.CharField(max_length=8, choices=Status, default=Status.QUEUED)
    total = models.PositiveBigIntegerField(default=0, help_text="Events to delete.")
    deleted = models.PositiveBigIntegerField(default=0, help_text="Events deleted so far.")
    # What went, as ``BulkDeletion.as_json()``, once done.
    summary = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")
    # The id of the task that runs it (django.tasks), stored with the job.
    task_id = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = DeletionQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(person__isnull=True) | Q(email_domain=""),
                name="deletion_of_a_person_or_a_domain",
            ),
        ]

    def __str__(self):
        return f"Deletion of {self.label}"

    def get_absolute_url(self):
        return reverse("deletion", args=[self.pk])

    @property
    def is_finished(self):
        return self.status in {self.Status.DONE, self.Status.FAILED}

    @cached_property
    def is_interrupted(self):
        """Whether it was running when its worker stopped (a restart, a crash), which
        rolled its transaction back: nothing was deleted, and a worker starts it again by
        itself (``analytics.worker``)."""
        if self.status != self.Status.RUNNING:
            return False
        if connection.vendor == "postgresql":
            # The lock goes with the runner's connection: free means no one runs it.
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [self.LOCK_SPACE, self.pk])
                if not cursor.fetchone()[0]:
                    return False
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [self.LOCK_SPACE, self.pk])
        elif not default_task_backend.supports_get_result:
            return False  # run by the request that asked for it
        else:
            task = self._task()
            if task is not None and task.status == TaskResultStatus.RUNNING:
                if TaskWorker.objects.alive().filter(worker_id=task.worker_ids[-1]).exists():
                    return False
        return not self._finished_since()

    @cached_property
    def is_abandoned(self):
        """Whether it will never finish: its task ended without finishing it (it failed
        before it could record why) or is gone. Nothing was deleted; it can be asked again."""
        if self.is_finished or not default_task_backend.supports_get_result:
            return False
        task = self._task()
        if task is not None and not task.is_finished:
            return False
        return not self._finished_since()

    def _task(self):
        """The task that runs it (a django.tasks ``TaskResult``), None if it is gone."""
        try:
            return default_task_backend.get_result(self.task_id)
        except TaskResultDoesNotExist:
            return None

    def _finished_since(self):
        """Whether it finished since this instance was read."""
        return Deletion.objects.filter(
            pk=self.pk, status__in=[self.Status.DONE, self.Status.FAILED]
        ).exists()

    @contextmanager
    def running(self):
        """Hold the advisory lock that tells others this deletion is alive (PostgreSQL),
        waiting first for any other holder: another run of it, or what is left of one
        whose process died (its connection, until the server notices)."""
        if connection.vendor != "postgresql":
            yield
            return
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", [self.LOCK_SPACE, self.pk])
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [self.LOCK_SPACE, self.pk])

    def people(self):
        """The people this deletion removes (none once a deleted person is gone)."""
        people = Person.objects.filter(workspace_id=self.workspace_id)
        if self.email_domain:
            return people.with_email_domain(self.email_domain)
        return people.filter(pk=self.person_id) if self.person_id else people.none()

    def report_progress(self, deleted, total):
        """Record progress where other requests see it at once: through a second
        connection, in autocommit, since the deletion's own transaction is still open."""
        Deletion.objects.using(self.PROGRESS_DATABASE).filter(pk=self.pk).update(
            deleted=deleted, total=total
        )

    @property
    def blocked_user_ids(self):
        """The user ids refused from now on, once a deletion with ``suppress`` is done."""
        if not self.suppress:
            return []
        people = self.summary.get("people", [])
        ids = (user_id for p in people for user_id in [*p["user_ids"], p["user_id"]] if user_id)
        return list(dict.fromkeys(ids))
