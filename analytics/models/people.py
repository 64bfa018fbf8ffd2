"""People (the users of the customer's product), their ids, and their memberships in groups."""

from datetime import datetime
from functools import reduce
from operator import or_

from django.db import connection, models
from django.db.models import Count, F, FilteredRelation, OuterRef, Q, Subquery
from django.db.models.functions import Reverse
from django.utils import timezone

from analytics import traits as trait_rules
from analytics.models.attach import AttachingQuerySet
from analytics.models.bulk import ArrayUpdateQuerySet, update_counters
from analytics.models.workspaces import Workspace


def normalize_domain(domain: str) -> str:
    """An email domain as it is stored and compared: without the spaces around it, a
    leading ``@`` or a trailing dot (``acme.com.`` names ``acme.com``), in lower case."""
    return domain.strip().lstrip("@").rstrip(".").lower()


class PersonQuerySet(AttachingQuerySet, ArrayUpdateQuerySet):
    def by_user_id(self, user_id):
        """The person known by this user id (current or earlier, through alias)."""
        return self.filter(identities__kind=Identity.Kind.USER, identities__value=user_id).first()

    def with_email_domain(self, domain: str):
        """People whose email address is at ``domain`` (see ``normalize_domain``)."""
        return self.at_domains([domain])

    def at_domains(self, domains):
        """People whose email address is at one of ``domains`` (see ``normalize_domain``);
        no one for no domains."""
        if not domains:
            return self.none()
        # The address read backwards starts with the domain read backwards: a prefix,
        # which an index can find (on PostgreSQL, migration 0021), where the end of the
        # address cannot be.
        return self.alias(email_reversed=Reverse("email")).filter(
            reduce(
                or_,
                (
                    Q(email_reversed__startswith=("@" + normalize_domain(domain))[::-1])
                    for domain in domains
                ),
            )
        )

    def internal(self, workspace: Workspace):
        """The people of ``workspace`` at its internal domains (its staff, whom reports and
        cohorts leave out by default): the one query for them (``Person.is_internal``
        tells the same of one person already read)."""
        return self.filter(workspace=workspace).at_domains(workspace.internal_domains)

    def seen(self, latest: dict[int, object]):
        """Move people's ``last_seen_at`` on to {person id: latest moment of new events}.

        It is shown to the minute, so on PostgreSQL a row is only written when it moves
        on by a minute or more: an active person's events then rarely touch their row,
        which ingestion would otherwise rewrite (with all its indexes) for every batch.
        """
        if not latest:
            return
        if connection.vendor != "postgresql":
            update_counters(self, latest, latest={"last_seen_at": list(latest.values())})
            return
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {Person._meta.db_table} AS p SET last_seen_at = v.latest "
                "FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, latest) "
                "WHERE p.id = v.id AND (p.last_seen_at IS NULL "
                "OR v.latest >= p.last_seen_at + interval '1 minute')",
                [list(latest), list(latest.values())],
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

    def anonymous(self):
        """People known by an anonymous id only: visitors who have not signed up (yet)."""
        return self.filter(user_id__isnull=True)

    def in_several_with_events_outside(self, group_type):
        """People in two groups of this type or more now who sent track, page or screen
        calls naming none of them while they were in several: no report can tell which
        of their groups such a call belongs to, so each of them counts it.

        Ingestion flags such people as it stores the calls (``several_without``), so
        this reads one small index and the open memberships of the type.
        """
        current_groups = (
            Membership.objects.current()
            .filter(person=OuterRef("pk"), group_type=group_type)
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
            update_counters(self, slots, bit_or={"several_without": list(slots.values())})


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
        verbose_name_plural = "people"
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
            # The few anonymous visitors, counted on the People list without reading
            # every person's row.
            models.Index(
                fields=["workspace"], condition=Q(user_id__isnull=True), name="person_anonymous"
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
        """Whether this person's email address is at one of ``domains`` (the workspace's
        internal domains), as ``PersonQuerySet.internal`` finds them."""
        _, at, domain = self.email.rpartition("@")
        return bool(at) and domain in domains

    def set_traits(self, new_traits):
        self.traits = trait_rules.merge(self.traits, new_traits, trait_rules.USER_RESERVED)
        email = self.traits.get("email")
        self.email = email.strip().lower()[:254] if isinstance(email, str) else ""


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


class MembershipQuerySet(AttachingQuerySet):
    def current(self, at: datetime | None = None):
        """Memberships open at ``at``: the person is in the group then (now if None)."""
        if at is None:
            return self.filter(ended_at__isnull=True)
        return self.filter(started_at__lte=at).filter(Q(ended_at__isnull=True) | Q(ended_at__gt=at))

    def current_of(self, group):
        """The group's current members, one membership each: the one query for them, which
        the group page (``most_active_first``), the API (``latest_first``) and the
        timeline start from."""
        return self.current().filter(group=group)

    def latest_first(self):
        """These memberships, latest to join first, with each person."""
        return self.select_related("person").order_by("-started_at", "-pk")

    def most_active_first(self, group):
        """These memberships of ``group``, the most recently active in it first (those who
        have done nothing in it last), with their ``last_active_at`` in the group (see
        ``GroupActivity``; None if they have done nothing in it) and each person. Their
        events in it are the event store's to count (``event_store.with_activity_in``).

        The order joins each membership to its one row of the group's activity, without
        the people: they are read afterwards for the rows fetched only (a join with every
        member's row before sorting took six times as long for 3,000 members)."""
        here = FilteredRelation(
            "group__activity", condition=Q(group__activity__person=F("person"))
        )
        return (
            self.alias(here=here)
            .annotate(last_active_at=F("here__last_active_at"))
            .prefetch_related("person")
            .order_by(F("last_active_at").desc(nulls_last=True), "-pk")
        )


class Membership(models.Model):
    """A person in a group, from ``started_at`` until ``ended_at`` (open while None).

    Opened, closed, merged and deleted only through ``analytics.memberships``, which
    keeps ``Group.member_count`` with them.
    """

    workspace = models.ForeignKey(Workspace, models.DB_CASCADE, related_name="+")
    person = models.ForeignKey(Person, models.DB_CASCADE, related_name="memberships")
    group = models.ForeignKey("Group", models.DB_CASCADE, related_name="memberships")
    # The group's type, copied (a group never changes type) so that "who is in several
    # companies" reads one index instead of joining every membership to its group.
    group_type = models.ForeignKey("GroupType", models.DB_CASCADE, related_name="+")
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)

    objects = MembershipQuerySet.as_manager()

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


class MembershipChange(models.Model):
    """A membership added, changed or deleted (``membership_id``, of ``workspace_id``:
    plain numbers, the row may be gone), recorded by the database itself (triggers of
    migration 0027, whatever changes it: ``analytics.memberships``, a cascade) for the
    copy ClickHouse keeps of the memberships (``analytics.clickhouse.memberships``),
    which takes these rows and writes the memberships' state then. Without ClickHouse
    the task worker deletes them once an hour."""

    workspace_id = models.BigIntegerField()
    membership_id = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["workspace_id", "id"], name="membership_change_order")]

    def __str__(self):
        return f"membership {self.membership_id}"

