"""Django's admin, for support work: look things up across workspaces, change little.

The data (people, events, daily activity, groups, memberships, group activity, group types, cohorts,
saved reports, workspaces) is read-only here: people and their events go through the
product's deletion, which counts and removes everything of theirs in one transaction;
group types own a column slot of the event table; cohorts and saved reports are changed
in the product, by whom its roles allow; a workspace keeps an owner. Accounts can be changed (a password reset,
deactivating someone), not added or deleted: accounts are created by owners in the
settings or by ``create_workspace``, and deleting one here could leave a workspace
without its owner. The changelists fetch what they show in one query each.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group as PermissionGroup

from analytics.models import (
    Cohort,
    DailyActivity,
    DayTotal,
    Deletion,
    Event,
    EventName,
    Group,
    GroupActivity,
    DuplicateWindow,
    EventReceipt,
    GroupDay,
    PendingReassignment,
    QueuedEvents,
    GroupType,
    Identity,
    IngestionProblem,
    Membership,
    MembershipChange,
    Person,
    RateCounter,
    RollupProgress,
    SavedReport,
    SuppressedUser,
    TaskWorker,
    User,
    Workspace,
    WorkspaceMember,
)

admin.site.site_header = admin.site.site_title = "Groupsite support"
# Django's groups of permissions are unused, and "Groups" here means customers' groups.
admin.site.unregister(PermissionGroup)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Shown, never added, changed or deleted through the admin."""

    # Counting every row of a big table is not worth a page of support work.
    show_full_result_count = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(User)
class AccountAdmin(UserAdmin):
    list_display = ["email", "is_active", "is_staff", "is_superuser", "last_login", "date_joined"]
    search_fields = ["email", "username"]
    fieldsets = [
        *UserAdmin.fieldsets,
        ("Dashboard", {"fields": ["last_workspace"]}),
    ]
    readonly_fields = ["last_workspace", "last_login", "date_joined"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MemberInline(ReadOnlyInline):
    model = WorkspaceMember
    fields = ["user", "role"]
    readonly_fields = fields


class GroupTypeInline(ReadOnlyInline):
    model = GroupType
    fields = ["name", "singular", "plural", "position", "slot", "is_default"]
    readonly_fields = fields
    ordering = ["position"]


@admin.register(Workspace)
class WorkspaceAdmin(ReadOnlyAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    # Never the secret key's hash: its end is enough to tell which key a client holds.
    fields = ["name", "slug", "write_key", "secret_key_hint", "internal_domains", "created_at"]
    inlines = [MemberInline, GroupTypeInline]


@admin.register(WorkspaceMember)
class WorkspaceMemberAdmin(ReadOnlyAdmin):
    list_display = ["user", "workspace", "role"]
    list_select_related = ["user", "workspace"]
    list_filter = ["role", "workspace"]
    search_fields = ["user__email", "workspace__name", "workspace__slug"]


@admin.register(GroupType)
class GroupTypeAdmin(ReadOnlyAdmin):
    list_display = ["name", "plural", "workspace", "position", "slot", "is_default"]
    list_select_related = ["workspace"]
    list_filter = ["workspace"]
    search_fields = ["name", "workspace__name"]


@admin.register(Group)
class GroupAdmin(ReadOnlyAdmin):
    list_display = [
        "key", "name", "group_type", "workspace", "member_count", "last_updated", "last_active_at"
    ]
    list_select_related = ["group_type", "workspace"]
    list_filter = ["workspace", "group_type"]
    search_fields = ["=key", "properties__name"]


@admin.register(Person)
class PersonAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "user_id", "email", "workspace", "created_at", "last_seen_at"]
    list_select_related = ["workspace"]
    list_filter = ["workspace"]
    search_fields = ["=user_id", "email"]


@admin.register(Identity)
class IdentityAdmin(ReadOnlyAdmin):
    list_display = ["value", "kind", "person", "workspace"]
    list_select_related = ["person", "workspace"]
    list_filter = ["kind", "workspace"]
    search_fields = ["=value"]


@admin.register(Membership)
class MembershipAdmin(ReadOnlyAdmin):
    list_display = ["person", "group", "started_at", "ended_at"]
    list_select_related = ["person", "group__group_type"]
    list_filter = ["workspace", "group_type"]
    search_fields = ["=person__user_id", "=group__key"]


@admin.register(GroupActivity)
class GroupActivityAdmin(ReadOnlyAdmin):
    list_display = ["person", "group", "last_active_at"]
    list_select_related = ["person", "group__group_type"]
    list_filter = ["group_type"]
    search_fields = ["=person__user_id", "=group__key"]


@admin.register(DailyActivity)
class DailyActivityAdmin(ReadOnlyAdmin):
    list_display = ["person", "day", "events", "first_at", "last_at", "workspace"]
    list_select_related = ["person", "workspace"]
    list_filter = ["workspace"]
    search_fields = ["=person__user_id"]


@admin.register(GroupDay)
class GroupDayAdmin(ReadOnlyAdmin):
    list_display = ["group_id", "slot", "day", "activity_rows", "workspace"]
    list_select_related = ["workspace"]
    list_filter = ["workspace", "slot"]
    search_fields = ["=group_id"]


@admin.register(DayTotal)
class DayTotalAdmin(ReadOnlyAdmin):
    list_display = ["day", "share", "events", "without_0", "without_1", "workspace"]
    list_select_related = ["workspace"]
    list_filter = ["workspace"]


@admin.register(EventReceipt)
class EventReceiptAdmin(ReadOnlyAdmin):
    list_display = ["message_id", "timestamp", "received_at", "stored_at", "workspace"]
    list_select_related = ["workspace"]
    list_filter = ["workspace"]
    search_fields = ["=message_id"]


@admin.register(PendingReassignment)
class PendingReassignmentAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "created_at", "made_at", "workspace"]
    list_select_related = ["workspace"]
    list_filter = ["workspace"]


@admin.register(QueuedEvents)
class QueuedEventsAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "created_at", "tries", "workspace"]
    list_select_related = ["workspace"]
    list_filter = ["workspace"]
    exclude = ["block"]


@admin.register(MembershipChange)
class MembershipChangeAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "workspace_id"]


@admin.register(RollupProgress)
class RollupProgressAdmin(ReadOnlyAdmin):
    list_display = ["workspace", "rolled_up_to"]
    list_select_related = ["workspace"]


@admin.register(DuplicateWindow)
class DuplicateWindowAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "workspace"]
    list_select_related = ["workspace"]
    list_filter = ["workspace"]


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["__str__", "type", "person", "workspace", "timestamp", "received_at"]
    list_select_related = ["person", "workspace"]
    list_filter = ["type", "workspace"]
    search_fields = ["=message_id", "=user_id", "=anonymous_id"]
    # Each group_N column is a link to a group: not fetched for the list.
    exclude = [f"group_{slot}" for slot in range(10)]


@admin.register(EventName)
class EventNameAdmin(ReadOnlyAdmin):
    list_display = ["name", "workspace"]
    list_select_related = ["workspace"]
    list_filter = ["workspace"]
    search_fields = ["name"]


@admin.register(IngestionProblem)
class IngestionProblemAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "level", "call_type", "reason", "call_count", "workspace"]
    list_select_related = ["workspace"]
    list_filter = ["level", "workspace"]
    search_fields = ["=message_id", "=user_id", "=anonymous_id"]


@admin.register(SuppressedUser)
class SuppressedUserAdmin(ReadOnlyAdmin):
    list_display = ["user_id", "workspace", "created_at"]
    list_select_related = ["workspace"]
    list_filter = ["workspace"]
    search_fields = ["=user_id"]


@admin.register(Deletion)
class DeletionAdmin(ReadOnlyAdmin):
    list_display = ["label", "status", "requested_by", "workspace", "created_at", "finished_at"]
    list_select_related = ["workspace"]
    list_filter = ["status", "workspace"]
    search_fields = ["label", "email_domain", "requested_by"]


@admin.register(TaskWorker)
class TaskWorkerAdmin(ReadOnlyAdmin):
    list_display = ["worker_id", "started_at", "beat_at"]


@admin.register(RateCounter)
class RateCounterAdmin(ReadOnlyAdmin):
    list_display = ["name", "window_start", "ends_at", "spent"]
    search_fields = ["name"]


@admin.register(Cohort)
class CohortAdmin(ReadOnlyAdmin):
    list_display = ["name", "group_type", "workspace", "created_by", "updated_at"]
    list_select_related = ["group_type", "workspace"]
    list_filter = ["workspace"]
    search_fields = ["name", "created_by"]


@admin.register(SavedReport)
class SavedReportAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "workspace", "created_by", "updated_at", "pinned"]
    list_select_related = ["workspace", "created_by"]
    list_filter = ["kind", "pinned", "workspace"]
    search_fields = ["name", "workspace__name", "created_by__email"]
