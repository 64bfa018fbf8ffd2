"""Saved reports: a Trends, Funnels or Retention report kept under a name, as the query
string of its page, and which of them are pinned to the workspace's overview."""

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Max, Q
from django.utils import timezone

from analytics.models.workspaces import Role, User, Workspace


class SavedReportQuerySet(models.QuerySet):
    def for_workspace(self, workspace):
        return self.filter(workspace=workspace)

    def pinned(self):
        """The reports pinned to the overview, in the order they show there."""
        return self.filter(pinned=True).order_by("position", "pk")

    def newest_first(self):
        return self.order_by("-updated_at", "-pk")

    def matching(self, kind: str, query: str):
        """The reports saved from exactly this page: the same kind and query string."""
        return self.filter(kind=kind, query=query)


class SavedReport(models.Model):
    """A report saved by a member: its kind and the query string of its page, which
    reproduces it exactly (``/reports/<kind>?<query>``). The query string is checked by
    the report's own parser before it is saved; it is stored as it was given."""

    class Kind(models.TextChoices):
        TRENDS = "trends", "Trends"
        FUNNELS = "funnels", "Funnels"
        RETENTION = "retention", "Retention"

    MAX_QUERY_LENGTH = 4000
    # Who deletes, pins and unpins anyone's reports (members only their own).
    ROLES_MANAGING_ANY = (Role.ADMIN, Role.OWNER)

    workspace = models.ForeignKey(Workspace, models.CASCADE, related_name="saved_reports")
    kind = models.CharField(max_length=10, choices=Kind)
    name = models.CharField(max_length=120)
    query = models.TextField(blank=True, default="")
    # The account that saved it; the report stays in the workspace if that account goes.
    created_by = models.ForeignKey(
        User, models.SET_NULL, null=True, blank=True, related_name="saved_reports"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    pinned = models.BooleanField(default=False)
    # Where a pinned report shows on the overview, from 1; None when not pinned.
    position = models.PositiveIntegerField(null=True, blank=True)

    objects = SavedReportQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(pinned=True, position__isnull=False)
                | Q(pinned=False, position__isnull=True),
                name="saved_report_pinned_has_position",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["trends", "funnels", "retention"]),
                name="saved_report_kind",
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "-updated_at"], name="saved_report_updated"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self) -> str:
        """The report's page, set up as it was saved."""
        return f"/reports/{self.kind}" + (f"?{self.query}" if self.query else "")

    @classmethod
    def clean_name(cls, name: str) -> str:
        name = " ".join((name or "").split())
        if not name:
            raise ValidationError({"name": "Give the report a name."})
        limit = cls._meta.get_field("name").max_length
        if len(name) > limit:
            raise ValidationError({"name": f"A name has at most {limit} characters."})
        return name

    @classmethod
    def create(cls, *, workspace, kind: str, name: str, query: str, user) -> "SavedReport":
        """Save ``query`` (a query string the report of ``kind`` has already read without
        error) under ``name``, by ``user``."""
        if kind not in cls.Kind.values:
            raise ValidationError({"kind": f"kind must be one of {', '.join(cls.Kind.values)}."})
        if len(query) > cls.MAX_QUERY_LENGTH:
            raise ValidationError(
                {"query": f"This report's settings are too long to save: {len(query)} "
                          f"characters, at most {cls.MAX_QUERY_LENGTH}."}
            )
        return cls.objects.create(
            workspace=workspace, kind=kind, name=cls.clean_name(name), query=query, created_by=user
        )

    # Who may do what: members change their own reports; admins and owners also delete,
    # pin and unpin anyone's (the overview is the whole workspace's). Only the author
    # renames: a name is what its author calls it.

    def is_by(self, user) -> bool:
        return self.created_by_id is not None and self.created_by_id == user.pk

    def may_rename(self, user) -> bool:
        return self.is_by(user)

    def may_delete(self, user, role: str) -> bool:
        return self.is_by(user) or role in self.ROLES_MANAGING_ANY

    may_pin = may_delete

    def rename(self, name: str):
        self.name = self.clean_name(name)
        self.updated_at = timezone.now()
        self.save(update_fields=["name", "updated_at"])

    def pin(self):
        """Show it on the overview, after the reports pinned before it."""
        with transaction.atomic():
            # One pin at a time per workspace, so two never take the same place.
            Workspace.objects.select_for_update().get(pk=self.workspace_id)
            self.refresh_from_db(fields=["pinned", "position"])
            if self.pinned:
                return
            last = SavedReport.objects.filter(workspace_id=self.workspace_id).aggregate(
                last=Max("position")
            )["last"]
            self.pinned, self.position = True, (last or 0) + 1
            self.save(update_fields=["pinned", "position"])

    def unpin(self):
        self.pinned, self.position = False, None
        self.save(update_fields=["pinned", "position"])

    def move(self, *, earlier: bool):
        """Swap places on the overview with the pinned report before it (or after it);
        nothing if it is first (last) or not pinned. The places are numbered 1, 2, … again."""
        with transaction.atomic():
            Workspace.objects.select_for_update().get(pk=self.workspace_id)
            pinned = list(SavedReport.objects.filter(workspace_id=self.workspace_id).pinned())
            at = next((i for i, report in enumerate(pinned) if report.pk == self.pk), None)
            other = None if at is None else at - 1 if earlier else at + 1
            if other is None or not 0 <= other < len(pinned):
                return
            pinned[at], pinned[other] = pinned[other], pinned[at]
            for place, report in enumerate(pinned, 1):
                report.position = place
            SavedReport.objects.bulk_update(pinned, ["position"])
