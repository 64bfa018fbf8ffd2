"""The dashboard's tables (django-tables2), rendered with templates/tables/htmx.html.

Sorting and paging links are real links (the pages work without JavaScript); with htmx
they swap the table in place and push the URL.
"""

import django_tables2 as tables
from django.db.models import F
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from analytics.models import Group, Membership, Person

PROPERTIES_SHOWN = 3


def as_text(value):
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def property_chips(properties):
    """The first few properties as "key value" chips, each value truncated."""
    shown = list(properties.items())[:PROPERTIES_SHOWN]
    if not shown:
        return mark_safe('<span class="faint">No properties</span>')
    chips = format_html_join(
        "",
        '<span title="{}: {}"><b>{}</b> {}</span>',
        (
            (key, as_text(value), Truncator(key).chars(24), Truncator(as_text(value)).chars(32))
            for key, value in shown
        ),
    )
    more = len(properties) - len(shown)
    suffix = format_html('<span class="faint">+{} more</span>', more) if more else ""
    return format_html('<div class="props">{}{}</div>', chips, suffix)


def _nulls_last(queryset, field, is_descending, *then):
    order = F(field).desc(nulls_last=True) if is_descending else F(field).asc(nulls_last=True)
    return queryset.order_by(order, *then), True


def person_cell(person, *, internal_domains=()):
    url = reverse("person", args=[person.pk])
    badge = (
        mark_safe(' <span class="badge warn">internal</span>')
        if person.email and person.email.rpartition("@")[2] in internal_domains
        else ""
    )
    shown = [v for v in (person.email, person.user_id) if v and v != person.display_name]
    subtitle = format_html('<div class="muted">{}</div>', shown[0]) if shown else ""
    return format_html(
        '<a href="{}">{}</a>{}{}', url, Truncator(person.display_name).chars(48), badge, subtitle
    )


class HtmxTable(tables.Table):
    container_id = "table"  # the element htmx swaps; the view answers it with the table

    class Meta:
        template_name = "tables/htmx.html"
        attrs = {"class": "data"}


NUMBER = {"td": {"class": "num"}, "th": {"class": "num"}}
DATE = {"td": {"class": "date"}}


class GroupTable(HtmxTable):
    container_id = "groups-table"
    group_type = tables.Column("Type", accessor="group_type_id", orderable=False)
    key = tables.Column("Key", attrs={"td": {"class": "key"}})
    properties = tables.Column("Properties", orderable=False)
    last_updated = tables.DateTimeColumn(
        verbose_name="Last updated", format="M j, Y H:i", default="—", attrs=DATE
    )
    member_count = tables.Column("Members", attrs=NUMBER)

    class Meta(HtmxTable.Meta):
        model = Group
        fields = ("group_type", "key", "properties", "last_updated", "member_count")
        empty_text = "No group matches."

    def __init__(self, data, *, group_type, **kwargs):
        self.group_type = group_type
        super().__init__(data, **kwargs)

    def render_group_type(self):
        return format_html('<span class="badge">{}</span>', self.group_type.singular)

    def render_key(self, record):
        url = reverse("group", args=[self.group_type.name, record.key])
        name = record.properties.get("name")
        subtitle = (
            format_html('<div class="muted">{}</div>', Truncator(as_text(name)).chars(48))
            if name else ""
        )
        return format_html('<a href="{}">{}</a>{}', url, Truncator(record.key).chars(48), subtitle)

    def render_properties(self, value):
        return property_chips(value)

    def order_last_updated(self, queryset, is_descending):
        return _nulls_last(queryset, "last_updated", is_descending, "key")


class MemberTable(HtmxTable):
    container_id = "members-table"
    person = tables.Column("Member", order_by=("person__email", "person__user_id"))
    started_at = tables.DateTimeColumn(verbose_name="Joined", format="M j, Y", attrs=DATE)
    last_seen = tables.DateTimeColumn(
        verbose_name="Last seen", accessor="person__last_seen_at", format="M j, Y H:i", default="—",
        attrs=DATE,
    )
    events = tables.Column("Events", accessor="person__event_count", attrs=NUMBER)

    class Meta(HtmxTable.Meta):
        model = Membership
        fields = ("person", "started_at", "last_seen", "events")
        empty_text = "No one is in this group now."

    def __init__(self, data, *, internal_domains=(), **kwargs):
        self.internal_domains = internal_domains
        super().__init__(data, **kwargs)

    def render_person(self, record):
        return person_cell(record.person, internal_domains=self.internal_domains)

    def order_last_seen(self, queryset, is_descending):
        return _nulls_last(queryset, "person__last_seen_at", is_descending, "pk")


class PersonTable(HtmxTable):
    container_id = "people-table"
    # Rendered for anonymous people too, whose email is empty.
    person = tables.Column(
        "Person", accessor="email", order_by=("email", "user_id"), empty_values=()
    )
    user_id = tables.Column("User ID", default="—", attrs={"td": {"class": "mono"}})
    groups = tables.Column("Companies", accessor="pk", orderable=False)
    last_seen_at = tables.DateTimeColumn(
        verbose_name="Last seen", format="M j, Y H:i", default="—", attrs=DATE
    )
    event_count = tables.Column("Events", attrs=NUMBER)

    class Meta(HtmxTable.Meta):
        model = Person
        template_name = "tables/people.html"
        fields = ("person", "user_id", "groups", "last_seen_at", "event_count")
        empty_text = "No person matches."

    def __init__(self, data, *, group_type=None, internal_domains=(), **kwargs):
        self.internal_domains = internal_domains
        self.group_type = group_type
        super().__init__(data, **kwargs)
        if group_type is not None:
            self.columns["groups"].column.verbose_name = group_type.plural
        else:
            self.columns.hide("groups")

    def render_person(self, record):
        return person_cell(record, internal_domains=self.internal_domains)

    def render_groups(self, record):
        # The view prefetches the current memberships of the default type, with groups.
        groups = [membership.group for membership in getattr(record, "current_memberships", [])]
        if not groups:
            return mark_safe('<span class="faint">—</span>')
        return format_html(
            '<div class="chips">{}</div>',
            format_html_join(
                "",
                '<a class="badge" href="{}">{}</a>',
                (
                    (reverse("group", args=[self.group_type.name, g.key]), Truncator(g.name or g.key).chars(28))
                    for g in groups
                ),
            ),
        )

    def order_last_seen_at(self, queryset, is_descending):
        return _nulls_last(queryset, "last_seen_at", is_descending, "pk")
