"""Pages of recent events for the group and person profiles ("load more" by cursor)."""

from dataclasses import dataclass, field

from django.db.models.fields.json import KT

from analytics import event_store
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
    def _page(cls, selection, before, *, marks_slot=None, include_unassigned=False, hide_group=None, person=None):
        """A page of the ``selection``'s events after the cursor ``before``; the events'
        groups and (unless they are all ``person``'s) people are read in one query
        each, whatever the page holds."""
        events = event_store.newest(selection, limit=PAGE_SIZE + 1, cursor=before)
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
        """The person's events; ``before`` is a cursor the view checked
        (``CursorField``)."""
        selection = event_store.Selection(person.workspace_id, person_id=person.pk)
        return cls._page(selection, before, person=person)

    @classmethod
    def for_group(cls, group, *, include_unassigned=False, before=None):
        """Events in the group's context; with ``include_unassigned``, also its current
        members' events that carry no group of this type (marked as such)."""
        slot = group.group_type.slot
        if not include_unassigned:
            selection = event_store.Selection(group.workspace_id, slot=slot, group_id=group.pk)
            return cls._page(selection, before, hide_group=group.pk)
        members = tuple(Membership.objects.current_of(group).values_list("person_id", flat=True))
        selection = event_store.Selection(
            group.workspace_id, slot=slot, group_id=group.pk, unassigned_of=members
        )
        return cls._page(
            selection, before, marks_slot=f"group_{slot}_id", include_unassigned=True, hide_group=group.pk
        )


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
