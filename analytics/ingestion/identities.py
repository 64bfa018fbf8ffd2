"""Which person each call of a batch is about, from its user id, anonymous id or alias.

A batch reads the identities its calls name in one query, then decides in memory who
each call is about: a person found, a person first seen in this batch, or one of them
merged into another (an anonymous visitor who identifies, an alias). Nothing is written
here until ``Identities.save``; the people step (``ingestion.people``) writes the people.
"""

from django.db.models import Q

from analytics.models import EventType, Identity, Person


class PersonState:
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


class Identities:
    """The user ids and anonymous ids a batch's calls name, and who they point at."""

    def __init__(self, workspace, calls):
        self.workspace = workspace
        self.calls = calls
        self.by_user = {}
        self.by_anon = {}
        self.new = []  # (kind, value, state)
        self.merges = []  # (source state, target state)

    def load(self):
        """Read every identity the calls name, with its person, in one query."""
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
        # (people.save_people), and one deleted meanwhile fails the batch, which starts
        # over.
        states = {}
        for kind, value, person_pk, user_id in found:
            state = states.setdefault(person_pk, PersonState(person_pk, user_id))
            (self.by_user if kind == Identity.Kind.USER else self.by_anon)[value] = state

    def resolve_all(self):
        """{call index: the person the call is about}; identify calls mark theirs as
        changing (traits)."""
        states = {call.index: self._resolve(call) for call in self.calls}
        for call in self.calls:
            if call.type == EventType.IDENTIFY:
                states[call.index].final().dirty = True
        return states

    def people(self):
        """Every person this batch names, once each (merged ones included)."""
        return {id(s): s for s in [*self.by_user.values(), *self.by_anon.values()]}.values()

    def new_user_ids(self):
        return [value for kind, value, _ in self.new if kind == Identity.Kind.USER]

    def save(self):
        """Store the ids first seen in this batch, once every person has a row."""
        Identity.objects.bulk_create(
            Identity(workspace=self.workspace, kind=kind, value=value, person_id=state.final().pk)
            for kind, value, state in self.new
        )

    def _new_person(self, call, user_id=None):
        person = Person(workspace=self.workspace, user_id=user_id, created_at=call.timestamp)
        return PersonState(user_id=user_id, person=person)

    def _attach(self, kind, value, state):
        (self.by_user if kind == Identity.Kind.USER else self.by_anon)[value] = state
        self.new.append((kind, value, state))

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

    def _resolve(self, call):
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
