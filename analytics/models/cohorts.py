"""Cohorts: saved definitions of users, or of groups of one type, that filter reports and
the People and Groups lists.

A cohort is a list of conditions that must all hold: behaviour (did an event at least N
times in the last D days, or not), a person trait or group property, or (for users)
being in a group of a type whose property matches. ``Cohort.members`` compiles them into
one query of ids that the database answers; no event is read into Python.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Func, IntegerField, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from analytics.models.events import event_label
from analytics.models.groups import Group, GroupType
from analytics.models.people import Membership, Person
from analytics.models.properties import NEEDS_VALUE, NUMERIC, OPERATORS, property_q
from analytics.models.workspaces import Workspace

BEHAVIOUR, PROPERTY, MEMBERSHIP = "behaviour", "property", "membership"
KINDS = {
    BEHAVIOUR: "Did an event",
    PROPERTY: "Has a property",
    MEMBERSHIP: "Is in a group",
}
MAX_TIMES = 1_000_000
MAX_DAYS = 3 * 366  # as far back as a report reads
MAX_CONDITIONS = 20
WEEKS_SHOWN = 12


@dataclass(frozen=True)
class Condition:
    """One condition of a cohort, as stored (``to_json``) in its ``conditions``.

    - behaviour: did (or, ``did=False``, did not) ``event`` ("" any event, ``$page``,
      ``$screen`` or a track call's name) at least ``times`` times in the ``days`` days
      before the moment the cohort is evaluated at;
    - property: the person's trait (a user cohort) or the group's property (a group
      cohort) ``key`` passes ``op`` ``value``, the operators of report filters;
    - membership (user cohorts): in a group of the type named ``group_type`` whose
      property ``key`` passes ``op`` ``value`` (any group of the type if ``key`` is "").
    """

    kind: str
    did: bool = True
    event: str = ""
    times: int = 1
    days: int = 30
    group_type: str = ""
    key: str = ""
    op: str = "eq"
    value: str = ""

    STORED = {
        BEHAVIOUR: ("kind", "did", "event", "times", "days"),
        PROPERTY: ("kind", "key", "op", "value"),
        MEMBERSHIP: ("kind", "group_type", "key", "op", "value"),
    }

    @classmethod
    def of_behaviour(cls, event: str, *, did=True, times=1, days=30) -> Condition:
        return cls(BEHAVIOUR, did=did, event=event, times=times, days=days)

    @classmethod
    def of_property(cls, key: str, op: str, value="") -> Condition:
        return cls(PROPERTY, key=key, op=op, value=value)

    @classmethod
    def of_membership(cls, group_type: str, key="", op="eq", value="") -> Condition:
        return cls(MEMBERSHIP, group_type=group_type, key=key, op=op, value=value)

    @classmethod
    def from_json(cls, data: dict) -> Condition:
        names = {f.name for f in fields(cls)}
        return cls(**{name: value for name, value in data.items() if name in names})

    def to_json(self) -> dict:
        return {name: getattr(self, name) for name in self.STORED[self.kind]}

    def check(self, *, for_groups: bool, type_names) -> None:
        """ValidationError, saying why, unless this condition can be evaluated in a cohort
        of groups (``for_groups``) or of users, in a workspace with these group types."""
        if self.kind not in KINDS:
            raise ValidationError(f"A condition is one of {', '.join(KINDS)}; not “{self.kind}”.")
        if self.kind == BEHAVIOUR:
            if len(self.event) > 255:
                raise ValidationError("An event name has at most 255 characters.")
            if not 1 <= self.times <= MAX_TIMES:
                raise ValidationError(f"“At least” is a number of times from 1 to {MAX_TIMES:,}.")
            if not 1 <= self.days <= MAX_DAYS:
                raise ValidationError(f"“In the last” is a number of days from 1 to {MAX_DAYS:,}.")
            return
        if self.kind == MEMBERSHIP:
            if for_groups:
                raise ValidationError("Being in a group is a condition on users: this cohort is of groups.")
            if self.group_type not in type_names:
                raise ValidationError(f"This workspace has no group type “{self.group_type}”.")
            if not self.key:
                return  # any group of the type
        if not self.key:
            raise ValidationError("A property condition needs the name of the property to look at.")
        if self.op not in OPERATORS:
            raise ValidationError(f"The operator is one of {', '.join(OPERATORS)}; not “{self.op}”.")
        if self.op in NEEDS_VALUE and self.value == "":
            raise ValidationError(f"“{self.key} {OPERATORS[self.op]}” needs a value to compare with.")
        if self.op in NUMERIC:
            try:
                float(self.value)
            except ValueError:
                raise ValidationError(f"“{self.key} {OPERATORS[self.op]}” compares numbers; “{self.value}” is not one.") from None

    def describe(self, *, for_groups: bool, types: dict[str, GroupType]) -> str:
        """The condition in words: "Did “export” at least 3 times in the last 30 days"."""
        if self.kind == BEHAVIOUR:
            what = "any event" if not self.event else f"“{event_label(self.event)}”"
            days = "day" if self.days == 1 else f"{self.days:,} days"
            if self.times == 1:
                verb = "Did" if self.did else "Did not do"
                return f"{verb} {what} in the last {days}"
            how_often = "at least" if self.did else "fewer than"
            return f"Did {what} {how_often} {self.times:,} times in the last {days}"
        if self.kind == PROPERTY:
            return f"{'Property' if for_groups else 'Trait'} {self._comparison()}"
        group_type = types.get(self.group_type)
        noun = group_type.singular.lower() if group_type else self.group_type
        article = "an" if noun[:1] in "aeiou" else "a"
        found = f"In {article} {noun}"
        if group_type is None:
            found += " (a group type that no longer exists)"
        return f"{found} whose {self._comparison()}" if self.key else found

    def _comparison(self) -> str:
        shown = f" {self.value}" if self.op in NEEDS_VALUE else ""
        return f"{self.key} {OPERATORS[self.op]}{shown}"


def _counts(workspace_id: int, counted: dict[str, QuerySet]) -> dict[str, int]:
    """How many rows each queryset finds, in one query: a subquery each, on the
    workspace's row."""
    if not counted:
        return {}
    # None of a subquery that can match nothing (``pk__in`` an empty list of ids from
    # ClickHouse) is zero.
    subqueries = {
        name: Coalesce(
            Subquery(
                found.order_by()
                .annotate(n=Func(F("pk"), function="COUNT", output_field=IntegerField()))
                .values("n")
            ),
            0,
        )
        for name, found in counted.items()
    }
    row = Workspace.objects.filter(pk=workspace_id).values(**subqueries).first()
    return row or dict.fromkeys(counted, 0)


class Cohort(models.Model):
    """A saved definition of users (``group_type`` None) or of groups of one type."""

    workspace = models.ForeignKey(Workspace, models.DB_CASCADE, related_name="cohorts")
    name = models.CharField(max_length=100)
    # None: a cohort of users; else of this type's groups (deleted with the type).
    group_type = models.ForeignKey(
        GroupType, models.DB_CASCADE, null=True, blank=True, related_name="cohorts"
    )
    # Conditions that must all hold, as ``Condition.to_json()``.
    conditions = models.JSONField(default=list, blank=True)
    # Whether people at the workspace's internal domains are left out (when it has any):
    # not members of a user cohort, and their events count for no group.
    exclude_internal = models.BooleanField(default=True)
    # The email of the account that created it (who may change it besides admins). Not a
    # key to User: a model cannot mix the database's on_delete rules (above) with Django's.
    created_by = models.CharField(max_length=254, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="cohort_name_unique"),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("cohort", args=[self.pk])

    @property
    def for_groups(self) -> bool:
        return self.group_type_id is not None

    @property
    def unit(self) -> str:
        """What it holds, in the plural and lower case: "users", "companies"."""
        return self.group_type.plural.lower() if self.group_type else "users"

    @property
    def noun(self) -> str:
        """One of what it holds: "user", "company"."""
        return self.group_type.singular.lower() if self.group_type else "user"

    @property
    def condition_list(self) -> list[Condition]:
        return [Condition.from_json(data) for data in self.conditions]

    def describe(self) -> list[str]:
        """Each condition in words (one query, for the workspace's group types)."""
        types = self.workspace.group_types.by_name()
        return [c.describe(for_groups=self.for_groups, types=types) for c in self.condition_list]

    def define(self, *, name: str, group_type: GroupType | None, conditions: list[Condition],
               exclude_internal: bool = True) -> None:
        """Set and save the definition, checked first (ValidationError, by field)."""
        name = name.strip()
        if not name:
            raise ValidationError({"name": "A cohort needs a name."})
        taken = Cohort.objects.filter(workspace_id=self.workspace_id, name__iexact=name)
        if taken.exclude(pk=self.pk).exists():
            raise ValidationError({"name": f"There is a cohort named “{name}” already."})
        if group_type is not None and group_type.workspace_id != self.workspace_id:
            raise ValidationError({"group_type": "No such group type in this workspace."})
        if len(conditions) > MAX_CONDITIONS:
            raise ValidationError(f"A cohort has at most {MAX_CONDITIONS} conditions.")
        type_names = set(self.workspace.group_types.values_list("name", flat=True))
        for condition in conditions:
            condition.check(for_groups=group_type is not None, type_names=type_names)
        self.name, self.group_type = name, group_type
        self.conditions = [condition.to_json() for condition in conditions]
        self.exclude_internal = exclude_internal
        self.updated_at = timezone.now()
        self.save()

    # Members

    def members(self, at: datetime | None = None, *, did) -> QuerySet:
        """Ids of the people (a user cohort) or groups (a group cohort) for whom every
        condition holds, as a subquery, as of ``at`` (now if None).

        Who did what, for conditions on behaviour, is the event store's to say: ``did``
        is ``analytics.event_store.units_that_did`` (the models read no events).

        Behaviour counts the activity events of the D days before ``at`` (for groups, the
        events carrying one of that type, as reports do), leaving out internal people's
        if the cohort does. Traits and properties are read as they are now: there is no
        history of them. Memberships are those open at ``at``. As of a past moment, only
        people and groups first seen before it are members.
        """
        return self._found(at, did=did).values_list("pk", flat=True).order_by()

    def sizes(self, moments: list[datetime | None], *, did) -> list[int]:
        """The number of members as of each moment (None: now), in one query that
        evaluates the definition once per moment (``did`` as for ``members``)."""
        counts = _counts(self.workspace_id, {f"at{i}": self._found(at, did=did) for i, at in enumerate(moments)})
        return [counts[f"at{i}"] for i in range(len(moments))]

    def weekly_sizes(self, weeks: int = WEEKS_SHOWN, *, now: datetime | None = None, did) -> list[tuple[date, int]]:
        """[(Monday, members as of the end of that week)] for the last ``weeks`` ISO weeks
        in the workspace's time zone, oldest first; the current week ends now (``now``,
        if given, stands for it). One query."""
        zone = self.workspace.zone
        today = (now or timezone.now()).astimezone(zone).date()
        this_monday = today - timedelta(days=today.weekday())
        mondays = [this_monday - timedelta(weeks=k) for k in range(weeks - 1, -1, -1)]
        moments = [datetime.combine(m + timedelta(days=7), time.min, tzinfo=zone) for m in mondays[:-1]]
        return list(zip(mondays, self.sizes([*moments, now], did=did)))

    @classmethod
    def sizes_now(cls, cohorts, *, did) -> dict[int, int]:
        """{cohort id: members now} of cohorts of one workspace, in one query."""
        cohorts = list(cohorts)
        if not cohorts:
            return {}
        counts = _counts(cohorts[0].workspace_id, {f"c{c.pk}": c._found(None, did=did) for c in cohorts})
        return {c.pk: counts[f"c{c.pk}"] for c in cohorts}

    def _found(self, at: datetime | None, *, did) -> QuerySet:
        if self.group_type_id is None:
            found = Person.objects.filter(workspace_id=self.workspace_id)
            if self._leaves_out_internal:
                found = found.exclude(pk__in=Person.objects.internal(self.workspace))
        else:
            found = Group.objects.filter(group_type_id=self.group_type_id)
        if at is not None:
            found = found.filter(created_at__lt=at)
        moment = at or timezone.now()
        for condition in self.condition_list:
            found = found.filter(self._holds(condition, moment, current=at is None, did=did))
        return found

    @property
    def _leaves_out_internal(self) -> bool:
        """Whether the cohort leaves out people at the internal domains (if there are any)."""
        return self.exclude_internal and bool(self.workspace.internal_domains)

    def _holds(self, condition: Condition, moment: datetime, *, current: bool, did) -> Q:
        """Rows of the people or groups for whom ``condition`` holds at ``moment``; the
        event store tells who did what (``did``)."""
        if condition.kind == PROPERTY:
            base = "properties" if self.for_groups else "traits"
            return property_q(base, condition.key, condition.op, condition.value)
        if condition.kind == MEMBERSHIP:
            memberships = Membership.objects.filter(
                workspace_id=self.workspace_id, group_type__name=condition.group_type
            )
            memberships = memberships.current(None if current else moment)
            if condition.key:
                memberships = memberships.filter(
                    property_q("group__properties", condition.key, condition.op, condition.value)
                )
            return Q(pk__in=memberships.values("person_id"))
        units = did(self, condition, moment)
        held = Q(pk__in=units)
        return held if condition.did else ~held
