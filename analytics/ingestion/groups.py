"""The groups a batch names, their traits, memberships, and every event's group context.

Runs once the batch's people have rows (``ingestion.people``). Group calls create their
group if need be, merge its traits and open a membership; Account Removed User calls end
memberships; events naming no group of some type take the one their person was in.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q

from analytics import memberships
from analytics import traits as trait_rules
from analytics.models import ACTIVITY_TYPES, EventType, Group, Membership, Person


@dataclass(slots=True)
class _Span:
    """A membership as this batch sees it: from ``started_at`` until ``ended_at`` (or now)."""

    pk: int | None
    group_id: int
    type_pk: int
    started_at: datetime
    ended_at: datetime | None
    person_pk: int | None = None  # set for the ones this batch creates

    def covers(self, moment):
        return self.started_at <= moment and (self.ended_at is None or moment < self.ended_at)


class GroupContext:
    """A batch's groups and memberships. After ``store()``, ``slots_of`` holds each
    call's {slot: group id} and ``warnings`` what calls were warned about."""

    def __init__(self, workspace, calls, person_of):
        self.workspace = workspace
        self.calls = calls
        self.person_of = person_of  # call index -> person id
        self.group_types = list(workspace.group_types.all())
        self.types_by_name = {group_type.name: group_type for group_type in self.group_types}
        self.default_type = next((t for t in self.group_types if t.is_default), None)
        self.slots_of = defaultdict(dict)  # call index -> {slot: group id}
        self.target_of = {}  # group call index -> (group type id, key)
        self.warnings = defaultdict(list)  # call index -> warnings found while storing

    def store(self):
        groups = self.resolve_groups()
        self.apply_group_traits(groups)
        self.apply_memberships(groups)

    def warn(self, call, message):
        self.warnings[call.index].append(message)

    # Groups --------------------------------------------------------------------

    def _group_type(self, call, wire_name):
        group_type = self.types_by_name.get(wire_name) if wire_name else self.default_type
        if group_type is None:
            self.warn(
                call,
                f"group type {wire_name!r} is not defined in this workspace; that group was "
                "ignored (an owner can add the type in settings)"
                if wire_name
                else "the workspace has no default group type for an untyped groupId; "
                "that group was ignored",
            )
        return group_type

    def resolve_groups(self):
        """Find or create every group the calls name; fill ``slots_of`` and ``target_of``."""
        wanted = {}  # call index -> {slot: (group type, key)}
        for call in self.calls:
            refs = {}
            for wire_name, key in call.groups.items():
                if (group_type := self._group_type(call, wire_name)) is not None:
                    refs.setdefault(group_type.slot, (group_type.pk, key))
            if call.type == EventType.GROUP:
                if (group_type := self._group_type(call, call.group_type)) is not None:
                    refs[group_type.slot] = (group_type.pk, call.group_key)
                    self.target_of[call.index] = (group_type.pk, call.group_key)
            wanted[call.index] = refs
        pairs = {pair for refs in wanted.values() for pair in refs.values()}
        if not pairs:
            return {}
        targets = set(self.target_of.values())
        groups = {}  # (type id, key) -> Group, or the group's id for groups only named
        if targets:
            # Lock the groups whose traits this batch changes, in a fixed order.
            locked = Group.objects.filter(
                group_type_id__any={t for t, _ in targets}, key__any={key for _, key in targets}
            )
            for group in locked.select_for_update(no_key=True).order_by("pk"):
                groups[(group.group_type_id, group.key)] = group
        named = Group.objects.filter(
            group_type_id__any={t for t, _ in pairs - targets},
            key__any={key for _, key in pairs - targets},
        )
        for pk, type_pk, key in named.values_list("pk", "group_type_id", "key"):
            groups.setdefault((type_pk, key), pk)
        first_seen = {}
        for call in self.calls:
            for pair in wanted[call.index].values():
                if pair not in groups:
                    first_seen[pair] = min(first_seen.get(pair, call.timestamp), call.timestamp)
        if first_seen:
            # Batches naming the same new group at once each try to create it: the
            # database keeps one, and every batch reads back (and locks) what is there.
            Group.objects.bulk_create(
                [
                    Group(workspace=self.workspace, group_type_id=t, key=key, created_at=moment)
                    for (t, key), moment in first_seen.items()
                ],
                ignore_conflicts=True,
            )
            created = Group.objects.filter(
                group_type_id__any={t for t, _ in first_seen}, key__any={k for _, k in first_seen}
            )
            for group in created.select_for_update(no_key=True).order_by("pk"):
                groups.setdefault((group.group_type_id, group.key), group)
        ids = {pair: getattr(group, "pk", group) for pair, group in groups.items()}
        for index, refs in wanted.items():
            self.slots_of[index] = {slot: ids[pair] for slot, pair in refs.items()}
        return groups

    def apply_group_traits(self, groups):
        changed = {}
        for call in self.calls:
            if call.index not in self.target_of:
                continue
            group = groups[self.target_of[call.index]]
            group.properties = trait_rules.merge(
                group.properties, call.properties, trait_rules.GROUP_RESERVED
            )
            if group.last_updated is None or call.timestamp > group.last_updated:
                group.last_updated = call.timestamp
            changed[group.pk] = group
        if changed:
            Group.objects.bulk_update(changed.values(), ["properties", "last_updated"])

    # Memberships ---------------------------------------------------------------

    def _needs_memberships(self, call):
        if call.index in self.target_of or call.removes_user_from_account:
            return True
        return call.type in ACTIVITY_TYPES and len(self.slots_of[call.index]) < len(self.group_types)

    def _load_memberships(self, people):
        """Spans of these people's memberships that were open at some call's moment."""
        earliest = min(call.timestamp for call in self.calls)
        rows = (
            Membership.objects.filter(person_id__any=people)
            .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=earliest))
            .values_list("pk", "person_id", "group_id", "group_type_id", "started_at", "ended_at")
        )
        spans = defaultdict(list)
        for pk, person_pk, group_pk, type_pk, started_at, ended_at in rows:
            spans[person_pk].append(_Span(pk, group_pk, type_pk, started_at, ended_at))
        return spans

    def apply_memberships(self, groups):
        """Join groups (group calls), leave accounts (Account Removed User) in time order,
        then give events without a group of some type the one their person was in."""
        calls = [call for call in self.calls if self._needs_memberships(call)]
        if not calls:
            return
        spans = self._load_memberships({self.person_of[call.index] for call in calls})
        created, changed = [], {}
        for call in sorted(calls, key=lambda c: c.timestamp):
            person_pk = self.person_of[call.index]
            mine = spans[person_pk]
            if call.index in self.target_of:
                group = groups[self.target_of[call.index]]
                current = next(
                    (m for m in mine if m.group_id == group.pk and m.ended_at is None), None
                )
                if current is None:
                    span = _Span(
                        None, group.pk, group.group_type_id, call.timestamp, None, person_pk
                    )
                    mine.append(span)
                    created.append(span)
                elif call.timestamp < current.started_at:
                    current.started_at = call.timestamp
                    changed[id(current)] = current
            elif call.removes_user_from_account:
                if not self.slots_of[call.index]:
                    self.warn(
                        call,
                        "Account Removed User without a group in its context "
                        "(context.groupId or context.groups); no membership was ended",
                    )
                left = set(self.slots_of[call.index].values())
                for m in mine:
                    if m.group_id in left and m.ended_at is None and m.started_at <= call.timestamp:
                        m.ended_at = call.timestamp
                        changed[id(m)] = m
        self._save_memberships(created, [m for m in changed.values() if m.pk])
        self._fill_implicit_context(calls, spans)

    def _save_memberships(self, created, changed):
        memberships.save_changes(
            new=[
                Membership(
                    workspace=self.workspace,
                    person_id=span.person_pk,
                    group_id=span.group_id,
                    group_type_id=span.type_pk,
                    started_at=span.started_at,
                    ended_at=span.ended_at,
                )
                for span in created
            ],
            changed=[
                Membership(
                    pk=m.pk, group_id=m.group_id, started_at=m.started_at, ended_at=m.ended_at
                )
                for m in changed
            ],
        )

    def _fill_implicit_context(self, calls, spans):
        """An event without a group of some type takes the one group of that type its
        person was in at that moment; with several, it stays without (no guessing), and
        the person is flagged for the multi-company banner."""
        several = defaultdict(int)  # person id -> bits of the slots they were ambiguous in
        for call in calls:
            if call.type not in ACTIVITY_TYPES:
                continue
            slots = self.slots_of[call.index]
            person_pk = self.person_of[call.index]
            for group_type in self.group_types:
                if group_type.slot in slots:
                    continue
                current = {
                    m.group_id
                    for m in spans[person_pk]
                    if m.type_pk == group_type.pk and m.covers(call.timestamp)
                }
                if len(current) == 1:
                    slots[group_type.slot] = current.pop()
                elif current:
                    several[person_pk] |= 1 << group_type.slot
        Person.objects.flag_several_without(several)
