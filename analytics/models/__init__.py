"""Groupsite's data: workspaces, their group types, groups, people, memberships and events.

One module per concept; everything is imported from here (``from analytics.models import
Group``). The modules depend on each other in one direction only — workspaces, events,
people, groups, then cohorts, deletions and saved reports — the bulk-write helpers they
share live in ``bulk``, and the conditions on JSON properties that reports and cohorts
share in ``properties``.

Everything a workspace collects is scoped to it and deleted with it by the database
(``DB_CASCADE``), so deleting a person or a workspace is one statement per table, not a
Python-side collection of millions of rows.
"""

from analytics.models.cohorts import Cohort, Condition
from analytics.models.deletions import Deletion, SuppressedUser
from analytics.models.events import (
    ACTIVITY_TYPES,
    GROUP_SLOTS,
    PAGE_EVENT,
    SCREEN_EVENT,
    SPECIAL_EVENTS,
    DailyActivity,
    DayTotal,
    Event,
    EventName,
    DuplicateWindow,
    EventReceipt,
    EventType,
    GroupDay,
    PendingReassignment,
    QueuedEvents,
    RollupProgress,
    event_label,
    event_q,
    events_q,
    in_utc,
    parse_cursor,
    parse_iso_moment,
    report_event,
)
from analytics.models.groups import (
    ACTIVE_DAYS,
    PROFILE_DAYS,
    EventCount,
    Group,
    GroupActivity,
    GroupType,
    RecentActivity,
    Week,
)
from analytics.models.people import Identity, Membership, MembershipChange, Person, normalize_domain
from analytics.models.problems import IngestionProblem
from analytics.models.rates import RateCounter
from analytics.models.reports import SavedReport
from analytics.models.workers import TaskWorker
from analytics.models.workspaces import (
    Role,
    User,
    Workspace,
    WorkspaceMember,
    hash_key,
    new_secret_key,
    new_write_key,
    time_zone_choices,
)

__all__ = [
    "ACTIVE_DAYS",
    "ACTIVITY_TYPES",
    "GROUP_SLOTS",
    "PAGE_EVENT",
    "SCREEN_EVENT",
    "SPECIAL_EVENTS",
    "EventName",
    "EventCount",
    "RecentActivity",
    "Week",
    "DuplicateWindow",
    "EventReceipt",
    "PendingReassignment",
    "QueuedEvents",
    "RollupProgress",
    "report_event",
    "Cohort",
    "Condition",
    "DailyActivity",
    "DayTotal",
    "GroupDay",
    "Deletion",
    "Event",
    "EventType",
    "Group",
    "GroupActivity",
    "GroupType",
    "Identity",
    "IngestionProblem",
    "Membership",
    "MembershipChange",
    "PROFILE_DAYS",
    "Person",
    "RateCounter",
    "Role",
    "SavedReport",
    "SuppressedUser",
    "TaskWorker",
    "User",
    "Workspace",
    "WorkspaceMember",
    "event_label",
    "event_q",
    "events_q",
    "hash_key",
    "in_utc",
    "new_secret_key",
    "new_write_key",
    "time_zone_choices",
    "normalize_domain",
    "parse_cursor",
    "parse_iso_moment",
]
