"""Deleting people with everything they sent: events of every type, memberships, ids.

Their events go through the event store (``analytics.event_store``), a chunk at a time,
their memberships through ``analytics.memberships``, which keeps groups' member counts,
and their activity in groups through ``analytics.activity``, which keeps groups' last
activity; their other rows (ids) go with the person through the database's own cascades
(``DB_CASCADE``), which would take events, memberships and activity too. What it will remove is
counted first, in the same transaction, with the people's rows locked so no call can add
to them in between. Summaries cost a fixed number of queries however many people they
cover, which is what lets a dashboard show the same figures on a confirmation screen.

The dashboard runs deletions in the background (``start_deletion``, ``run_deletion``), in
a task worker (``analytics.worker``): a person with a million events takes a while, and
the page shows the progress meanwhile.
"""

from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

from django.db import connection, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.tasks import task
from django.utils import timezone

from analytics import activity, event_store, memberships
from analytics.models import (
    Deletion,
    EventType,
    Identity,
    IngestionProblem,
    Membership,
    Person,
    SuppressedUser,
    User,
    Workspace,
    normalize_domain,
)


@dataclass(frozen=True, order=True)
class GroupRef:
    type: str
    key: str
    name: str = ""  # the group's name property, if it has one

    def as_json(self):
        return {"type": self.type, "key": self.key, "name": self.name}


@dataclass(frozen=True)
class DeletionSummary:
    """What deleting one person removes (or, before the deletion, would remove)."""

    person_id: int
    user_id: str | None
    user_ids: list[str]
    anonymous_ids: list[str]
    events: int
    # Every call type, zero included: {"track": 12, "identify": 2, "group": 1, ...}.
    by_type: dict[str, int]
    memberships: int
    # Groups this person is in now where no one else would be left.
    groups_left_empty: list[GroupRef]
    suppressed: bool = False

    def as_json(self):
        return {
            "user_id": self.user_id,
            "user_ids": self.user_ids,
            "anonymous_ids": self.anonymous_ids,
            "events": self.events,
            "by_type": self.by_type,
            "memberships": self.memberships,
            "groups_left_empty": [group.as_json() for group in self.groups_left_empty],
            "suppressed": self.suppressed,
        }


@dataclass(frozen=True)
class BulkDeletion:
    """Summaries of a deletion of several people, with their totals."""

    people: list[DeletionSummary]
    suppressed: bool
    dry_run: bool
    groups_left_empty: list[GroupRef] = field(default_factory=list)

    @property
    def events(self):
        return sum(person.events for person in self.people)

    @property
    def by_type(self):
        totals = dict.fromkeys(EventType.values, 0)
        for person in self.people:
            for call_type, count in person.by_type.items():
                totals[call_type] += count
        return totals

    @property
    def memberships(self):
        return sum(person.memberships for person in self.people)

    def as_json(self):
        return {
            "dry_run": self.dry_run,
            "suppressed": self.suppressed,
            "people": [person.as_json() for person in self.people],
            "totals": {
                "people": len(self.people),
                "events": self.events,
                "by_type": self.by_type,
                "memberships": self.memberships,
                "groups_left_empty": [group.as_json() for group in self.groups_left_empty],
            },
        }


def summarize_people(people: QuerySet[Person], *, suppress: bool = False) -> list[DeletionSummary]:
    """What deleting these people together would remove, one summary per person.

    Five queries whatever the number of people. A group counts as left empty when every
    one of its current members is among ``people``.
    """
    rows = list(people.order_by("pk").values_list("pk", "user_id", "workspace_id"))
    ids = [pk for pk, *_ in rows]
    counts = event_store.count_by_type({workspace for *_, workspace in rows}, ids)
    by_type = defaultdict(Counter, {pk: Counter(of_person) for pk, of_person in counts.items()})
    memberships = dict(
        Membership.objects.filter(person_id__in=ids)
        .order_by()
        .values_list("person_id")
        .annotate(n=Count("*"))
    )
    known_as = defaultdict(lambda: {Identity.Kind.USER: [], Identity.Kind.ANONYMOUS: []})
    identities = Identity.objects.filter(person_id__in=ids).order_by("pk")
    for person_id, kind, value in identities.values_list("person_id", "kind", "value"):
        known_as[person_id][kind].append(value)
    emptied = defaultdict(list)
    for person_id, type_name, key, name in _memberships_left_alone(ids):
        emptied[person_id].append(GroupRef(type_name, key, name if isinstance(name, str) else ""))
    return [
        DeletionSummary(
            person_id=pk,
            user_id=user_id,
            user_ids=known_as[pk][Identity.Kind.USER],
            anonymous_ids=known_as[pk][Identity.Kind.ANONYMOUS],
            events=sum(by_type[pk].values()),
            by_type={call_type: by_type[pk][call_type] for call_type in EventType.values},
            memberships=memberships.get(pk, 0),
            groups_left_empty=emptied[pk],
            suppressed=suppress,
        )
        for pk, user_id, _ in rows
    ]


def _memberships_left_alone(ids):
    """(person id, type name, key, name) of current memberships no one outside ``ids``
    shares."""
    someone_else = Membership.objects.current_of(OuterRef("group")).exclude(person_id__in=ids)
    return (
        Membership.objects.current()
        .filter(person_id__in=ids)
        .filter(~Exists(someone_else))
        .order_by("group__group_type__name", "group__key")
        .values_list("person_id", "group__group_type__name", "group__key", "group__properties__name")
    )


def _delete_refused_calls(summaries, workspace_of):
    """Refused calls and warnings kept for these people go with them."""
    sent_by = Q()
    for summary in summaries:
        mine = Q(workspace_id=workspace_of[summary.person_id]) & (
            Q(user_id__in=summary.user_ids) | Q(anonymous_id__in=summary.anonymous_ids)
        )
        sent_by |= mine
    if summaries:
        IngestionProblem.objects.filter(sent_by).delete()


def summarize_deletion(person: Person, *, suppress: bool = False) -> DeletionSummary:
    """What ``delete_person(person, suppress=...)`` would remove, removing nothing."""
    summaries = summarize_people(Person.objects.filter(pk=person.pk), suppress=suppress)
    if not summaries:
        raise Person.DoesNotExist(f"person {person.pk} was deleted already")
    return summaries[0]


def delete_people(
    people: QuerySet[Person],
    *,
    suppress: bool = False,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> BulkDeletion:
    """Delete these people and everything they sent, all or nothing; returns what went.

    With ``suppress``, every user id they were known by is blocked, so ingestion refuses
    later calls for it instead of creating the person again. With ``dry_run`` nothing
    changes and the result describes what the same call would do. ``progress``, if
    given, is called as ``progress(events deleted so far, events to delete)`` before the
    first chunk of events and after each.
    """
    if event_store.in_clickhouse():
        # Counted in the transaction below, which cannot store them (``store_queued``).
        event_store.store_queued(*set(people.values_list("workspace_id", flat=True)))
    with transaction.atomic():
        if not dry_run:
            # Lock the rows, in a fixed order: no call can add events or memberships to
            # these people between the counting and the deletion.
            locked = people.select_for_update().order_by("pk").values_list("pk", "workspace_id")
            workspace_of = dict(locked)
            people = Person.objects.filter(pk__in=list(workspace_of))
        summaries = summarize_people(people, suppress=suppress)
        if not dry_run:
            memberships.delete_of(people)
            activity.delete_of(people)
            _delete_refused_calls(summaries, workspace_of)
            if suppress:
                SuppressedUser.objects.bulk_create(
                    [
                        SuppressedUser(workspace_id=workspace_of[s.person_id], user_id=user_id)
                        for s in summaries
                        for user_id in dict.fromkeys([*s.user_ids, s.user_id])
                        if user_id
                    ],
                    ignore_conflicts=True,  # blocked already by an earlier deletion
                )
            # Last: with ClickHouse as the event store, no statement that could still
            # fail comes after the events' deletion there.
            event_store.delete_people_and_events(people, workspace_of, progress=progress)
    return BulkDeletion(
        people=summaries,
        suppressed=suppress,
        dry_run=dry_run,
        groups_left_empty=sorted({group for s in summaries for group in s.groups_left_empty}),
    )


def delete_person(person: Person, *, suppress: bool = False) -> DeletionSummary:
    """Delete one person and everything they sent; returns what was removed.

    Raises ``Person.DoesNotExist`` when the person is gone already.
    """
    deletion = delete_people(Person.objects.filter(pk=person.pk), suppress=suppress)
    if not deletion.people:
        raise Person.DoesNotExist(f"person {person.pk} was deleted already")
    return deletion.people[0]


def delete_people_by_email_domain(
    workspace: Workspace, domain: str, *, suppress: bool = False, dry_run: bool = False
) -> BulkDeletion:
    """Delete everyone of the workspace whose email address is at ``domain`` (e.g. staff)."""
    if not normalize_domain(domain):
        raise ValueError("an email domain is needed; an empty one would match everyone")
    people = Person.objects.filter(workspace=workspace).with_email_domain(domain)
    return delete_people(people, suppress=suppress, dry_run=dry_run)


# --- in the background ------------------------------------------------------------


def start_deletion(
    *,
    workspace: Workspace,
    requested_by: User,
    person: Person | None = None,
    email_domain: str = "",
    suppress: bool = False,
) -> Deletion:
    """Queue the deletion of ``person``, or of everyone at ``email_domain``; returns the job.

    A task worker runs it (``run_deletion``) once the current transaction commits; the
    returned row shows its progress.
    """
    email_domain = normalize_domain(email_domain)
    if person is None and not email_domain:
        raise ValueError("a person or an email domain is needed; an empty one would match everyone")
    deletion = Deletion(
        workspace=workspace,
        requested_by=requested_by.get_username(),
        person=person,
        email_domain=email_domain if person is None else "",
        label=_label(person) if person else f"everyone at @{email_domain}",
        suppress=suppress,
    )
    # An estimate until the deletion counts under lock, shown while it waits.
    people = list(deletion.people().values_list("pk", flat=True))
    deletion.total = sum(event_store.count_of_people({workspace.pk}, people).values())
    deletion.save()
    transaction.on_commit(partial(_enqueue, deletion))
    return deletion


def _enqueue(deletion):
    deletion.task_id = run_deletion.enqueue(deletion.pk).id
    Deletion.objects.filter(pk=deletion.pk).update(task_id=deletion.task_id)


def _label(person):
    name = person.display_name
    return f"{name} ({person.user_id})" if person.user_id and person.user_id != name else name


@task(queue_name="dashboard")
def run_deletion(deletion_id: int) -> str:
    """Carry out a queued ``Deletion``: everyone it covers goes, or, if anything fails,
    no one does and the job says why. Returns the status it ends with.

    Safe to run again, as a task interrupted by a restart is. A run waits for any other
    run of the same deletion to end (on PostgreSQL for its advisory lock, on SQLite for
    the database's write lock, which a deletion holds until it commits). Then it takes
    over a deletion left running by a run that died, whose transaction was rolled back so
    nothing of it was deleted, and does nothing for one that is done or failed. So a
    deletion is carried out once: never twice, never by two runs at once, never in part.
    """
    deletion = Deletion.objects.get(pk=deletion_id)
    with deletion.running():
        started = Deletion.objects.filter(
            pk=deletion.pk, status__in=[Deletion.Status.QUEUED, Deletion.Status.RUNNING]
        ).update(status=Deletion.Status.RUNNING, started_at=timezone.now(), deleted=0)
        if not started:  # finished already, by an earlier run
            deletion.refresh_from_db(fields=["status"])
            return deletion.status
        return _run(deletion)


def _run(deletion):
    """Delete, then record the outcome: done (in the same transaction) or failed."""
    # On SQLite a second connection cannot write while this transaction holds the
    # database's one write lock: there the job goes from running to done, unreported.
    progress = deletion.report_progress if connection.vendor != "sqlite" else None
    still_running = Deletion.objects.filter(pk=deletion.pk, status=Deletion.Status.RUNNING)
    try:
        # Durable: the deletion and its "done" are committed when this block ends,
        # before ``running`` lets go of the lock that keeps other runs out. Inside an
        # outer transaction another run could start before they were, and delete again.
        # Counted in the transaction below, which cannot store them (``store_queued``).
        event_store.store_queued(deletion.workspace_id)
        with transaction.atomic(durable=True):
            # Another run may have finished it meanwhile, and none can now: on PostgreSQL
            # this run holds its lock (``running``), on SQLite the database's write lock.
            if not still_running.exists():
                return Deletion.objects.values_list("status", flat=True).get(pk=deletion.pk)
            result = delete_people(deletion.people(), suppress=deletion.suppress, progress=progress)
            # Done in the same transaction as the deletion itself: both or neither.
            still_running.update(
                status=Deletion.Status.DONE,
                summary=result.as_json(),
                total=result.events,
                deleted=result.events,
                finished_at=timezone.now(),
            )
    except Exception as error:
        still_running.update(
            status=Deletion.Status.FAILED,
            error=str(error).strip() or type(error).__name__,
            deleted=0,
            finished_at=timezone.now(),
        )
        raise  # for the task's result, with the traceback
    return Deletion.Status.DONE
