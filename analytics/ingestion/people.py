"""The people a batch is about: created, identified, given traits and merged, in bulk.

Runs after ``ingestion.identities`` decided who each call is about. The rows of people
whose traits or ids change are locked; a person deleted or identified by a concurrent
batch since it was read makes this one start over (``Conflict``, which
``ingestion.store`` retries).
"""

from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest

from analytics import activity, event_store, memberships
from analytics.ingestion.identities import Identities, PersonState
from analytics.models import EventType, Identity, Person, SuppressedUser


class Conflict(Exception):
    """A concurrent batch changed what this one read: it starts over."""


def save_people(identities: Identities, states: dict[int, PersonState]) -> dict[int, int]:
    """Create new people, merge, apply identify traits and attach ids, in bulk, as
    ``identities`` decided (``states``: {call index: whom the call is about}); returns
    {call index: id of the person the call is about}."""
    workspace, calls = identities.workspace, identities.calls
    new_user_ids = identities.new_user_ids()
    if (
        new_user_ids
        and SuppressedUser.objects.filter(workspace=workspace, user_id__any=new_user_ids).exists()
    ):
        # Deleted and blocked since this batch checked (store._store), so their person
        # was gone when it looked them up: start over, and refuse their calls.
        raise Conflict("a user id was blocked meanwhile")
    people = identities.people()
    # Rows are read only for people whose traits or ids change, and locked, in id
    # order: concurrent batches changing the same people queue here. The lock is
    # FOR NO KEY UPDATE, like the groups' (ingestion.groups), so batches that only add
    # events for these people or groups (foreign-key checks) are not held up, nor hold
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
    for call in calls:
        if call.type == EventType.IDENTIFY:
            states[call.index].final().person.set_traits(call.properties)
    changed = [s for s in people if s.dirty and s.merged_into is None]
    for state in changed:
        state.person.user_id = state.user_id
    new = [s for s in people if s.merged_into is None and s.pk is None]
    Person.objects.bulk_create([s.person for s in new])
    for state in new:
        state.pk = state.person.pk
    for source, target in identities.merges:
        if source.pk is not None:  # not a person first seen in this batch
            absorb(target.final().person, source.person)
    existing = [s.person for s in changed if s not in new]
    if existing:
        Person.objects.bulk_update(existing, ["user_id", "traits", "email"])
    identities.save()
    return {index: state.final().pk for index, state in states.items()}


def absorb(person, other):
    """Move everything of ``other`` (events, memberships, activity, ids, traits) to
    ``person``, then delete it: an anonymous visitor turned out to be a known user
    (identify with the anonymous id, or alias)."""
    event_store.reassign(workspace_id=person.workspace_id, from_person=other.pk, to_person=person.pk)
    Identity.objects.filter(person=other).update(person=person)
    memberships.merge(into=person, source=other)
    activity.merge(into=person, source=other)
    person.set_traits({**other.traits, **person.traits})
    seen = Value(other.last_seen_at) if other.last_seen_at else F("last_seen_at")
    Person.objects.filter(pk=person.pk).update(
        traits=person.traits,
        email=person.email,
        several_without=F("several_without").bitor(other.several_without),
        last_seen_at=Coalesce(Greatest("last_seen_at", seen), seen),
    )
    other.delete()
