"""Memberships and the member counts they imply: the one writer of both.

``Group.member_count`` keeps the number of a group's open memberships, so that listing
and sorting 100,000 groups never counts memberships. Every write that opens, closes,
merges or deletes memberships goes through the functions here, which move the counts
in the same transaction; no other code writes ``member_count``.

What the database removes by itself needs no count: a group type's removal deletes its
groups with their memberships (``DB_CASCADE``), so no count of theirs is left to keep.
"""

from collections import Counter

from django.db.models import Count, QuerySet

from analytics.models import Group, Membership, Person
from analytics.models.bulk import update_counters


def save_changes(*, new: list[Membership], changed: list[Membership]):
    """Insert ``new`` memberships, and write ``started_at`` and ``ended_at`` of
    ``changed`` ones (by primary key), which were open when read: a group gains a member
    per new open membership and loses one per changed membership that has now ended.

    A fixed number of queries (ingestion's hot path), at most three.
    """
    Membership.objects.bulk_create(new)
    if changed:
        Membership.objects.bulk_update(changed, ["started_at", "ended_at"])
    joined = Counter(m.group_id for m in new if m.ended_at is None)
    joined.subtract(m.group_id for m in changed if m.ended_at is not None)
    _add_members(joined)


def merge(*, into: Person, source: Person):
    """Give ``into`` every membership of ``source`` (who is about to be deleted). A group
    both are in now keeps one membership, from the earlier start, and one member."""
    mine = dict(into.memberships.current().values_list("group_id", "pk"))
    doubled = {}
    for membership in source.memberships.current().filter(group_id__in=mine):
        Membership.objects.filter(
            pk=mine[membership.group_id], started_at__gt=membership.started_at
        ).update(started_at=membership.started_at)
        membership.delete()
        doubled[membership.group_id] = -1
    _add_members(doubled)
    source.memberships.update(person=into)


def delete_of(people: QuerySet[Person]):
    """Delete every membership of these people; their groups lose the open ones.

    Their rows should be locked already (as a deletion does), so that no call opens a
    membership in between.
    """
    _add_members(
        dict(
            Membership.objects.current().filter(person__in=people)
            .order_by()
            .values_list("group_id")
            .annotate(n=-Count("*"))
        )
    )
    Membership.objects.filter(person__in=people).delete()


def _add_members(changes: dict[int, int]):
    """Apply {group id: change in open memberships} to ``member_count``, in one query."""
    changes = {pk: n for pk, n in changes.items() if n}
    if changes:
        update_counters(Group.objects.all(), changes, add={"member_count": list(changes.values())})
