"""Groupsite's data: workspaces, their group types, groups, people, memberships and events.

Everything a workspace collects is scoped to it and deleted with it by the database
(``DB_CASCADE``), so deleting a person or a workspace is one statement per table, not a
Python-side collection of millions of rows.
"""

import base64
import binascii
import hashlib
import json
import secrets
from datetime import datetime

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models import Case, F, Q, Value, When
from django.db.models.functions import Coalesce, Greatest
from psycopg.types.json import Jsonb
from django.utils import timezone
from django.utils.text import slugify

from analytics import traits as trait_rules

GROUP_SLOTS = 10


class User(AbstractUser):
    """A dashboard account. The username is the email address."""

    # Where the dashboard opens next time, on any device.
    last_workspace = models.ForeignKey(
        "Workspace", models.SET_NULL, null=True, blank=True, related_name="+"
    )


def new_write_key():
    return "wk_" + secrets.token_urlsafe(24)


def new_secret_key():
    return "sk_" + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    # Keys are 256-bit random tokens, so a plain digest is enough to make the stored
    # value useless to a reader of the database while keeping lookups indexed.
    return hashlib.sha256(key.encode()).hexdigest()


def _update_counters(queryset, pks, *, add, latest=None):
    """One UPDATE of many rows: add to counters, and keep the latest of moments.

    ``add`` and ``latest`` map a column to its values, in the order of ``pks``. This runs
    in the hot path of ingestion, so on PostgreSQL the values travel as arrays (one
    parameter per column) rather than as a CASE expression per row built by the ORM.
    """
    model, pks, latest = queryset.model, list(pks), latest or {}
    if connection.vendor == "postgresql":
        sets = [f"{name} = t.{name} + v.{name}" for name in add]
        sets += [f"{name} = GREATEST(t.{name}, v.{name})" for name in latest]
        arrays = ["%s::int[]"] * len(add) + ["%s::timestamptz[]"] * len(latest)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {model._meta.db_table} AS t SET {', '.join(sets)} "
                f"FROM unnest(%s::bigint[], {', '.join(arrays)}) "
                f"AS v(id, {', '.join([*add, *latest])}) WHERE t.id = v.id",
                [pks, *add.values(), *latest.values()],
            )
        return

    def by_pk(name, values):
        whens = (When(pk=pk, then=Value(value)) for pk, value in zip(pks, values))
        return Case(*whens, output_field=model._meta.get_field(name))

    changes = {name: F(name) + by_pk(name, values) for name, values in add.items()}
    for name, values in latest.items():
        changes[name] = Coalesce(Greatest(name, by_pk(name, values)), by_pk(name, values))
    queryset.filter(pk__in=pks).update(**changes)


class WorkspaceQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(members__user=user)

    def by_write_key(self, key):
        return self.filter(write_key=key).first() if key else None

    def by_secret_key(self, key):
        return self.filter(secret_key_hash=hash_key(key)).first() if key else None


class Workspace(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)
    write_key = models.CharField(max_length=64, unique=True, default=new_write_key)
    secret_key_hash = models.CharField(max_length=64, unique=True, editable=False)
    secret_key_hint = models.CharField(max_length=8, editable=False)
    # People whose email is at one of these domains are the workspace's own staff.
    internal_domains = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = WorkspaceQuerySet.as_manager()

    def __str__(self):
        return self.name

    @classmethod
    def create(cls, *, name, owner, slug=None, group_types=("company",)):
        """Create a workspace owned by ``owner``; returns it and its secret key.

        The first group type becomes the default one, the type of Segment's untyped
        ``groupId``.
        """
        slug = slug or cls._free_slug(name)
        workspace = cls(name=name, slug=slug)
        secret_key = workspace.set_new_secret_key()
        with transaction.atomic():
            workspace.full_clean()
            workspace.save()
            workspace.add_member(owner, Role.OWNER)
            for group_type in group_types:
                GroupType.create(workspace=workspace, name=group_type)
        return workspace, secret_key

    @classmethod
    def _free_slug(cls, name):
        base = slugify(name)[:40] or "workspace"
        slug, n = base, 1
        while cls.objects.filter(slug=slug).exists():
            n += 1
            slug = f"{base}-{n}"
        return slug

    def set_new_secret_key(self) -> str:
        """Replace the secret key (not saved) and return it: the only time it is readable."""
        key = new_secret_key()
        self.secret_key_hash = hash_key(key)
        self.secret_key_hint = key[-4:]
        return key

    def add_member(self, user, role):
        return WorkspaceMember.objects.update_or_create(
            workspace=self, user=user, defaults={"role": role}
        )[0]

    def role_of(self, user):
        member = self.members.filter(user=user).first()
        return member.role if member else None

    @property
    def default_group_type(self):
        return self.group_types.filter(is_default=True).first()


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


class WorkspaceMember(models.Model):
    workspace = models.ForeignKey(Workspace, models.CASCADE, related_name="members")
    user = models.ForeignKey(User, models.CASCADE, related_name="workspace_memberships")
    role = models.CharField(max_length=10, choices=Role, default=Role.MEMBER)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="one_role_per_user"),
        ]


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


class GroupQuerySet(models.QuerySet):
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

    def add_members(self, changes: dict[int, int]):
        """Apply {group id: change in current members} to ``member_count``, in one query."""
        changes = {pk: n for pk, n in changes.items() if n}
        if changes:
            _update_counters(self, changes, add={"member_count": list(changes.values())})

    def recently_updated_first(self):
        """Latest group call first; groups only seen in event context last; then by key."""
        return self.order_by(F("last_updated").desc(nulls_last=True), "key")


class Group(models.Model):
    workspace = models.ForeignKey(Workspace, models.DB_CASCADE, related_name="groups")
    group_type = models.ForeignKey(GroupType, models.DB_CASCADE, related_name="groups")
    key = models.CharField(max_length=255)
    properties = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    # The latest group call that touched it; None for a group only seen in event context.
    last_updated = models.DateTimeField(null=True, blank=True)
    # People in it now (open memberships), kept by ingestion and deletion so that
    # listing and sorting 100,000 groups never counts memberships.
    member_count = models.PositiveIntegerField(default=0)

    objects = GroupQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["group_type", "key"], name="group_key_unique"),
        ]
        indexes = [
            # On PostgreSQL, migration 0002 also indexes (group type, last_updated DESC
            # NULLS LAST, key) for the default order of /groups; SQLite cannot.
            models.Index(F("group_type"), F("member_count").desc(), name="group_member_count"),
        ]

    def __str__(self):
        return f"{self.group_type.name}={self.key}"

    @property
    def name(self):
        return self.properties.get("name") or ""



class PersonQuerySet(models.QuerySet):
    def by_user_id(self, user_id):
        """The person known by this user id (current or earlier, through alias)."""
        return self.filter(
            identities__kind=Identity.Kind.USER, identities__value=user_id
        ).first()

    def with_email_domain(self, domain):
        domain = domain.strip().lower().lstrip("@")
        return self.filter(email__endswith="@" + domain)

    def count_events(self, stored):
        """Add newly stored events, given as (person id, timestamp), to people's counters."""
        totals = {}
        for person_id, moment in stored:
            count, latest = totals.get(person_id, (0, moment))
            totals[person_id] = (count + 1, max(latest, moment))
        if totals:
            _update_counters(
                self,
                totals,
                add={"event_count": [n for n, _ in totals.values()]},
                latest={"last_seen_at": [moment for _, moment in totals.values()]},
            )

    def search(self, text):
        text = (text or "").strip()
        if not text:
            return self
        return self.filter(
            Q(user_id__icontains=text) | Q(email__icontains=text) | Q(traits__name__icontains=text)
        )

    def recently_seen_first(self):
        return self.order_by(F("last_seen_at").desc(nulls_last=True), "-pk")


class Person(models.Model):
    """A user of the customer's product, as known from userId / anonymousId."""

    workspace = models.ForeignKey(Workspace, models.DB_CASCADE, related_name="people")
    user_id = models.CharField(max_length=255, null=True, blank=True)
    traits = models.JSONField(default=dict)
    email = models.CharField(max_length=254, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    event_count = models.PositiveIntegerField(default=0)

    objects = PersonQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "user_id"],
                condition=Q(user_id__isnull=False),
                name="person_user_id_unique",
            ),
        ]
        indexes = [
            # On PostgreSQL, migration 0002 also indexes (workspace, last_seen_at DESC
            # NULLS LAST) for the default order of the People list; SQLite cannot.
            models.Index(fields=["workspace", "email"], name="person_email"),
        ]

    def __str__(self):
        return self.display_name

    @property
    def display_name(self):
        return self.traits.get("name") or self.email or self.user_id or f"Anonymous {self.pk}"

    def set_traits(self, new_traits):
        self.traits = trait_rules.merge(self.traits, new_traits, trait_rules.USER_RESERVED)
        email = self.traits.get("email")
        self.email = email.strip().lower()[:254] if isinstance(email, str) else ""

    def absorb(self, other: "Person"):
        """Move everything of ``other`` (events, memberships, ids, traits) here, then delete it.

        Used when an anonymous visitor turns out to be a known user (identify with the
        anonymous id, or alias).
        """
        Event.objects.filter(person=other).update(person=self)
        Identity.objects.filter(person=other).update(person=self)
        mine = dict(
            self.memberships.filter(ended_at__isnull=True).values_list("group_id", "pk")
        )
        doubled = {}
        for membership in other.memberships.filter(ended_at__isnull=True, group_id__in=mine):
            # Both were in the group: keep one membership, from the earlier start.
            Membership.objects.filter(
                pk=mine[membership.group_id], started_at__gt=membership.started_at
            ).update(started_at=membership.started_at)
            membership.delete()
            doubled[membership.group_id] = -1
        Group.objects.add_members(doubled)
        other.memberships.update(person=self)
        self.set_traits({**other.traits, **self.traits})
        seen = Value(other.last_seen_at) if other.last_seen_at else F("last_seen_at")
        Person.objects.filter(pk=self.pk).update(
            traits=self.traits,
            email=self.email,
            event_count=F("event_count") + other.event_count,
            last_seen_at=Coalesce(Greatest("last_seen_at", seen), seen),
        )
        other.delete()


class Identity(models.Model):
    """A user id or anonymous id that points at a person."""

    class Kind(models.TextChoices):
        USER = "user", "User id"
        ANONYMOUS = "anonymous", "Anonymous id"

    workspace = models.ForeignKey(Workspace, models.DB_CASCADE, related_name="+")
    person = models.ForeignKey(Person, models.DB_CASCADE, related_name="identities")
    kind = models.CharField(max_length=10, choices=Kind)
    value = models.CharField(max_length=255)

    class Meta:
        verbose_name_plural = "identities"
        constraints = [
            models.UniqueConstraint(fields=["workspace", "kind", "value"], name="identity_unique"),
        ]


class Membership(models.Model):
    """A person in a group, from ``started_at`` until ``ended_at`` (open while None)."""

    workspace = models.ForeignKey(Workspace, models.DB_CASCADE, related_name="+")
    person = models.ForeignKey(Person, models.DB_CASCADE, related_name="memberships")
    group = models.ForeignKey(Group, models.DB_CASCADE, related_name="memberships")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["person", "group"],
                condition=Q(ended_at__isnull=True),
                name="one_open_membership",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="membership_ends_after_start",
            ),
        ]
        indexes = [
            models.Index(
                fields=["group", "started_at"],
                condition=Q(ended_at__isnull=True),
                name="membership_open_by_group",
            ),
        ]

    def covers(self, moment) -> bool:
        return self.started_at <= moment and (self.ended_at is None or moment < self.ended_at)


class EventType(models.TextChoices):
    TRACK = "track"
    PAGE = "page"
    SCREEN = "screen"
    IDENTIFY = "identify"
    GROUP = "group"
    ALIAS = "alias"


class EventQuerySet(models.QuerySet):
    def for_workspace(self, workspace):
        return self.filter(workspace=workspace)

    def between(self, start=None, end=None):
        qs = self
        if start:
            qs = qs.filter(timestamp__gte=start)
        if end:
            qs = qs.filter(timestamp__lt=end)
        return qs

    def in_group(self, group):
        return self.filter(**{group.group_type.slot_field: group})

    def without_group_of(self, group_type):
        return self.filter(**{f"{group_type.slot_field}__isnull": True})

    def newest_first(self):
        return self.order_by("-timestamp", "-id")

    def older_than(self, cursor: str):
        """Events after ``cursor`` in newest-first order; ValueError for a bad cursor."""
        try:
            moment, pk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            moment = datetime.fromisoformat(moment)
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
            raise ValueError("invalid cursor") from None
        if not isinstance(pk, int) or moment.tzinfo is None:
            raise ValueError("invalid cursor")
        return self.filter(Q(timestamp__lt=moment) | Q(timestamp=moment, pk__lt=pk))

    def store(self, rows: list[dict]) -> list[tuple[int, object]]:
        """Insert events given as {field attname: value}, skipping stored message ids.

        Returns (person id, timestamp) of each event actually inserted. On PostgreSQL
        the rows go through COPY into a staging table, then one INSERT ... ON CONFLICT
        DO NOTHING, so concurrent retries of the same call cannot both land.
        """
        if connection.vendor != "postgresql":
            # SQLite runs writers one at a time, so no message id can appear
            # between the caller's duplicate check and this insert.
            self.bulk_create([Event(**row) for row in rows], ignore_conflicts=True)
            return [(row["person_id"], row["timestamp"]) for row in rows]
        fields = [f for f in Event._meta.concrete_fields if not f.primary_key]
        columns = ", ".join(f.column for f in fields)
        getters = [
            (lambda row, name=f.attname: Jsonb(row[name]))
            if isinstance(f, models.JSONField)
            else (lambda row, name=f.attname: row.get(name))
            for f in fields
        ]
        table = Event._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS event_staging AS "
                f"SELECT {columns} FROM {table} WITH NO DATA"
            )
            with cursor.copy(f"COPY event_staging ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row([get(row) for get in getters])
            cursor.execute(
                f"WITH staged AS (DELETE FROM event_staging RETURNING {columns}) "
                f"INSERT INTO {table} ({columns}) SELECT {columns} FROM staged "
                "ON CONFLICT DO NOTHING RETURNING person_id, timestamp"
            )
            return cursor.fetchall()


def _group_slot():
    return models.ForeignKey(
        Group, models.DB_SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )


class Event(models.Model):
    """One call as received: track, page, screen, identify, group or alias.

    Its group context is fixed when it is ingested: ``group_N`` holds the group of the
    type whose slot is N, or nothing.
    """

    workspace = models.ForeignKey(Workspace, models.DB_CASCADE, related_name="+", db_index=False)
    person = models.ForeignKey(Person, models.DB_CASCADE, related_name="events", db_index=False)
    type = models.CharField(max_length=8, choices=EventType)
    name = models.CharField(max_length=255, blank=True, default="")
    timestamp = models.DateTimeField()
    received_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    message_id = models.CharField(max_length=255)
    user_id = models.CharField(max_length=255, blank=True, default="")
    anonymous_id = models.CharField(max_length=255, blank=True, default="")
    properties = models.JSONField(default=dict)
    context = models.JSONField(default=dict)
    group_0 = _group_slot()
    group_1 = _group_slot()
    group_2 = _group_slot()
    group_3 = _group_slot()
    group_4 = _group_slot()
    group_5 = _group_slot()
    group_6 = _group_slot()
    group_7 = _group_slot()
    group_8 = _group_slot()
    group_9 = _group_slot()

    objects = EventQuerySet.as_manager()

    class Meta:
        constraints = [
            # Exactly-once delivery: clients retry freely, the database keeps one copy.
            # message_id leads so duplicate checks use this index whatever the planner
            # believes about a workspace's size.
            models.UniqueConstraint(fields=["message_id", "workspace"], name="event_message_id_unique"),
        ]
        indexes = [
            models.Index(fields=["workspace", "timestamp"], name="event_workspace_time"),
            models.Index(fields=["person", "timestamp"], name="event_person_time"),
            *(
                models.Index(
                    fields=[f"group_{slot}", "timestamp"],
                    condition=Q(**{f"group_{slot}__isnull": False}),
                    name=f"event_group_{slot}_time",
                )
                for slot in range(GROUP_SLOTS)
            ),
        ]

    def __str__(self):
        return f"{self.type} {self.name}".strip()

    @property
    def cursor(self) -> str:
        """Where a newest-first page that ends with this event stops (see ``older_than``)."""
        position = json.dumps([self.timestamp.isoformat(), self.pk])
        return base64.urlsafe_b64encode(position.encode()).decode().rstrip("=")

    def group_ids(self):
        """{slot: group id} of the groups in this event's context."""
        return {
            slot: group_id
            for slot in range(GROUP_SLOTS)
            if (group_id := getattr(self, f"group_{slot}_id")) is not None
        }


class IngestionProblem(models.Model):
    """A call refused at ingestion, or stored with part of it ignored. Never silent."""

    class Level(models.TextChoices):
        REJECTED = "rejected", "Rejected"
        WARNING = "warning", "Warning"

    workspace = models.ForeignKey(
        Workspace, models.DB_CASCADE, related_name="ingestion_problems"
    )
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

    class Meta:
        indexes = [models.Index(fields=["workspace", "-received_at"], name="problem_recent")]


class SuppressedUser(models.Model):
    """A deleted user id whose later calls are refused."""

    workspace = models.ForeignKey(Workspace, models.DB_CASCADE, related_name="suppressed_users")
    user_id = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user_id"], name="suppressed_user_unique"),
        ]
