"""What ingestion refused or stored only in part: never silent."""

from django.db import models
from django.db.models import Count, Q, Sum
from django.utils import timezone

from analytics.models.workspaces import Workspace


class IngestionProblemQuerySet(models.QuerySet):
    def totals(self):
        """{"rejected_calls": calls refused (a refused batch counts as its calls),
        "warnings": calls stored with part of them ignored}, in one query."""
        return self.aggregate(
            rejected_calls=Sum(
                "call_count", filter=Q(level=IngestionProblem.Level.REJECTED), default=0
            ),
            warnings=Count("pk", filter=Q(level=IngestionProblem.Level.WARNING)),
        )

    def newest_first(self):
        return self.order_by("-received_at", "-pk")


class IngestionProblem(models.Model):
    """A call refused at ingestion, or stored with part of it ignored. Never silent."""

    class Level(models.TextChoices):
        REJECTED = "rejected", "Rejected"
        WARNING = "warning", "Warning"

    workspace = models.ForeignKey(Workspace, models.DB_CASCADE, related_name="ingestion_problems")
    level = models.CharField(max_length=8, choices=Level)
    received_at = models.DateTimeField(default=timezone.now)
    call_type = models.CharField(max_length=20, blank=True, default="")
    message_id = models.CharField(max_length=255, blank=True, default="")
    # Who sent it, so that deleting a person also deletes what they sent that was refused.
    user_id = models.CharField(max_length=255, blank=True, default="")
    anonymous_id = models.CharField(max_length=255, blank=True, default="")
    reason = models.TextField()
    # How many calls this row stands for (a whole refused batch is one row).
    call_count = models.PositiveIntegerField(default=1)
    payload = models.TextField(blank=True, default="", help_text="The start of what was sent.")

    objects = IngestionProblemQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["workspace", "-received_at"], name="problem_recent")]
