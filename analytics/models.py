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
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import orjson
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.core.validators import slug_re
from django.db import connection, connections, models, transaction
from django.db.models import Case, Count, F, OuterRef, Q, Subquery, Sum, Value, When
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Greatest
from django.tasks import TaskResultStatus, default_task_backend
from django.tasks.exceptions import TaskResultDoesNotExist
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.text import slugify

from analytics import traits as trait_rules

GROUP_SLOTS = 10


class User(AbstractUser):
    """A dashboard account. The username is the email address."""

    # Where the dashboard opens next time, on any device.
    last_workspace = models.ForeignKey(
        "Workspace", models.SET_NULL, null=True, blank=True, related_name="+"
    )

    @classmethod
    def account_for(cls, email, *, password=""):
        """The account of this email address (in any case), created if there is none, with
        ``password`` or a generated one. Returns it and the generated password (None
        otherwise): the only time that is readable. A password given for an account that
        exists is refused (ValidationError on "password"): it has its own."""
        email = email.strip().lower()
        user = cls.objects.filter(username__iexact=email).first()
        if user is None:
            generated = None if password else secrets.token_urlsafe(12)
            user = cls.objects.create_user(
                username=email, email=email, password=password or generated
            )
            return user, generated
        if password:
            message = (
                f"{email} already has an account with its own password; "
                "a password is only for a new account."
            )
            raise ValidationError({"password": message})
        return user, None


def new_write_key():
    return "wk_" + secrets.token_urlsafe(24)


def new_secret_key():
    return "sk_" + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    # Keys are 256-bit random tokens, so a plain digest is enough to make the stored
    # value useless to a reader of the database while keeping lookups indexed.
    return hashlib.sha256(key.encode()).hexdigest()


def _update_counters(queryset, pks, *, add=None, latest=None, bit_or=None):
    """One UPDATE of many rows: add to counters, keep the latest of moments, set bits.

    ``add``, ``latest`` and ``bit_or`` map a column to its values, in the order of
    ``pks``. This runs in the hot path of ingestion, so on PostgreSQL the values travel as
    arrays (one parameter per column) rather than as a CASE expression per row.
    """
    model, pks = queryset.model, list(pks)
    add, latest, bit_or = add or {}, latest or {}, bit_or or {}
    if connection.vendor == "postgresql":
        sets = [f"{name} = t.{name} + v.{name}" for name in add]
        sets += [f"{name} = GREATEST(t.{name}, v.{name})" for name in latest]
        sets += [f"{name} = t.{name} | v.{name}" for name in bit_or]
        arrays = ["%s::int[]"] * len(add) + ["%s::timestamptz[]"] * len(latest)
        arrays += ["%s::smallint[]"] * len(bit_or)
        # Rows that would not change are not written (nor locked).
        changes = [f"v.{name} <> 0" for name in add]
        changes += [f"t.{name} IS NULL OR v.{name} > t.{name}" for name in latest]
        changes += [f"(t.{name} | v.{name}) <> t.{name}" for name in bit_or]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {model._meta.db_table} AS t SET {', '.join(sets)} "
                f"FROM unnest(%s::bigint[], {', '.join(arrays)}) "
                f"AS v(id, {', '.join([*add, *latest, *bit_or])}) "
                f"WHERE t.id = v.id AND ({' OR '.join(f'({c})' for c in changes)})",
                [pks, *add.values(), *latest.values(), *bit_or.values()],
            )
        return

    def by_pk(name, values):
        whens = (When(pk=pk, then=Value(value)) for pk, value in zip(pks, values))
        return Case(*whens, output_field=model._meta.get_field(name))

    changes = {name: F(name) + by_pk(name, values) for name, values in add.items()}
    for name, values in latest.items():
        changes[name] = Coalesce(Greatest(name, by_pk(name, values)), by_pk(name, values))
    for name, values in bit_or.items():
        changes[name] = F(name).bitor(by_pk(name, values))
    queryset.filter(pk__in=pks).update(**changes)


def events_of(person):
    """The number of events of the person ``person`` refers to (a field path), counted
    from the (person, timestamp) index for each row fetched: a page of 50 people costs
    50 short index scans, and nothing has to be kept up to date at ingestion."""
    events = (
        Event.objects.filter(person=OuterRef(person))
        .order_by()
        .values("person")
        .annotate(n=Count("*"))
        .values("n")
    )
    return Coalesce(Subquery(events), 0)


class ArrayUpdateQuerySet(models.QuerySet):
    """``bulk_update`` as one UPDATE … FROM unnest(arrays) on PostgreSQL.

    Django's own builds a CASE expression per field and row, which costs milliseconds of
    CPU per call in ingestion's hot path; the arrays cost one parameter per field.
    """

    def bulk_update(self, objs, fields, batch_size=None):
        objs = list(objs)
        if connection.vendor != "postgresql" or not objs or batch_size:
            return super().bulk_update(objs, fields, batch_size=batch_size)
        model_fields = [self.model._meta.get_field(name) for name in fields]
        columns = ", ".join(f.column for f in model_fields)
        arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in model_fields)
        sets = ", ".join(f"{f.column} = v.{f.column}" for f in model_fields)
        values = [
            [f.get_db_prep_save(getattr(obj, f.attname), connection) for obj in objs]
            for f in model_fields
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {self.model._meta.db_table} AS t SET {sets} "
                f"FROM unnest(%s::bigint[], {arrays}) AS v(id, {columns}) WHERE t.id = v.id",
                [[obj.pk for obj in objs], *values],
            )
            return cursor.rowcount


class WorkspaceQuerySet(models.QuerySet):
    def for_user(self, user):
        return self.filter(members__user=user)

    def by_write_key(self, key):
        # No key holds a NUL, and PostgreSQL cannot compare text with one.
        return self.filter(write_key=key).first() if key and "\x00" not in key else None

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

    def rotate_secret_key(self) -> str:
        """Replace and save the secret key, and return the new one: the only time it is readable.

        The old key stops opening the API at once.
        """
        key = self.set_new_secret_key()
        self.save(update_fields=["secret_key_hash", "secret_key_hint"])
        return key

    def rotate_write_key(self):
        """Replace and save the write key; calls sent with the old one are refused from now on."""
        self.write_key = new_write_key()
        self.save(update_fields=["write_key"])

    def invite(self, email, role, *, password=""):
        """Add the account with this email as ``role``, creating the account if there is none.

        A new account gets ``password``, or a generated one. Returns the membership and
        the generated password (None otherwise): the only time it is readable. Raises
        ValidationError if the account is already a member, or if a password is given for
        an account that already has its own.
        """
        email = email.strip().lower()
        with transaction.atomic():
            if self.members.filter(user__username__iexact=email).exists():
                raise ValidationError({"email": f"{email} is already a member of {self}."})
            user, generated = User.account_for(email, password=password)
            return WorkspaceMember.objects.create(workspace=self, user=user, role=role), generated

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

    def change_role(self, role):
        """Change the role; refused if the workspace would be left without an owner."""
        with transaction.atomic():
            if role != Role.OWNER:
                self._check_another_owner()
            self.role = role
            self.save(update_fields=["role"])

    def remove(self):
        """Take this account out of the workspace; refused for the last owner."""
        with transaction.atomic():
            self._check_another_owner()
            self.delete()

    def _check_another_owner(self):
        # The workspace row is locked first, so two owners cannot each demote the other.
        Workspace.objects.select_for_update().get(pk=self.workspace_id)
        owners = WorkspaceMember.objects.filter(workspace_id=self.workspace_id, role=Role.OWNER)
        if set(owners.values_list("pk", flat=True)) == {self.pk}:
            raise ValidationError(
                "A workspace needs at least one owner: make someone else an owner first."
            )


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
            types = self._lock_siblings()
            i = next(i for i, group_type in enumerate(types) if group_type.pk == self.pk)
            j = i - 1 if up else i + 1
            if 0 <= j < len(types):
                types[i], types[j] = types[j], types[i]
                _renumber(types)

    def make_default(self):
        """Make this the type of Segment's untyped ``groupId``, in place of the current one."""
        with transaction.atomic():
            self._lock_siblings()
            # Clear the old default first: the database allows one per workspace at any moment.
            GroupType.objects.filter(workspace_id=self.workspace_id, is_default=True).exclude(
                pk=self.pk
            ).update(is_default=False)
            GroupType.objects.filter(pk=self.pk).update(is_default=True)
            self.is_default = True

    def deletion_impact(self) -> dict[str, int]:
        """What deleting this type removes: its groups and their memberships (open or
        ended); and how many events lose this type's context (the events themselves stay)."""
        return {
            "groups": self.groups.count(),
            "memberships": Membership.objects.filter(group_type=self).count(),
            "events": Event.objects.filter(
                workspace_id=self.workspace_id, **{f"{self.slot_field}__isnull": False}
            ).count(),
        }

    def remove(self, *, new_default=None):
        """Delete this type with its groups and their memberships; events stay, without it.

        The database does the rest in the same statement: groups and memberships go
        (``DB_CASCADE``) and events' column of this slot is emptied (``DB_SET_NULL``), so
        a type created later in the freed slot starts clean. The default type hands its
        role to ``new_default``, which is required while other types remain.
        """
        with transaction.atomic():
            others = [t for t in self._lock_siblings() if t.pk != self.pk]
            if self.is_default and others and new_default not in others:
                raise ValidationError(
                    {"new_default": "Choose which type takes untyped groupIds from now on."}
                )
            self.delete()
            # The freed slot may go to a new type: its people start without the flag.
            Person.objects.filter(workspace_id=self.workspace_id).update(
                several_without=F("several_without").bitand(~(1 << self.slot))
            )
            if self.is_default and others:
                new_default.make_default()
            _renumber(others)

    def _lock_siblings(self):
        """The workspace's types in order, after locking the workspace row (as ``create`` does)."""
        Workspace.objects.select_for_update().get(pk=self.workspace_id)
        return list(GroupType.objects.filter(workspace_id=self.workspace_id))


def _renumber(group_types):
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



class PersonQuerySet(ArrayUpdateQuerySet):
    def by_user_id(self, user_id):
        """The person known by this user id (current or earlier, through alias)."""
        return self.filter(
            identities__kind=Identity.Kind.USER, identities__value=user_id
        ).first()

    def with_email_domain(self, domain):
        domain = domain.strip().lower().lstrip("@")
        return self.filter(email__endswith="@" + domain)

    def seen(self, latest: dict[int, object]):
        """Move people's ``last_seen_at`` on to {person id: latest moment of new events}.

        It is shown to the minute, so on PostgreSQL a row is only written when it moves
        on by a minute or more: an active person's events then rarely touch their row,
        which ingestion would otherwise rewrite (with all its indexes) for every batch.
        """
        if not latest:
            return
        if connection.vendor != "postgresql":
            _update_counters(self, latest, latest={"last_seen_at": list(latest.values())})
            return
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Person._meta.db_table} AS p SET last_seen_at = v.latest "
                "FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, latest) "
                "WHERE p.id = v.id AND (p.last_seen_at IS NULL "
                "OR v.latest >= p.last_seen_at + interval '1 minute')",
                [list(latest), list(latest.values())],
            )

    def with_event_count(self):
        """Annotate ``event_count`` (see ``events_of``)."""
        return self.annotate(event_count=events_of("pk"))

    def search(self, text):
        text = (text or "").strip()
        if not text:
            return self
        return self.filter(
            Q(user_id__icontains=text) | Q(email__icontains=text) | Q(traits__name__icontains=text)
        )

    def recently_seen_first(self):
        return self.order_by(F("last_seen_at").desc(nulls_last=True), "-pk")

    def in_several_with_events_outside(self, group_type):
        """People in two groups of this type or more now who sent track, page or screen
        calls naming none of them while they were in several: no report can tell which
        of their groups such a call belongs to, so each of them counts it.

        Ingestion flags such people as it stores the calls (``several_without``), so
        this reads one small index and the open memberships of the type.
        """
        current_groups = (
            Membership.objects.filter(
                person=OuterRef("pk"), group_type=group_type, ended_at__isnull=True
            )
            .order_by()
            .values("person")
            .annotate(n=Count("*"))
            .values("n")
        )
        # The flagged few (a small partial index) are checked one by one for their
        # current groups, rather than all memberships of the type being counted.
        return (
            self.exclude(several_without=0)
            .alias(flag=F("several_without").bitand(1 << group_type.slot))
            .filter(flag__gt=0)
            .alias(groups=Subquery(current_groups))
            .filter(groups__gte=2)
        )

    def flag_several_without(self, slots: dict[int, int]):
        """Add {person id: bits of slots} to ``several_without``, in one query."""
        if slots:
            _update_counters(self, slots, bit_or={"several_without": list(slots.values())})


class Person(models.Model):
    """A user of the customer's product, as known from userId / anonymousId."""

    workspace = models.ForeignKey(Workspace, models.DB_CASCADE, related_name="people")
    user_id = models.CharField(max_length=255, null=True, blank=True)
    traits = models.JSONField(default=dict)
    email = models.CharField(max_length=254, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # Bit N is set once the person sent a track, page or screen call naming no group of
    # the type in slot N while being in several groups of it (the multi-company banner).
    several_without = models.PositiveSmallIntegerField(default=0)

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
            models.Index(
                fields=["workspace"], condition=~Q(several_without=0), name="person_several_without"
            ),
        ]

    def __str__(self):
        return self.display_name

    @property
    def display_name(self):
        return self.traits.get("name") or self.email or self.user_id or f"Anonymous {self.pk}"

    @property
    def subtitle(self):
        """What tells this person apart under their name: their email, else user id."""
        shown = [v for v in (self.email, self.user_id) if v and v != self.display_name]
        return shown[0] if shown else ""

    def is_internal(self, domains):
        return bool(self.email) and self.email.rpartition("@")[2] in domains

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
            several_without=F("several_without").bitor(other.several_without),
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
    # The group's type, copied (a group never changes type) so that "who is in several
    # companies" reads one index instead of joining every membership to its group.
    group_type = models.ForeignKey(GroupType, models.DB_CASCADE, related_name="+")
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
            models.Index(
                fields=["group_type", "person", "started_at"],
                condition=Q(ended_at__isnull=True),
                name="membership_open_by_type",
            ),
        ]


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
        moment, pk = parse_cursor(cursor)
        return self.filter(Q(timestamp__lt=moment) | Q(timestamp=moment, pk__lt=pk))

    def store(self, rows: list[dict]) -> int:
        """Insert new events, given as {field attname: value}, and move their people's
        ``last_seen_at`` on; returns how many were stored.

        The caller has left out message ids stored already; one arriving meanwhile from
        a concurrent retry makes the database refuse the whole insert (IntegrityError),
        so exactly-once holds and the caller can start over. On PostgreSQL the rows go
        in through COPY.
        """
        if connection.vendor != "postgresql":
            self.bulk_create([Event(**row) for row in rows])
        else:
            fields = [f for f in Event._meta.concrete_fields if not f.primary_key]
            names = [f.attname for f in fields]
            json_fields = {f.attname for f in fields if isinstance(f, models.JSONField)}
            columns = ", ".join(f.column for f in fields)
            # psycopg's own COPY API bypasses Django's error translation: a concurrent
            # duplicate must still surface as Django's IntegrityError, which ingestion
            # retries.
            with connection.cursor() as cursor, connection.wrap_database_errors:
                with cursor.copy(f"COPY {Event._meta.db_table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(
                            [_json(row[n]) if n in json_fields else row.get(n) for n in names]
                        )
        latest = {}
        for row in rows:
            person_id, moment = row["person_id"], row["timestamp"]
            if person_id not in latest or moment > latest[person_id]:
                latest[person_id] = moment
        Person.objects.seen(latest)
        return len(rows)


def _json(value):
    # COPY takes JSON as text; orjson writes it several times faster than json.dumps.
    return orjson.dumps(value).decode()


def in_utc(moment: datetime) -> datetime:
    """``moment`` in UTC, taken as UTC if it has no offset; OverflowError if UTC cannot
    hold it (``0001-01-01T00:00+14:00`` is in year 0 there)."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_cursor(cursor: str) -> tuple[datetime, int]:
    """The (timestamp, id) that ``Event.cursor`` wrote as ``cursor``; ValueError if it
    is not such a cursor."""
    try:
        moment, pk = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        moment = datetime.fromisoformat(moment)
        if type(pk) is not int or not 0 < pk < 2**63 or moment.tzinfo is None:
            raise ValueError("invalid cursor")
        return in_utc(moment), pk
    except (ValueError, TypeError, OverflowError, binascii.Error):
        raise ValueError("invalid cursor") from None


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

    objects = IngestionProblemQuerySet.as_manager()

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
    person = models.ForeignKey(
        Person, models.DB_SET_NULL, null=True, blank=True, related_name="+"
    )
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


class RateCounterManager(models.Manager):
    def spent(self, name, *, window, now=None):
        """What ``name`` has spent in the current window of length ``window``."""
        start, _ = self.model.window_of(now or timezone.now(), window)
        spent = self.filter(name=name, window_start__gte=start).values_list("spent", flat=True)
        return spent.first() or 0

    def spend(self, name, amount, *, budget, window, now=None):
        """Add ``amount`` to what ``name`` spent in the current window, unless it had
        already spent ``budget``: the new total, or None (nothing added).

        One statement (an upsert), so concurrent requests in every server process count
        exactly; call it outside any transaction, so that the row is locked only for that
        statement."""
        start, end = self.model.window_of(now or timezone.now(), window)
        table = connection.ops.quote_name(self.model._meta.db_table)
        # A row from an earlier window starts over; one from this window adds up.
        newer = f"{table}.window_start < excluded.window_start"
        sql = (
            f"INSERT INTO {table} (name, window_start, ends_at, spent) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (name) DO UPDATE SET "
            f"spent = CASE WHEN {newer} THEN excluded.spent "
            f"ELSE {table}.spent + excluded.spent END, "
            f"ends_at = CASE WHEN {newer} THEN excluded.ends_at ELSE {table}.ends_at END, "
            f"window_start = CASE WHEN {newer} THEN excluded.window_start "
            f"ELSE {table}.window_start END "
            f"WHERE {newer} OR {table}.spent < %s "
            "RETURNING spent"
        )
        adapt = connection.ops.adapt_datetimefield_value
        with connection.cursor() as cursor:
            cursor.execute(sql, [name, adapt(start), adapt(end), amount, budget])
            row = cursor.fetchone()
        return row[0] if row else None

    def expired(self, now=None):
        return self.filter(ends_at__lte=now or timezone.now())


class RateCounter(models.Model):
    """What a client or a workspace spent of a limit in the current fixed window
    (analytics/limits.py): one row per name, so the table holds one row per workspace
    and per address that sent wrong keys lately."""

    name = models.CharField(max_length=100, unique=True)  # "wrong-key:203.0.113.9", "ingest:42"
    window_start = models.DateTimeField()
    ends_at = models.DateTimeField(db_index=True)
    spent = models.BigIntegerField()

    objects = RateCounterManager()

    @staticmethod
    def window_of(moment, length):
        """The fixed window of ``length`` that ``moment`` falls in: (start, end)."""
        seconds = length.total_seconds()
        start = datetime.fromtimestamp(moment.timestamp() // seconds * seconds, tz=UTC)
        return start, start + length

    def __str__(self):
        return f"{self.name}: {self.spent} until {self.ends_at:%H:%M:%S}"


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
