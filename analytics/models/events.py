"""Events: every call as received, with its group context fixed at ingestion."""

import base64
import binascii
import json
from datetime import UTC, datetime, timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone

from analytics.models.workspaces import Workspace

# How many group types a workspace can have: the event table has a column per slot.
GROUP_SLOTS = 10


class EventType(models.TextChoices):
    TRACK = "track"
    PAGE = "page"
    SCREEN = "screen"
    IDENTIFY = "identify"
    GROUP = "group"
    ALIAS = "alias"


# What people do in the product, which reports count; identify, group and alias calls
# are bookkeeping about who they are and where they belong.
ACTIVITY_TYPES = (EventType.TRACK, EventType.PAGE, EventType.SCREEN)

# The report event that stands for every page call, and for every screen call; a track
# call is the report event of its name.
PAGE_EVENT = "$page"
SCREEN_EVENT = "$screen"


def report_event(type: str, name: str) -> str | None:
    """The report event a call of this type and name counts as, if any."""
    if type == EventType.TRACK:
        return name
    return {EventType.PAGE: PAGE_EVENT, EventType.SCREEN: SCREEN_EVENT}.get(type)


SPECIAL_EVENTS = {PAGE_EVENT: "Page viewed", SCREEN_EVENT: "Screen viewed"}


def event_label(event: str | None) -> str:
    """How a report or a cohort names the report event ``event`` ("" is any event)."""
    if not event:
        return "Any event"
    return SPECIAL_EVENTS.get(event, event)


def event_q(event: str) -> Q:
    """Activity events of the report event ``event``: a track call's name, every page or
    screen call, or "" for any activity (reports and cohorts count the same events)."""
    if not event:
        return Q()
    if event == PAGE_EVENT:
        return Q(type=EventType.PAGE)
    if event == SCREEN_EVENT:
        return Q(type=EventType.SCREEN)
    return Q(type=EventType.TRACK, name=event)


def events_q(events) -> Q:
    """Activity events of any of the report events ``events`` (see ``event_q``), with the
    track calls' names in one ``IN``: an index on names then answers them in one scan."""
    events = set(events)
    if "" in events:
        return Q()
    names = sorted(events - {PAGE_EVENT, SCREEN_EVENT})
    found = Q(type=EventType.TRACK, name__in=names) if names else Q(pk__in=[])
    if PAGE_EVENT in events:
        found |= Q(type=EventType.PAGE)
    if SCREEN_EVENT in events:
        found |= Q(type=EventType.SCREEN)
    return found


class EventQuerySet(models.QuerySet):
    def for_workspace(self, workspace):
        return self.filter(workspace=workspace)

    def activity(self):
        """Track, page and screen calls: what reports count (``ACTIVITY_TYPES``)."""
        return self.filter(type__in=ACTIVITY_TYPES)

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


def in_utc(moment: datetime) -> datetime:
    """``moment`` in UTC, taken as UTC if it has no offset; OverflowError if UTC cannot
    hold it (``0001-01-01T00:00+14:00`` is in year 0 there)."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_iso_moment(text: str) -> datetime:
    """The ISO-8601 date or time ``text`` as an aware datetime in UTC (``in_utc``):
    ValueError if it is not one, OverflowError if UTC cannot hold it. Callers say which
    to whom: the tracking API and the query parameters word their refusals differently."""
    return in_utc(datetime.fromisoformat(text))


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
        "Group", models.DB_SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )


class Event(models.Model):
    """One call as received: track, page, screen, identify, group or alias.

    Its group context is fixed when it is ingested: ``group_N`` holds the group of the
    type whose slot is N, or nothing. Written only through ``analytics.event_store``.
    """

    workspace = models.ForeignKey(Workspace, models.DB_CASCADE, related_name="+", db_index=False)
    person = models.ForeignKey("Person", models.DB_CASCADE, related_name="events", db_index=False)
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
            models.UniqueConstraint(
                fields=["message_id", "workspace"], name="event_message_id_unique"
            ),
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


class EventReceipt(models.Model):
    """A call's message id received in the last days, with ClickHouse as the event store
    (``CLICKHOUSE_URL``): the event's number and moment, fixed at its first delivery, and
    whether ClickHouse holds it yet (``stored_at``).

    ClickHouse keeps one of two rows with the same sorting key (workspace, day, message
    id), and only when it merges them or is asked for ``FINAL``: a retry must write the
    row again with the same moment, which would otherwise move with the clock-skew
    correction of each delivery. So a retry of a stored call is a duplicate, and one of
    a call whose storing failed (``stored_at`` empty) is stored again, as it was first
    numbered and dated. Kept ``KEPT`` days (``purge``), the window of retries it covers;
    events stored in the main database have their own unique constraint instead.
    """

    KEPT = timedelta(days=8)

    workspace = models.ForeignKey(Workspace, models.DB_CASCADE, related_name="+", db_index=False)
    message_id = models.CharField(max_length=255)
    timestamp = models.DateTimeField()
    received_at = models.DateTimeField()
    stored_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # message_id leads, as in the events' own constraint.
            models.UniqueConstraint(
                fields=["message_id", "workspace"], name="event_receipt_unique"
            ),
        ]
        indexes = [models.Index(fields=["received_at"], name="event_receipt_received")]

    def __str__(self):
        return f"{self.message_id} ({'stored' if self.stored_at else 'pending'})"


class PendingReassignment(models.Model):
    """With ClickHouse as the event store: a person's events to be made another's (an
    anonymous visitor turned out to be a known user), recorded in the transaction that
    merges them and made in ClickHouse once it has committed, in order of recording
    (``analytics.clickhouse.store.apply_reassignments``). Plain numbers, not keys: the
    first person is deleted with the merge. Kept a while once made (``made_at``), for the
    events of the first person still queued (``QueuedEvents``)."""

    # Kept this long once made, and while events queued before it wait to be stored:
    # a queued event of the first person is stored as the other's (``queue.flush``).
    KEPT_MADE = timedelta(hours=1)

    workspace = models.ForeignKey(Workspace, models.DB_CASCADE, related_name="+", db_index=False)
    from_person_id = models.BigIntegerField()
    to_person_id = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    made_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "id"], name="pending_reassignment_order")]

    def __str__(self):
        return f"{self.from_person_id} → {self.to_person_id}"


class RollupProgress(models.Model):
    """With ClickHouse as the event store: how far the rollups of a workspace's events
    (``group_days``, ``group_firsts``, ``person_days``) have been worked out
    (``analytics.clickhouse.rollups.catch_up``). Inserting events does not add to the
    rollups (views would cost each insert a third of its time): a flush of queued events
    adds its own, and a report adds any stored since otherwise first, and so does the
    task worker at each heartbeat.

    ``rolled_up_to``: every event numbered up to it is added. ``claimed_to``: a catch-up
    records, before it reads the events, the last number it adds up to; one that failed
    after is finished by the next."""

    workspace = models.OneToOneField(Workspace, models.DB_CASCADE, primary_key=True, related_name="+")
    rolled_up_to = models.BigIntegerField(default=0)
    claimed_to = models.BigIntegerField(default=0)

    @classmethod
    def record(cls, workspace_id: int) -> None:
        """The workspace's row, from nothing added up, unless it has one."""
        cls.objects.bulk_create([cls(workspace_id=workspace_id)], ignore_conflicts=True)

    def __str__(self):
        return f"workspace {self.workspace_id} up to event {self.rolled_up_to}"


class DuplicateWindow(models.Model):
    """With ClickHouse as the event store: moments (``start`` to ``end``, both included)
    at which a workspace's events may be held twice in ClickHouse until it merges them:
    a retried call written again after a delivery that may have written it (recorded
    when the retry is numbered, ``analytics.clickhouse.store.take``), a batch copied
    again (``analytics.clickhouse.copy``). Both copies of a call have the same moment.
    Counts read the events of these moments with ``FINAL`` and the others without it
    (three times quicker); there are none but after failures. Deleted once ClickHouse
    has merged the copies (``analytics.clickhouse.store.purge_duplicate_windows``), and
    not before ``KEPT_AT_LEAST`` (the second copy of a retry is written after)."""

    # Kept while ClickHouse holds two copies of a call then (``purge_duplicate_windows``).
    KEPT_AT_LEAST = timedelta(hours=1)

    workspace = models.ForeignKey(Workspace, models.DB_CASCADE, related_name="+", db_index=False)
    start = models.DateTimeField()
    end = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["workspace", "end"], name="duplicate_window_end")]

    def __str__(self):
        return f"{self.start} to {self.end}"


class QueuedEvents(models.Model):
    """With ClickHouse as the event store: a batch of events taken by ingestion
    (``analytics.clickhouse.queue.enqueue``), written in ingestion's transaction, so held
    durably once the call is answered, and stored in ClickHouse by the task worker, many
    batches in one insert, or by a read of the workspace's events first
    (``analytics.clickhouse.queue.flush``). The main database's part of Kafka in
    PostHog's design: a table that drains, not one that grows with every event.

    ``block`` is the events as ClickHouse's JSONEachRow, with their days in ``zone``;
    ``people`` and ``groups`` (their ids) are checked when they are stored: a person
    deleted meanwhile loses them, a visitor merged into a user gives them to the user, a
    group removed with its type leaves their context. ``tries`` counts the attempts to
    store them: after a failed one, ClickHouse may hold them already."""

    workspace = models.ForeignKey(Workspace, models.DB_CASCADE, related_name="+", db_index=False)
    created_at = models.DateTimeField(default=timezone.now)
    zone = models.CharField(max_length=64)
    block = models.BinaryField()
    people = models.JSONField()
    groups = models.JSONField()
    retried = models.JSONField(default=list)
    first_id = models.BigIntegerField()
    last_id = models.BigIntegerField()
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()
    tries = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["workspace", "id"], name="queued_events_order")]

    def __str__(self):
        return f"events {self.first_id} to {self.last_id}"


class EventName(models.Model):
    """A report event seen in a workspace (a track call's name, ``$page`` or ``$screen``),
    so that pickers list them without reading every event. Written with the events
    (``analytics.event_store``); a name stays listed after its events are deleted."""

    workspace = models.ForeignKey(Workspace, models.DB_CASCADE, related_name="+", db_index=False)
    name = models.CharField(max_length=255)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="event_name_unique"),
        ]

    def __str__(self):
        return self.name


class DailyActivity(models.Model):
    """A person's activity (track, page and screen calls) on one day of the workspace's
    time zone with one group context: how many calls, the first and the last moment.

    Reports that ask about any activity — active users and groups, strict and
    over-counted, a trend or a retention of any event — read these rows instead of every
    event: a person's calls of a day with the same context are one row. ``group_N`` is
    the id of the group of slot N in the context, or 0 for none (a plain number, not a
    key: a unique constraint, on which new calls add up, treats every 0 alike where it
    would treat every NULL apart).

    Derived from events, and written only by ``analytics.event_store`` with them: kept
    exact when calls arrive late (they add to their own day), when a visitor's calls
    become a known user's, when people are deleted (their rows go with them), when a group
    type is deleted and when the workspace's time zone changes (both rebuild the
    workspace's rows from its events).
    """

    workspace = models.ForeignKey(Workspace, models.DB_CASCADE, related_name="+", db_index=False)
    person = models.ForeignKey("Person", models.DB_CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    group_0 = models.BigIntegerField(default=0)
    group_1 = models.BigIntegerField(default=0)
    group_2 = models.BigIntegerField(default=0)
    group_3 = models.BigIntegerField(default=0)
    group_4 = models.BigIntegerField(default=0)
    group_5 = models.BigIntegerField(default=0)
    group_6 = models.BigIntegerField(default=0)
    group_7 = models.BigIntegerField(default=0)
    group_8 = models.BigIntegerField(default=0)
    group_9 = models.BigIntegerField(default=0)
    events = models.PositiveIntegerField()
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()

    KEY = ("person_id", "day", *(f"group_{slot}" for slot in range(GROUP_SLOTS)))

    class Meta:
        verbose_name_plural = "daily activity"
        constraints = [
            # person leads: a person's rows are found by it when they merge or are deleted.
            models.UniqueConstraint(
                fields=["person", "day", *(f"group_{slot}" for slot in range(GROUP_SLOTS))],
                name="daily_activity_unique",
            ),
        ]
        # The index by (workspace, day) that reports read is made by the migration: on
        # PostgreSQL it holds every column (INCLUDE), which SQLite cannot.

    def __str__(self):
        return f"{self.person_id} on {self.day}: {self.events}"


class DayTotal(models.Model):
    """The activity events of a workspace's day, in all (``events``) and without a group
    of each slot (``without_N``: the calls whose context had none of slot N's type), as
    a share of the daily activity's rows: the workspace's totals for a day are the sums
    of its rows of that day, whatever their ``share``.

    The notes beside the reports ("N events carried no company") and the overview's
    events read these few rows instead of summing every day of activity in the period.

    Kept by the database itself, by triggers on ``DailyActivity`` (migration 0022), so it
    follows every row added, grown or deleted there whatever does it. On PostgreSQL a
    transaction adds to a ``share`` that no other open transaction holds (it claims one
    with an advisory lock until it ends): the totals of today are written by every batch
    of calls, and batches that ingest side by side never wait for each other's row nor
    deadlock on them. A share can fall below zero (a deletion subtracts from its own);
    only the sum of a day's shares means anything.
    """

    SHARES = 32

    workspace = models.ForeignKey(Workspace, models.DB_CASCADE, related_name="+", db_index=False)
    day = models.DateField()
    share = models.PositiveSmallIntegerField()
    events = models.BigIntegerField()
    without_0 = models.BigIntegerField()
    without_1 = models.BigIntegerField()
    without_2 = models.BigIntegerField()
    without_3 = models.BigIntegerField()
    without_4 = models.BigIntegerField()
    without_5 = models.BigIntegerField()
    without_6 = models.BigIntegerField()
    without_7 = models.BigIntegerField()
    without_8 = models.BigIntegerField()
    without_9 = models.BigIntegerField()

    class Meta:
        verbose_name_plural = "day totals"
        constraints = [
            models.UniqueConstraint(fields=["workspace", "day", "share"], name="day_total_unique"),
        ]

    def __str__(self):
        return f"{self.day} ({self.share}): {self.events}"


class GroupDay(models.Model):
    """A group's presence in daily activity: on ``day``, how many rows of
    ``DailyActivity`` (a person's day with one context) carry the group ``group_id`` in
    its type's ``slot``. A group was active on a day, strictly, exactly when it has a
    row here with ``activity_rows`` above zero (above its internal people's rows, when
    reports leave them out).

    Active groups strict and over-counted, and trends and retention of any activity
    counted by a group type, read these rows: one per group and day, a few times fewer
    than the days of activity they stand for.

    Kept by the database itself, by triggers on ``DailyActivity`` (migration 0020), so it
    follows every row added or deleted there whatever does it (a new day of activity,
    visitors merged into users, deletions, cascades, rebuilds): it cannot drift from the
    rows it counts. A row's group columns never change (a trigger refuses it), so
    inserts and deletes are all there is to follow. Rows that fall to zero stay, at zero.
    """

    workspace = models.ForeignKey(Workspace, models.DB_CASCADE, related_name="+", db_index=False)
    slot = models.PositiveSmallIntegerField()
    group_id = models.BigIntegerField()  # a plain number, as in DailyActivity
    day = models.DateField()
    activity_rows = models.IntegerField()

    class Meta:
        verbose_name_plural = "group days"
        constraints = [
            # Group first: a group's days are found by it (retention's probes); the
            # index of a type's days, which the counts read, is made by the migration.
            models.UniqueConstraint(
                fields=["workspace", "slot", "group_id", "day"], name="group_day_unique"
            ),
        ]

    def __str__(self):
        return f"group {self.group_id} on {self.day}: {self.activity_rows}"
