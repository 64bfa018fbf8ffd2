"""Groups' activity: when each person last did something in each group, and when each
group last saw anyone do something; the one writer of both.

Activity is a track, page or screen call (``Event.objects.activity()``) carrying the
group. ``GroupActivity`` keeps, per group and person, the moment of their latest one, so
that "active members in the last 30 days" counts a range of an index;
``Group.last_active_at`` keeps the latest of a group's, so that 100,000 groups sort by it
through an index. Neither is worked out from events on a page.

``recent_of`` reads what a group's profile shows of its activity.

Both stay true to the minute they are shown to: ingestion only moves them forward (a
late call with an old timestamp changes nothing), and on PostgreSQL by a minute or more
(``STEP``); a visitor merged into a known user hands over their moments; when people are
deleted their rows go and their groups' ``last_active_at`` becomes the latest of
everyone else's. A group type's removal deletes its groups, and the database deletes
their rows with them (``DB_CASCADE``): nothing is left to keep.
"""

from collections.abc import Mapping
from datetime import datetime, timedelta

from django.db.models import OuterRef, QuerySet, Subquery

from analytics import event_store
from analytics.models import (
    ACTIVE_DAYS,
    PROFILE_DAYS,
    EventCount,
    Group,
    GroupActivity,
    Person,
    RecentActivity,
    Week,
)
from analytics.models.bulk import keep_latest

# Moments are shown to the minute ("3 min ago"); on PostgreSQL, ingestion moves a stored
# one on only by a minute or more, so that the rows of a busy group and of its active
# members are rewritten (with their indexes) once a minute, not for every batch.
STEP = timedelta(minutes=1)


def record(moments: Mapping[tuple[int, int], datetime], *, group_types: Mapping[int, int]):
    """Take in new activity: {(group id, person id): the moment of their latest activity
    carrying that group among the new events}; ``group_types`` gives each group's type id.

    Two queries at most (ingestion's hot path): the people's rows, then the groups'. On
    PostgreSQL a stored moment moves on by a minute or more only (``STEP``).
    """
    if not moments:
        return
    keep_latest(
        GroupActivity,
        [
            {
                "group_id": group_id,
                "group_type_id": group_types[group_id],
                "person_id": person_id,
                "last_active_at": moment,
            }
            for (group_id, person_id), moment in moments.items()
        ],
        unique=["person_id", "group_id"],
        latest="last_active_at",
        step=STEP,
    )
    latest = {}
    for (group_id, _), moment in moments.items():
        if group_id not in latest or moment > latest[group_id]:
            latest[group_id] = moment
    Group.objects.active_at(latest, step=STEP)


def merge(*, into: Person, source: Person):
    """Give ``into`` the activity of ``source`` (who is about to be deleted, their events
    now ``into``'s): in a group both were active in, the later moment."""
    rows = list(source.group_activity.values("group_id", "group_type_id", "last_active_at"))
    GroupActivity.objects.filter(person=source).delete()
    keep_latest(
        GroupActivity,
        [{**row, "person_id": into.pk} for row in rows],
        unique=["person_id", "group_id"],
        latest="last_active_at",
    )


def delete_of(people: QuerySet[Person]):
    """Delete the activity of these people; each of their groups' ``last_active_at``
    becomes the latest of everyone else's, None if no one else's.

    Their rows should be locked already (as a deletion does), so that no call adds to
    their activity in between.
    """
    mine = GroupActivity.objects.filter(person__in=people)
    theirs = Group.objects.filter(pk__in=mine.values("group_id"))
    # The groups are locked before the statement that reads everyone else's moments
    # starts: an UPDATE that waited for a group's lock would still read what was
    # committed before it waited, and miss the activity of the batch it waited for.
    # (Three queries, whether or not these people were active anywhere.)
    list(theirs.order_by("pk").select_for_update(no_key=True).values_list("pk", flat=True))
    everyone_elses = (
        GroupActivity.objects.filter(group=OuterRef("pk"))
        .exclude(person__in=people)
        .order_by("-last_active_at")
        .values("last_active_at")[:1]
    )
    theirs.update(last_active_at=Subquery(everyone_elses))
    mine.delete()


def recent_of(group: Group, *, now: datetime | None = None) -> RecentActivity:
    """The group's activity over the last ``PROFILE_DAYS`` days in its workspace's time
    zone, for its profile: by week (a week without activity there with zeros), its most
    frequent events, and its members active in the last ``ACTIVE_DAYS``. Three queries,
    two of them of the event store."""
    workspace = group.workspace
    since = workspace.last_days(PROFILE_DAYS, now=now)
    found = event_store.weeks_in_group(group, since=since, zone=workspace.zone)
    return RecentActivity(
        since=since,
        weeks=[Week(monday, *found.get(monday, (0, 0))) for monday in workspace.weeks_since(since, now=now)],
        top_events=[EventCount(*row) for row in event_store.top_in_group(group, since=since, limit=10)],
        active_members=group.active_members(workspace.last_days(ACTIVE_DAYS, now=now)),
    )
