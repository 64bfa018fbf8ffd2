"""Pages of recent events for the group and person profiles ("load more" by cursor)."""

from dataclasses import dataclass, field

from django.db import connection
from django.db.models.fields.json import KT

from analytics.models import Event, Group, Membership, Person

PAGE_SIZE = 30


@dataclass(frozen=True)
class GroupChip:
    """A group in an event's context, as its chip shows it: by name, the key secondary."""

    type_name: str
    type_singular: str
    key: str
    name: str | None  # its "name" property as text, if any

    @property
    def label(self):
        return self.name or self.key


@dataclass
class TimelineEvent:
    event: Event
    groups: list  # [GroupChip] of its group context
    unassigned: bool = False  # shown in a group's timeline though it has no group of that type
    person: Person | None = None  # who sent it (only its name, email and ids are loaded)

    @property
    def details(self):
        """The first few properties, for a one-line summary."""
        return list(self.event.properties.items())[:3]


@dataclass
class Timeline:
    """One newest-first page of events and the cursor of the next page, if any."""

    entries: list = field(default_factory=list)
    next_cursor: str | None = None
    include_unassigned: bool = False

    @classmethod
    def _page(cls, queryset, *, marks_slot=None, include_unassigned=False, hide_group=None, person=None):
        """A page of ``queryset``; the events' groups and (unless they are all
        ``person``'s) people are read in one query each, whatever the page holds."""
        events = list(queryset[: PAGE_SIZE + 1])
        more, events = len(events) > PAGE_SIZE, events[:PAGE_SIZE]
        chips = _group_chips(events, hide_group)
        people = {person.pk: person} if person else _people(events)
        entries = [
            TimelineEvent(
                event=event,
                groups=[chips[pk] for pk in event.group_ids().values() if pk in chips],
                unassigned=marks_slot is not None and getattr(event, marks_slot) is None,
                person=people.get(event.person_id),
            )
            for event in events
        ]
        return cls(
            entries=entries,
            next_cursor=events[-1].cursor if more else None,
            include_unassigned=include_unassigned,
        )

    @classmethod
    def for_person(cls, person, *, before=None):
        return cls._page(_older(person.events.newest_first(), before), person=person)

    @classmethod
    def for_group(cls, group, *, include_unassigned=False, before=None):
        """Events in the group's context; with ``include_unassigned``, also its current
        members' events that carry no group of this type (marked as such)."""
        slot = group.group_type.slot_field
        in_group = _older(Event.objects.in_group(group), before).newest_first()
        if not include_unassigned:
            return cls._page(in_group, hide_group=group.pk)
        # Read first and sent as an array, the ids let PostgreSQL pick its plan by their
        # number: a few members' events by person, thousands' by time (a subquery in
        # their place made it scan every event of the workspace).
        members = list(Membership.objects.current_of(group).values_list("person_id", flat=True))
        unassigned = _older(
            Event.objects.activity().filter(
                workspace_id=group.workspace_id,
                person_id__any=members,
                **{f"{slot}__isnull": True},
            ),
            before,
        ).newest_first()
        if connection.features.supports_slicing_ordering_in_compound:
            # Each side stops at a page, read newest first from its own index.
            in_group, unassigned = in_group[: PAGE_SIZE + 1], unassigned[: PAGE_SIZE + 1]
        else:
            in_group, unassigned = in_group.order_by(), unassigned.order_by()
        both = in_group.union(unassigned, all=True).order_by("-timestamp", "-id")
        return cls._page(
            both, marks_slot=f"{slot}_id", include_unassigned=True, hide_group=group.pk
        )


def _older(queryset, cursor):
    """Events after ``cursor``, which the view checked (``CursorField``)."""
    return queryset.older_than(cursor) if cursor else queryset


def _group_chips(events, hide_group):
    """{group id: GroupChip} of the groups in these events' context but ``hide_group``."""
    ids = {pk for event in events for pk in event.group_ids().values()} - {hide_group}
    if not ids:
        return {}
    rows = Group.objects.filter(pk__in=ids).values_list(
        "pk", "group_type__name", "group_type__singular", "key", KT("properties__name")
    )
    return {pk: GroupChip(*chip) for pk, *chip in rows}


def _people(events):
    """{person id: Person} of whoever sent these events, with only what names them."""
    ids = {event.person_id for event in events}
    if not ids:
        return {}
    return Person.objects.only("user_id", "email", "traits").in_bulk(ids)
