"""Storing a request's calls: identity, groups, memberships, events, in one transaction.

A batch is stored with a fixed number of queries whatever its size (plus one per
anonymous visitor merged into a known user). Every item is either stored, recognised as
a duplicate of a stored one, or refused with a reason that is returned to the client and
kept as an ``IngestionProblem``.
"""

import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import IntegrityError, OperationalError, transaction
from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Greatest

from analytics import traits as trait_rules
from analytics.ingestion.calls import Refused, excerpt, parse_call
from analytics.models import (
    Event,
    EventType,
    Group,
    Identity,
    IngestionProblem,
    Membership,
    Person,
    SuppressedUser,
)

EVENT_CALLS = frozenset({EventType.TRACK, EventType.PAGE, EventType.SCREEN})
DEADLOCK = "40P01"  # PostgreSQL's SQLSTATE for deadlock_detected
ATTEMPTS = 8  # of a batch that concurrent batches keep getting in the way of


class Conflict(Exception):
    """A concurrent batch changed what this one read: it starts over."""


class Busy(Exception):
    """Concurrent batches kept getting in the way: nothing was stored; retry later."""


@dataclass
class Outcome:
    """What happened to a request's calls."""

    stored: int = 0
    duplicates: int = 0
    rejected: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    def summary(self):
        """One line naming the refused calls and why, for libraries that log only that."""
        shown = "; ".join(f"#{r['index']}: {r['error']}" for r in self.rejected[:3])
        more = f"; and {len(self.rejected) - 3} more" if len(self.rejected) > 3 else ""
        accepted = self.stored + self.duplicates
        return f"{len(self.rejected)} call(s) refused ({shown}{more}); {accepted} accepted"

    def as_json(self):
        body = {
            "success": not self.rejected,
            "stored": self.stored,
            "duplicates": self.duplicates,
        }
        if self.rejected:
            body["error"] = self.summary()
            body["rejected"] = self.rejected
        if self.warnings:
            body["warnings"] = self.warnings
        return body


def _problem(index, raw, message):
    item = {"index": index, "error": message} if index is not None else {"error": message}
    if isinstance(raw, dict):
        if isinstance(raw.get("messageId"), str):
            item["messageId"] = raw["messageId"]
        if isinstance(raw.get("type"), str):
            item["type"] = raw["type"]
    return item


class _PersonState:
    """A person as this batch sees it: known by id until its row is needed.

    ``merged_into`` follows merges decided in this batch; ``final()`` is who the person
    ends up being.
    """

    __slots__ = ("pk", "user_id", "read_user_id", "person", "merged_into", "dirty")

    def __init__(self, pk=None, user_id=None, person=None):
        self.pk = pk
        self.user_id = self.read_user_id = user_id
        self.person = person
        self.merged_into = None
        self.dirty = False

    def final(self):
        state = self
        while state.merged_into is not None:
            state = state.merged_into
        return state


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


def absorb(person, other):
    """Move everything of ``other`` (events, memberships, ids, traits) to ``person``, then
    delete it: an anonymous visitor turned out to be a known user (identify with the
    anonymous id, or alias)."""
    Event.objects.filter(person=other).update(person=person)
    Identity.objects.filter(person=other).update(person=person)
    mine = dict(person.memberships.filter(ended_at__isnull=True).values_list("group_id", "pk"))
    doubled = {}
    for membership in other.memberships.filter(ended_at__isnull=True, group_id__in=mine):
        # Both were in the group: keep one membership, from the earlier start.
        Membership.objects.filter(
            pk=mine[membership.group_id], started_at__gt=membership.started_at
        ).update(started_at=membership.started_at)
        membership.delete()
        doubled[membership.group_id] = -1
    Group.objects.add_members(doubled)
    other.memberships.update(person=person)
    person.set_traits({**other.traits, **person.traits})
    seen = Value(other.last_seen_at) if other.last_seen_at else F("last_seen_at")
    Person.objects.filter(pk=person.pk).update(
        traits=person.traits,
        email=person.email,
        several_without=F("several_without").bitor(other.several_without),
        last_seen_at=Coalesce(Greatest("last_seen_at", seen), seen),
    )
    other.delete()


class _Batch:
    def __init__(self, workspace, calls):
        self.workspace = workspace
        self.calls = calls
        self.group_types = list(workspace.group_types.all())
        self.types_by_name = {group_type.name: group_type for group_type in self.group_types}
        self.default_type = next((t for t in self.group_types if t.is_default), None)
        self.by_user = {}
        self.by_anon = {}
        self.new_identities = []  # (kind, value, state)
        self.merges = []  # (source state, target state)
        self.person_of = {}  # call index -> person id
        self.slots_of = defaultdict(dict)  # call index -> {slot: group id}
        self.target_of = {}  # group call index -> (group type id, key)
        self.warnings = defaultdict(list)  # call index -> warnings found while storing

    def warn(self, call, message):
        self.warnings[call.index].append(message)

    # People --------------------------------------------------------------------

    def load_identities(self):
        user_ids = {c.user_id for c in self.calls if c.user_id}
        anon_ids = {c.anonymous_id for c in self.calls if c.anonymous_id}
        previous_ids = {c.previous_id for c in self.calls if c.previous_id}
        identities = Identity.objects.filter(workspace=self.workspace).filter(
            Q(kind=Identity.Kind.USER, value__any=user_ids | previous_ids)
            | Q(kind=Identity.Kind.ANONYMOUS, value__any=anon_ids | previous_ids)
        )
        found = identities.values_list("kind", "value", "person_id", "person__user_id")
        # Not locked: most calls only add events, which concurrent batches for the same
        # people may do side by side. The people whose rows change are locked later on
        # (save_people), and one deleted meanwhile fails the batch, which starts over.
        states = {}
        for kind, value, person_pk, user_id in found:
            state = states.setdefault(person_pk, _PersonState(person_pk, user_id))
            (self.by_user if kind == Identity.Kind.USER else self.by_anon)[value] = state

    def _new_person(self, call, user_id=None):
        person = Person(workspace=self.workspace, user_id=user_id, created_at=call.timestamp)
        return _PersonState(user_id=user_id, person=person)

    def _attach(self, kind, value, state):
        (self.by_user if kind == Identity.Kind.USER else self.by_anon)[value] = state
        self.new_identities.append((kind, value, state))

    def _merge(self, source, target):
        source, target = source.final(), target.final()
        if source is not target:
            source.merged_into = target
            target.dirty = True
            self.merges.append((source, target))

    def _identified(self, state, user_id):
        state.user_id = user_id
        state.dirty = True
        self._attach(Identity.Kind.USER, user_id, state)

    def resolve_person(self, call):
        if call.type == EventType.ALIAS:
            return self._resolve_alias(call)
        known = self.by_user.get(call.user_id) if call.user_id else None
        anonymous = self.by_anon.get(call.anonymous_id) if call.anonymous_id else None
        if not call.user_id:
            if anonymous is None:
                anonymous = self._new_person(call)
                self._attach(Identity.Kind.ANONYMOUS, call.anonymous_id, anonymous)
            return anonymous.final()
        if known is None:
            if anonymous is not None and anonymous.final().user_id is None:
                known = anonymous.final()  # the anonymous visitor identifies
                self._identified(known, call.user_id)
            else:
                known = self._new_person(call, call.user_id)
                self._attach(Identity.Kind.USER, call.user_id, known)
        if call.anonymous_id:
            if anonymous is None:
                self._attach(Identity.Kind.ANONYMOUS, call.anonymous_id, known)
            elif anonymous.final().user_id is None:
                self._merge(anonymous, known)
        return known.final()

    def _resolve_alias(self, call):
        previous = self.by_user.get(call.previous_id) or self.by_anon.get(call.previous_id)
        current = self.by_user.get(call.user_id)
        if current is None and previous is None:
            current = self._new_person(call, call.user_id)
            self._attach(Identity.Kind.USER, call.user_id, current)
            self._attach(Identity.Kind.ANONYMOUS, call.previous_id, current)
        elif current is None:
            current = previous.final()
            self._identified(current, call.user_id)
        elif previous is None:
            self._attach(Identity.Kind.ANONYMOUS, call.previous_id, current)
        else:
            self._merge(previous, current)
        return current.final()

    def save_people(self, states):
        """Create new people, merge, apply identify traits and attach ids, in bulk."""
        new_user_ids = [v for kind, v, _ in self.new_identities if kind == Identity.Kind.USER]
        if (
            new_user_ids
            and SuppressedUser.objects.filter(
                workspace=self.workspace, user_id__any=new_user_ids
            ).exists()
        ):
            # Deleted and blocked since this batch checked (_store), so their person
            # was gone when it looked them up: start over, and refuse their calls.
            raise Conflict("a user id was blocked meanwhile")
        people = {id(s): s for s in [*self.by_user.values(), *self.by_anon.values()]}.values()
        # Rows are read only for people whose traits or ids change, and locked, in id
        # order: concurrent batches changing the same people queue here. The lock is
        # FOR NO KEY UPDATE, like the groups' below, so batches that only add events
        # for these people or groups (foreign-key checks) are not held up, nor hold
        # this one up: waiting on each other's rows both ways would be a deadlock.
        wanted = [s for s in people if s.person is None and (s.dirty or s.merged_into)]
        rows = {
            person.pk: person
            for person in Person.objects.filter(pk__any=[s.pk for s in wanted])
            .order_by("pk")
            .select_for_update(no_key=True)
        }
        for state in wanted:
            person = rows.get(state.pk)
            if person is None or person.user_id != state.read_user_id:
                # Deleted, or identified by a concurrent batch, since this batch read
                # them: start over from what is stored now.
                raise Conflict(f"person {state.pk} changed meanwhile")
            state.person = person
        for call in self.calls:
            if call.type == EventType.IDENTIFY:
                states[call.index].final().person.set_traits(call.properties)
        changed = [s for s in people if s.dirty and s.merged_into is None]
        for state in changed:
            state.person.user_id = state.user_id
        new = [s for s in people if s.merged_into is None and s.pk is None]
        Person.objects.bulk_create([s.person for s in new])
        for state in new:
            state.pk = state.person.pk
        for source, target in self.merges:
            if source.pk is not None:  # not a person first seen in this batch
                absorb(target.final().person, source.person)
        existing = [s.person for s in changed if s not in new]
        if existing:
            Person.objects.bulk_update(existing, ["user_id", "traits", "email"])
        Identity.objects.bulk_create(
            Identity(workspace=self.workspace, kind=kind, value=value, person_id=state.final().pk)
            for kind, value, state in self.new_identities
        )

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
        return call.type in EVENT_CALLS and len(self.slots_of[call.index]) < len(self.group_types)

    def _load_memberships(self, people):
        """Spans of these people's memberships that were open at some call's moment."""
        earliest = min(call.timestamp for call in self.calls)
        rows = (
            Membership.objects.filter(person_id__any=people)
            .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=earliest))
            .values_list("pk", "person_id", "group_id", "group_type_id", "started_at", "ended_at")
        )
        memberships = defaultdict(list)
        for pk, person_pk, group_pk, type_pk, started_at, ended_at in rows:
            memberships[person_pk].append(_Span(pk, group_pk, type_pk, started_at, ended_at))
        return memberships

    def apply_memberships(self, groups):
        """Join groups (group calls), leave accounts (Account Removed User) in time order,
        then give events without a group of some type the one their person was in."""
        calls = [call for call in self.calls if self._needs_memberships(call)]
        if not calls:
            return
        memberships = self._load_memberships({self.person_of[call.index] for call in calls})
        created, changed = [], {}
        for call in sorted(calls, key=lambda c: c.timestamp):
            person_pk = self.person_of[call.index]
            mine = memberships[person_pk]
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
        self._fill_implicit_context(calls, memberships)

    def _save_memberships(self, created, changed):
        Membership.objects.bulk_create(
            Membership(
                workspace=self.workspace,
                person_id=span.person_pk,
                group_id=span.group_id,
                group_type_id=span.type_pk,
                started_at=span.started_at,
                ended_at=span.ended_at,
            )
            for span in created
        )
        if changed:
            Membership.objects.bulk_update(
                [
                    Membership(pk=m.pk, started_at=m.started_at, ended_at=m.ended_at)
                    for m in changed
                ],
                ["started_at", "ended_at"],
            )
        joined = Counter(span.group_id for span in created if span.ended_at is None)
        joined.subtract(m.group_id for m in changed if m.ended_at is not None)
        Group.objects.add_members(joined)

    def _fill_implicit_context(self, calls, memberships):
        """An event without a group of some type takes the one group of that type its
        person was in at that moment; with several, it stays without (no guessing), and
        the person is flagged for the multi-company banner."""
        several = defaultdict(int)  # person id -> bits of the slots they were ambiguous in
        for call in calls:
            if call.type not in EVENT_CALLS:
                continue
            slots = self.slots_of[call.index]
            person_pk = self.person_of[call.index]
            for group_type in self.group_types:
                if group_type.slot in slots:
                    continue
                current = {
                    m.group_id
                    for m in memberships[person_pk]
                    if m.type_pk == group_type.pk and m.covers(call.timestamp)
                }
                if len(current) == 1:
                    slots[group_type.slot] = current.pop()
                elif current:
                    several[person_pk] |= 1 << group_type.slot
        Person.objects.flag_several_without(several)

    # Events --------------------------------------------------------------------

    def save_events(self, received_at):
        rows = []
        for call in self.calls:
            row = {
                "workspace_id": self.workspace.pk,
                "person_id": self.person_of[call.index],
                "type": call.type,
                "name": call.name,
                "timestamp": call.timestamp,
                "received_at": received_at,
                "sent_at": call.sent_at,
                "message_id": call.message_id,
                "user_id": call.user_id,
                "anonymous_id": call.anonymous_id,
                "properties": call.properties,
                "context": call.context,
            }
            for slot, group_pk in self.slots_of[call.index].items():
                row[f"group_{slot}_id"] = group_pk
            rows.append(row)
        stored = Event.objects.store(rows)
        latest = {}
        for row in rows:
            person_id, moment = row["person_id"], row["timestamp"]
            if person_id not in latest or moment > latest[person_id]:
                latest[person_id] = moment
        Person.objects.seen(latest)
        return stored

    def run(self, received_at):
        self.load_identities()
        states = {call.index: self.resolve_person(call) for call in self.calls}
        for call in self.calls:
            if call.type == EventType.IDENTIFY:
                states[call.index].final().dirty = True
        self.save_people(states)
        self.person_of = {index: state.final().pk for index, state in states.items()}
        groups = self.resolve_groups()
        self.apply_group_traits(groups)
        self.apply_memberships(groups)
        return self.save_events(received_at)


def ingest(workspace, raw_calls, *, received_at, batch_sent_at=None, batch_context=None) -> Outcome:
    """Store a request's calls; returns what was stored, refused and warned about.

    Safe to repeat: calls whose messageId is already stored are counted as duplicates
    and change nothing. ``batch_sent_at`` and ``batch_context`` are the batch's own
    ``sentAt`` (as sent) and ``context`` (see ``calls.batch_context_of``). Raises
    ``Busy`` when concurrent requests kept changing what this one read: nothing of it
    was stored, and the client should retry.
    """
    calls, refused = [], []
    for index, raw in enumerate(raw_calls):
        try:
            calls.append(
                parse_call(
                    raw,
                    index,
                    received_at=received_at,
                    batch_sent_at=batch_sent_at,
                    batch_context=batch_context,
                )
            )
        except Refused as refusal:
            refused.append((index, str(refusal)))
    for attempt in range(ATTEMPTS):
        try:
            with transaction.atomic():
                return _store(workspace, raw_calls, calls, refused, received_at)
        except (IntegrityError, OperationalError, Conflict) as error:
            # A concurrent request stored the same message id, created the same person,
            # identity or group, changed or deleted a person this one read, or the
            # database chose this transaction to break a deadlock: start over, now
            # seeing what the other one stored. Nothing of this attempt was kept.
            deadlock = getattr(error.__cause__, "sqlstate", None) == DEADLOCK
            if isinstance(error, OperationalError) and not deadlock:
                raise
            if attempt == ATTEMPTS - 1:
                raise Busy(
                    f"concurrent requests got in this batch's way {ATTEMPTS} times"
                ) from error
            # A short random pause, longer each time, so that requests colliding again
            # and again fall out of step.
            time.sleep(random.uniform(0, 0.005 * 2**attempt))
    raise AssertionError("unreachable")


def _store(workspace, raw_calls, calls, refused, received_at):
    refused = list(refused)
    # Which calls were stored already, and whose senders are blocked: one round trip.
    stored_ids = Event.objects.filter(
        workspace=workspace, message_id__any=[c.message_id for c in calls]
    ).values_list("message_id", Value(False))
    blocked_ids = SuppressedUser.objects.filter(
        workspace=workspace, user_id__any={c.user_id for c in calls if c.user_id}
    ).values_list("user_id", Value(True))
    known, blocked = set(), set()
    for value, is_user in stored_ids.union(blocked_ids, all=True):
        (blocked if is_user else known).add(value)
    kept, duplicates, blocked_calls = [], 0, set()
    for call in calls:
        if call.user_id in blocked:
            refused.append((call.index, f"user {call.user_id!r} was deleted and is blocked"))
            blocked_calls.add(call.index)
        elif call.message_id in known:
            duplicates += 1
        else:
            known.add(call.message_id)
            kept.append(call)

    outcome = Outcome(duplicates=duplicates)
    batch = _Batch(workspace, kept)
    if kept:
        outcome.stored = batch.run(received_at)

    problems = []
    for index, reason in sorted(refused):
        outcome.rejected.append(_problem(index, raw_calls[index], reason))
        problems.append(
            _problem_row(
                workspace,
                IngestionProblem.Level.REJECTED,
                raw_calls[index],
                reason,
                received_at,
                # The point of blocking a deleted user is to keep nothing they send.
                keep_payload=index not in blocked_calls,
            )
        )
    for call in kept:
        for warning in call.warnings + batch.warnings[call.index]:
            outcome.warnings.append(
                {"index": call.index, "messageId": call.message_id, "warning": warning}
            )
            problems.append(
                _problem_row(
                    workspace,
                    IngestionProblem.Level.WARNING,
                    raw_calls[call.index],
                    warning,
                    received_at,
                )
            )
    IngestionProblem.objects.bulk_create(problems)
    return outcome


def _problem_row(workspace, level, raw, reason, received_at, *, keep_payload=True):
    fields = raw if isinstance(raw, dict) else {}

    def text(key, limit):
        # What was sent, refused or not, as text a column holds (no NUL).
        value = fields.get(key)
        if not isinstance(value, (str, int, float)):
            return ""
        return str(value)[:limit].replace("\x00", "")

    return IngestionProblem(
        workspace=workspace,
        level=level,
        received_at=received_at,
        call_type=text("type", 20),
        message_id=text("messageId", 255),
        user_id=text("userId", 255),
        anonymous_id=text("anonymousId", 255),
        reason=reason,
        payload=excerpt(raw) if keep_payload else "",
    )


def record_refused_request(workspace, reason, *, body, call_count=1, received_at=None):
    """Keep a whole request that was refused (bad JSON, too large) visible to the workspace."""
    IngestionProblem.objects.create(
        workspace=workspace,
        level=IngestionProblem.Level.REJECTED,
        received_at=received_at or datetime.now(UTC),
        reason=reason,
        call_count=call_count,
        payload=excerpt(body),
    )
