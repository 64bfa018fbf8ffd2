"""The dashboard's tables (django-tables2): columns, sorting and paging.

Each table's rows are written in its template (templates/tables/*.html, on top of
htmx.html) rather than cell by cell through render methods: django-tables2 inspects a
render method's signature for every cell, which cost 70 ms for a page of 50 groups
against 20 ms for the template. Sorting and paging links are real links (the pages work
without JavaScript); with htmx they swap the table in place and push the URL.
"""

import django_tables2 as tables
from django.db.models import F

from analytics.models import (
    ACTIVE_DAYS,
    PROFILE_DAYS,
    Cohort,
    Group,
    IngestionProblem,
    Membership,
    Person,
    SavedReport,
)


def _nulls_last(queryset, field, is_descending, *then):
    order = F(field).desc(nulls_last=True) if is_descending else F(field).asc(nulls_last=True)
    return queryset.order_by(order, *then), True


class HtmxTable(tables.Table):
    container_id = "table"  # the element htmx swaps; the view answers it with the table

    class Meta:
        template_name = "tables/htmx.html"
        attrs = {"class": "data"}


NUMBER = {"td": {"class": "num"}, "th": {"class": "num"}}
DATE = {"td": {"class": "date"}}


def _header(title, **attrs):
    """Column attributes whose header says ``title`` on hover."""
    return {**attrs, "th": {**attrs.get("th", {}), "title": title}}


class GroupTable(HtmxTable):
    """Groups of one type, found by ``search``, with their ``active_members`` since
    ``active_since``. Its rows are rendered by templates/tables/groups.html: the name
    leads, the key under it.

    No Type column: the table shows one type, which its tab and count already name.
    """

    container_id = "groups-table"
    key = tables.Column("Name / Key", attrs={"td": {"class": "key"}})
    properties = tables.Column("Properties", orderable=False)
    last_updated = tables.Column(
        "Last updated", attrs=_header("When a group call last set its properties")
    )
    last_active_at = tables.Column(
        "Last active",
        attrs=_header("The latest track, page or screen call carrying it"),
    )
    active_members = tables.Column(
        f"Active members ({ACTIVE_DAYS} days)",
        attrs=_header(
            f"People with a track, page or screen call carrying it in the last {ACTIVE_DAYS} "
            "days, today included",
            **NUMBER,
        ),
    )
    member_count = tables.Column("Members", attrs=_header("People in it now", **NUMBER))

    class Meta(HtmxTable.Meta):
        model = Group
        template_name = "tables/groups.html"
        fields = ("key", "properties", "last_updated", "last_active_at", "active_members", "member_count")
        empty_text = "No group matches."

    def __init__(self, data, *, group_type, active_since, search="", **kwargs):
        self.group_type = group_type
        self.active_since = active_since
        self.search = search
        super().__init__(data, **kwargs)

    def order_last_updated(self, queryset, is_descending):
        return _nulls_last(queryset, "last_updated", is_descending, "key")

    def order_last_active_at(self, queryset, is_descending):
        return _nulls_last(queryset, "last_active_at", is_descending, "key")

    def order_active_members(self, queryset, is_descending):
        ordered = queryset.by_active_members(
            self.active_since, group_type=self.group_type, descending=is_descending
        )
        return ordered, True


class MemberTable(HtmxTable):
    """The current members of a group, the most recently active in it first (see
    ``MembershipQuerySet.most_active_first``); rows by templates/tables/members.html."""

    container_id = "members-table"
    person = tables.Column("Member", order_by=("person__email", "person__user_id"))
    started_at = tables.Column("Joined")
    last_active_at = tables.Column(
        "Last active", attrs=_header("Their latest track, page or screen call carrying it")
    )
    # Counted for the page shown only, so not a sort (see ``most_active_first``).
    recent_events = tables.Column(
        f"Events ({PROFILE_DAYS} days)",
        orderable=False,
        attrs=_header(
            f"Their track, page and screen calls carrying it in the last {PROFILE_DAYS} days",
            **NUMBER,
        ),
    )

    class Meta(HtmxTable.Meta):
        model = Membership
        template_name = "tables/members.html"
        fields = ("person", "started_at", "last_active_at", "recent_events")
        order_by = ("-last_active_at",)
        empty_text = "No one is in this group now."

    def __init__(self, data, *, internal_domains=(), **kwargs):
        self.internal_domains = internal_domains
        super().__init__(data, **kwargs)

    def order_last_active_at(self, queryset, is_descending):
        return _nulls_last(queryset, "last_active_at", is_descending, "-pk")


class PersonTable(HtmxTable):
    """People, found by ``search`` and ``domain``; rows by templates/tables/people.html,
    with the current groups of the default type that the view prefetches as
    ``current_memberships``."""

    container_id = "people-table"
    person = tables.Column("Person", accessor="email", order_by=("email", "user_id"))
    user_id = tables.Column("User ID")
    groups = tables.Column("Companies", accessor="pk", orderable=False)
    last_seen_at = tables.Column("Last seen")
    event_count = tables.Column("Events", attrs=NUMBER, orderable=False)

    class Meta(HtmxTable.Meta):
        model = Person
        template_name = "tables/people.html"
        fields = ("person", "user_id", "groups", "last_seen_at", "event_count")
        empty_text = "No person matches."

    def __init__(self, data, *, group_type=None, internal_domains=(), search="", domain="", **kwargs):
        self.internal_domains = internal_domains
        self.group_type = group_type
        self.search, self.domain = search, domain
        super().__init__(data, **kwargs)
        if group_type is not None:
            self.columns["groups"].column.verbose_name = group_type.plural
        else:
            self.columns.hide("groups")

    def order_last_seen_at(self, queryset, is_descending):
        return _nulls_last(queryset, "last_seen_at", is_descending, "pk")


class ProblemTable(HtmxTable):
    """Refused calls and warnings, newest first; rows by templates/tables/problems.html."""

    container_id = "problems-table"
    received_at = tables.Column("Received")
    level = tables.Column("Problem", orderable=False)
    sender = tables.Column("Sender", accessor="user_id", orderable=False)
    reason = tables.Column("Why", orderable=False)

    class Meta(HtmxTable.Meta):
        model = IngestionProblem
        template_name = "tables/problems.html"
        fields = ("received_at", "level", "sender", "reason")
        empty_text = "Nothing of this kind."
        order_by = ("-received_at",)

    def order_received_at(self, queryset, is_descending):
        field = "-received_at" if is_descending else "received_at"
        return queryset.order_by(field, "-pk" if is_descending else "pk"), True


class ReportPersonTable(PersonTable):
    """The people behind a number of a report; rows as in the People list."""

    container_id = "actors-table"

    class Meta(PersonTable.Meta):
        empty_text = "No one: this number is 0."


class ReportGroupTable(GroupTable):
    """The groups behind a number of a report; rows as in the Groups list."""

    container_id = "actors-table"

    class Meta(GroupTable.Meta):
        empty_text = "No group: this number is 0."


class CohortTable(HtmxTable):
    """A workspace's cohorts; rows by templates/tables/cohorts.html, with the ``size``
    that the view counts for each cohort of the page."""

    container_id = "cohorts-table"
    name = tables.Column("Name")
    unit = tables.Column("Of", accessor="group_type", order_by=("group_type__position", "name"))
    size = tables.Column("Members now", accessor="pk", attrs=NUMBER, orderable=False)
    updated_at = tables.Column("Updated")

    class Meta(HtmxTable.Meta):
        model = Cohort
        template_name = "tables/cohorts.html"
        fields = ("name", "unit", "size", "updated_at")
        empty_text = "No cohort yet."
class SavedReportTable(HtmxTable):
    """The workspace's saved reports, last changed first; rows by
    templates/tables/saved_reports.html, with the actions ``user`` (whose role is
    ``role``) may take on each, as ``SavedReport.may_*`` allow them."""

    container_id = "saved-reports-table"
    name = tables.Column("Name")
    kind = tables.Column("Report")
    created_by = tables.Column("Saved by", order_by=("created_by__email",))
    updated_at = tables.Column("Updated")
    pinned = tables.Column("Overview", order_by=("-pinned", "position"))
    actions = tables.Column("", accessor="pk", orderable=False)

    class Meta(HtmxTable.Meta):
        model = SavedReport
        template_name = "tables/saved_reports.html"
        fields = ("name", "kind", "created_by", "updated_at", "pinned", "actions")
        empty_text = "No saved report yet."
        order_by = ("-updated_at",)

    def __init__(self, data, *, user, role, **kwargs):
        self.user = user
        self.manages_any = role in SavedReport.ROLES_MANAGING_ANY
        super().__init__(data, **kwargs)

    def order_updated_at(self, queryset, is_descending):
        field = "-updated_at" if is_descending else "updated_at"
        return queryset.order_by(field, "-pk" if is_descending else "pk"), True
