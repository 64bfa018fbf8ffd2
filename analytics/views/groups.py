"""The groups browser: a tab per group type, and the group profile."""

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django_tables2 import RequestConfig

from analytics import activity as group_activity
from analytics import event_store
from analytics.access import workspace_for
from analytics.charts import Chart, Series
from analytics.forms import GroupQuery, GroupsQuery
from analytics.models import ACTIVE_DAYS, PROFILE_DAYS, Group, Membership
from analytics.overview import active_groups
from analytics.tables import GroupTable, MemberTable
from analytics.templatetags.groupsite import short_date
from analytics.timeline import Timeline
from analytics.views import HtmxHttpRequest, listed_cohort, partial

GROUPS_PER_PAGE = 50
MEMBERS_PER_PAGE = 25


@login_required
def groups(request: HtmxHttpRequest, type_name: str | None = None) -> HttpResponse:
    workspace = workspace_for(request)
    group_types = list(workspace.group_types.with_group_count().with_has_activity())
    if type_name is None:
        if not group_types:
            return render(request, "analytics/groups.html", {"section": "groups"})
        return redirect("groups", group_types[0].name)
    group_type = next((t for t in group_types if t.name == type_name), None)
    if group_type is None:
        raise Http404(f"No group type “{type_name}” in this workspace.")
    query = GroupsQuery.parse(request.GET)
    search = query["q"]
    active_since = workspace.last_days(ACTIVE_DAYS)
    found = group_type.groups.search(search)
    cohort = listed_cohort(workspace, query["cohort"], group_type)
    if cohort is not None:
        found = found.filter(pk__in=cohort.members(did=event_store.units_that_did))
    table = GroupTable(
        found.with_active_members(active_since).recently_updated_first(),
        group_type=group_type,
        active_since=active_since,
        search=search,
    )
    RequestConfig(request, paginate={"per_page": GROUPS_PER_PAGE}).configure(table)
    template = partial(
        request,
        "analytics/groups.html",
        {"groups-table": "table", "groups-panel": "panel"},
    )

    def figures():
        """The type's active groups, counted only when the panel is rendered (not for a
        swap of the table alone). Over all the type's groups: not beside a cohort's list,
        which they would seem to describe."""
        if cohort is not None or not group_type.group_count:
            return None
        return active_groups(workspace, group_type)

    return render(
        request,
        template,
        {
            "section": "groups",
            "group_types": group_types,
            "group_type": group_type,
            "table": table,
            "search": search,
            "cohort": cohort,
            "total": group_type.group_count,
            "active_groups": figures,
            "figures_now": query["figures"],
        },
    )


@login_required
def active(request: HtmxHttpRequest, type_name: str) -> HttpResponse:
    """The card of a group type's active groups alone, which its tab of /groups loads
    after itself: counting them reads every group's days of the last 30."""
    workspace = workspace_for(request)
    group_type = workspace.group_types.with_has_activity().filter(name=type_name).first()
    if group_type is None:
        raise Http404(f"No group type “{type_name}” in this workspace.")
    figures = active_groups(workspace, group_type)
    return render(request, "analytics/active_groups.html", {"groups": figures})


@login_required
def group(request: HtmxHttpRequest, type_name: str, key: str) -> HttpResponse:
    workspace = workspace_for(request)
    query = GroupQuery.parse(request.GET)
    group = Group.objects.select_related("group_type", "workspace").filter(
        workspace=workspace, group_type__name=type_name, key=key
    ).first()
    if group is None:
        raise Http404(_missing_group(workspace, type_name, key))
    activity = group_activity.recent_of(group)
    members = MemberTable(
        event_store.with_activity_in(
            Membership.objects.current_of(group).most_active_first(group), group, since=activity.since
        ),
        internal_domains=workspace.internal_domains,
    )
    RequestConfig(request, paginate={"per_page": MEMBERS_PER_PAGE}).configure(members)
    timeline = Timeline.for_group(
        group,
        include_unassigned=query["unassigned"],
        before=query["before"],
    )
    template = partial(
        request,
        "analytics/group.html",
        {"members-table": "members", "timeline": "timeline", "timeline-more": "timeline_page"},
    )
    return render(
        request,
        template,
        {
            "section": "groups",
            "group": group,
            "group_type": group.group_type,
            "activity": activity,
            "chart": _weekly_chart(activity),
            "table": members,
            "timeline": timeline,
        },
    )


def _weekly_chart(activity) -> Chart:
    """The weeks of a group's recent activity as a chart; the page has a table of the
    same numbers below it."""
    return Chart(
        id="group-activity",
        title=f"Events and active members per week, last {PROFILE_DAYS} days",
        labels=[short_date(week.monday) for week in activity.weeks],
        series=[
            Series("Events", [week.events for week in activity.weeks]),
            Series("Active members", [week.active_members for week in activity.weeks]),
        ],
    )


def _missing_group(workspace, type_name, key):
    """What a 404 says of a group not found, in the words of its type ("No team with…")."""
    group_type = workspace.group_types.filter(name=type_name).first()
    if group_type is None:
        return f"No group type “{type_name}” in this workspace."
    return f"No {group_type.singular.lower()} with the key “{key}” in this workspace."
