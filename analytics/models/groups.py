"""Group types (company, team…) and their groups."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import slug_re
from django.db import connection, models, transaction
from django.db.models import Count, Exists, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from analytics.models.bulk import ArrayUpdateQuerySet, update_counters
from analytics.models.events import GROUP_SLOTS, Event
from analytics.models.people import Membership, Person
from analytics.models.workspaces import Workspace

# "Active members" of a group did something in it in the last 30 days, today included;
# a group's profile shows its activity over the last 90.
ACTIVE_DAYS = 30
PROFILE_DAYS = 90


def _pluralize(word):
    if word.endswith("y") and word[-2:-1] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith(("s", "x", "ch", "sh")):
        return word + "es"
    return word + "s"


class GroupTypeQuerySet(models.QuerySet):
    def by_name(self):
        """Map wire names (lower-cased) to group types."""
        return {group_type.name: group_type for group_type in self}

    def with_group_count(self):
        """Annotate ``group_count``: counted per type from the (type, key) index, which
        is far quicker than grouping all the workspace's groups by type."""
        groups = (
            Group.objects.filter(group_type=OuterRef("pk"))
            .order_by()
            .values("group_type")
            .annotate(n=Count("*"))
            .values("n")
        )
        return self.annotate(group_count=Coalesce(Subquery(groups), 0))

    def with_has_activity(self):
        """Annotate ``has_activity``: whether any activity ever carried a group of the
        type (as far as groups' activity tells, deleted people's gone), read from the
        start of the (type, last active) index."""
        return self.annotate(
            has_activity=Exists(GroupActivity.objects.filter(group_type=OuterRef("pk")))
        )


class GroupType(models.Model):
    """A kind of group in a workspace: company, team, project...

    Each type owns one of the event table's ``group_N`` columns (its ``slot``), so an
    event carries at most one group per type and "events of company acme" is an indexed
    column lookup rather than a join.
    """

    workspace = models.ForeignKey(Workspace, models.DB_CASCADE, related_name="group_types")
    name = models.SlugField(max_length=40, help_text="The name clients send, e.g. company.")
    singular = models.CharField(max_length=60)
    plural = models.CharField(max_length=60)
    position = models.PositiveSmallIntegerField(default=0)
    slot = models.PositiveSmallIntegerField(editable=False)
    is_default = models.BooleanField(default=False)

    objects = GroupTypeQuerySet.as_manager()

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="group_type_name_unique"),
            models.UniqueConstraint(fields=["workspace", "slot"], name="group_type_slot_unique"),
            models.UniqueConstraint(
                fields=["workspace"], condition=Q(is_default=True), name="one_default_group_type"
            ),
            models.CheckConstraint(
                condition=Q(slot__lt=GROUP_SLOTS), name="group_type_slot_in_range"
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def slot_field(self):
        return f"group_{self.slot}"

    @classmethod
    def create(cls, *, workspace, name, singular="", plural="", is_default=None):
        """Create a group type in the first free slot; the first type becomes the default."""
        name = name.strip().lower()
        max_length = cls._meta.get_field("name").max_length
        if not slug_re.fullmatch(name) or len(name) > max_length:
            raise ValidationError(
                f"{name!r} cannot name a group type: use up to {max_length} letters, digits, "
                "- and _ (it is what clients send, e.g. company)."
            )
        with transaction.atomic():
            # Lock the workspace row so two concurrent creations cannot take one slot.
            Workspace.objects.select_for_update().get(pk=workspace.pk)
            taken = set(workspace.group_types.values_list("slot", flat=True))
            free = [slot for slot in range(GROUP_SLOTS) if slot not in taken]
            if not free:
                raise ValidationError(f"A workspace can have at most {GROUP_SLOTS} group types.")
            if workspace.group_types.filter(name=name).exists():
                raise ValidationError(f"The group type {name!r} already exists.")
            if is_default is None:
                is_default = not taken
            if is_default:
                workspace.group_types.update(is_default=False)
            label = name.replace("_", " ").replace("-", " ")
            return cls.objects.create(
                workspace=workspace,
                name=name,
                singular=singular or label.capitalize(),
                plural=plural or _pluralize(label).capitalize(),
                position=len(taken),
                slot=free[0],
                is_default=is_default,
            )

    def move(self, *, up: bool):
        """Swap places with the type before it (``up``) or after it; at either end, stay."""
        with transaction.atomic():
            types = self.lock_siblings()
            i = next(i for i, group_type in enumerate(types) if group_type.pk == self.pk)
            j = i - 1 if up else i + 1
            if 0 <= j < len(types):
                types[i], types[j] = types[j], types[i]
                renumber(types)

    def make_default(self):
        """Make this the type of Segment's untyped ``groupId``, in place of the current one."""
        with transaction.atomic():
            self.lock_siblings()
            # Clear the old default first: the database allows one per workspace at any moment.
            GroupType.objects.filter(workspace_id=self.workspace_id, is_default=True).exclude(
                pk=self.pk
            ).update(is_default=False)
            GroupType.objects.filter(pk=self.pk).update(is_default=True)
            self.is_default = True

    def deletion_impact(self) -> dict[str, int]:
        """What deleting this type removes: its groups and their memberships (open or
        ended). How many events lose its context (the events themselves stay) is the
        event store's to count (``event_store.count_in_slot``)."""
        return {
            "groups": self.groups.count(),
            "memberships": Membership.objects.filter(group_type=self).count(),
        }

    def lock_siblings(self):
        """The workspace's types in order, after locking the workspace row (as ``create`` does)."""
        Workspace.objects.select_for_update().get(pk=self.workspace_id)
        return list(GroupType.objects.filter(workspace_id=self.workspace_id))


def renumber(group_types):
    # Positions 0..n-1 in list order, so that the next type created (at len()) comes last.
    for position, group_type in enumerate(group_types):
        group_type.position = position
    GroupType.objects.bulk_update(group_types, ["position"])


class GroupQuerySet(ArrayUpdateQuerySet):
    def search(self, text):
        text = (text or "").strip()
        if not text:
            return self
        return self.filter(Q(key__icontains=text) | Q(properties__name__icontains=text))

    def labels(self, events) -> dict[int, tuple[str, str]]:
        """{group id: (type name, key)} of every group in these events' context, one query."""
        ids = {pk for event in events for pk in event.group_ids().values()}
        if not ids:
            return {}
        rows = self.filter(pk__in=ids).values_list("pk", "group_type__name", "key")
        return {pk: (type_name, key) for pk, type_name, key in rows}

    def recently_updated_first(self):
        """Latest group call first; groups only seen in event context last; then by key."""
        return self.order_by(F("last_updated").desc(nulls_last=True), "key")

    def active_at(self, latest: dict[int, datetime], *, step: timedelta):
        """Move groups' ``last_active_at`` on to {group id: latest moment of new activity},
        in one query; on PostgreSQL only by ``step`` or more, so that a busy group's row
        (and its indexes) is not rewritten for every batch. Never moves one back."""
        if not latest:
            return
        if connection.vendor != "postgresql":
            update_counters(self, latest, latest={"last_active_at": list(latest.values())})
            return
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Group._meta.db_table} AS g SET last_active_at = v.latest "
                "FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, latest) "
                "WHERE g.id = v.id AND (g.last_active_at IS NULL "
                "OR v.latest >= g.last_active_at + %s)",
                [list(latest), list(latest.values()), step],
            )

    def with_active_members(self, since: datetime):
        """Annotate ``active_members``: the people with activity carrying the group since
        ``since``, each group counted on its own from GroupActivity's (group,
        last_active_at) index: a few short range scans for a page of groups."""
        recent = (
            GroupActivity.objects.filter(group=OuterRef("pk"), last_active_at__gte=since)
            .order_by()
            .values("group")
            .annotate(n=Count("*"))
            .values("n")
        )
        return self.annotate(active_members=Coalesce(Subquery(recent), 0))

    def by_active_members(self, since: datetime, *, group_type, descending: bool):
        """These groups of ``group_type`` ordered by ``active_members`` (see
        ``with_active_members``), then by key, as ``ByActiveMembers``: counted and paged."""
        return ByActiveMembers(self, since=since, group_type=group_type, descending=descending)


class ByActiveMembers:
    """Groups in the order of their active members, then of their keys, read a page at a
    time: what a paginated table needs of a queryset (``count`` and slices).

    Sorting needs every group's count. Counted in the groups' query, as a join of every
    group with its GroupActivity rows grouped by group, it took twice as long on the
    benchmark's 51,000 companies as here: the type's recent rows are counted first, from
    their index, joined to the groups' ids and keys alone, and only the page's groups are
    then read, with their counts.
    """

    def __init__(self, groups, *, since: datetime, group_type, descending: bool):
        self.groups, self.since = groups, since
        self.group_type, self.descending = group_type, descending

    @property
    def model(self):
        return Group

    def count(self) -> int:
        return self.groups.count()

    def __len__(self):
        return self.count()

    def __iter__(self):
        return iter(self[:])

    def __getitem__(self, page: slice) -> list:
        ids = self._ids(page.start or 0, page.stop)
        found = self.groups.with_active_members(self.since).in_bulk(ids)
        return [found[pk] for pk in ids]

    def _ids(self, start: int, stop: int | None) -> list[int]:
        groups, params = self.groups.order_by().values("id", "key").query.sql_with_params()
        since = GroupActivity._meta.get_field("last_active_at").get_db_prep_value(
            self.since, connection
        )
        everything = -1 if connection.vendor == "sqlite" else None  # LIMIT of no limit
        direction = "DESC" if self.descending else "ASC"
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT g.id FROM ({groups}) AS g LEFT JOIN ("
                f"SELECT group_id, COUNT(*) AS n FROM {GroupActivity._meta.db_table} "
                "WHERE group_type_id = %s AND last_active_at >= %s GROUP BY group_id"
                f") AS a ON a.group_id = g.id ORDER BY COALESCE(a.n, 0) {direction}, g.key "
                "LIMIT %s OFFSET %s",
                [
                    *params,
                    self.group_type.pk,
                    since,
                    everything if stop is None else stop - start,
                    start,
                ],
            )
            return [pk for (pk,) in cursor.fetchall()]


class Group(models.Model):
    workspace = models.ForeignKey(Workspace, models.DB_CASCADE, related_name="groups")
    group_type = models.ForeignKey(GroupType, models.DB_CASCADE, related_name="groups")
    key = models.CharField(max_length=255)
    properties = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    # The latest group call that touched it; None for a group only seen in event context.
    last_updated = models.DateTimeField(null=True, blank=True)
    # People in it now (open memberships), so that listing and sorting 100,000 groups
    # never counts memberships. Written only by analytics.memberships, with them.
    member_count = models.PositiveIntegerField(default=0)
    # The moment of its latest activity (a track, page or screen call carrying it); None
    # if it has none. Kept by analytics.activity, the latest of its GroupActivity rows.
    last_active_at = models.DateTimeField(null=True, blank=True)

    objects = GroupQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group_type", "key"], name="group_key_unique"),
        ]
        indexes = [
            # On PostgreSQL, migration 0002 also indexes (group type, last_updated DESC
            # NULLS LAST, key) for the default order of /groups; SQLite cannot.
            models.Index(F("group_type"), F("member_count").desc(), name="group_member_count"),
            # On PostgreSQL, migration 0014 also indexes (group type, last_active_at DESC
            # NULLS LAST, key) for sorting by Last active; SQLite cannot.
        ]

    def __str__(self):
        return f"{self.group_type.name}={self.key}"

    @property
    def name(self):
        return self.properties.get("name") or ""

    def activity_events(self):
        """Its activity: the track, page and screen calls carrying it."""
        return Event.objects.in_group(self).activity()

    def active_members(self, since: datetime) -> int:
        """How many people have had activity carrying it since ``since``."""
        return self.activity.filter(last_active_at__gte=since).count()


@dataclass(frozen=True)
class RecentActivity:
    """A group's activity since ``since``: by week, its most frequent events, and how
    many people were active in it in the last ``ACTIVE_DAYS`` days."""

    since: datetime  # midnight in the workspace's time zone, PROFILE_DAYS days ago
    weeks: list["Week"]
    top_events: list["EventCount"]
    active_members: int
    days: int = PROFILE_DAYS
    active_days: int = ACTIVE_DAYS

    @property
    def first_day(self) -> date:
        return self.since.date()

    @property
    def events(self) -> int:
        return sum(week.events for week in self.weeks)


@dataclass(frozen=True)
class Week:
    """A week of a group's activity: its Monday, the activity events and the people who
    sent them."""

    monday: date
    events: int
    active_members: int


@dataclass(frozen=True)
class EventCount:
    type: str  # track, page or screen
    name: str  # the track call's event, the page's or screen's name ("" if it had none)
    count: int


class GroupActivity(models.Model):
    """When a person last did something in a group: the moment of their latest activity
    (a track, page or screen call) carrying it.

    One row per group and person with such a call, so that "active members in the last
    30 days" is a range of an index, counted for one group or for all of a type without
    reading an event. Written only by ``analytics.activity``, with ``Group.last_active_at``.
    """

    group = models.ForeignKey(Group, models.DB_CASCADE, related_name="activity", db_index=False)
    # The group's type, copied (a group never changes type) so that the active members of
    # every group of a type are counted from one index.
    group_type = models.ForeignKey(
        GroupType, models.DB_CASCADE, related_name="+", db_index=False
    )
    person = models.ForeignKey(
        Person, models.DB_CASCADE, related_name="group_activity", db_index=False
    )
    last_active_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "group activity"
        constraints = [
            # person leads: a person's rows are found by it when they merge or are deleted.
            models.UniqueConstraint(fields=["person", "group"], name="group_activity_unique"),
        ]
        indexes = [
            models.Index(fields=["group", "last_active_at"], name="group_activity_by_group"),
            models.Index(
                fields=["group_type", "last_active_at", "group"], name="group_activity_by_type"
            ),
        ]

    def __str__(self):
        return f"{self.person_id} in {self.group_id} at {self.last_active_at}"
