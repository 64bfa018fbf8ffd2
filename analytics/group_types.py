"""Removing a group type: its groups and memberships go, and events lose its context.

Not a method of ``GroupType``: it writes to events through the event store, which
depends on the models, not the other way round.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F

from analytics import event_store
from analytics.models import Group, GroupType, Person
from analytics.models.groups import renumber


def remove_group_type(group_type: GroupType, *, new_default: GroupType | None = None) -> None:
    """Delete ``group_type`` with its groups and their memberships; events stay, without it.

    Events' column of its slot is emptied first, through the event store, so a type
    created later in the freed slot starts clean; the database deletes the groups and
    their memberships with the type (``DB_CASCADE``), and would empty the events' column
    too (``DB_SET_NULL``). The default type hands its role to ``new_default``, which is
    required while other types remain.
    """
    with transaction.atomic():
        # Its groups first, then the workspace: the order ingestion takes them in (it
        # updates a group's last activity, then its rows' keys share-lock the workspace).
        list(Group.objects.select_for_update().filter(group_type=group_type).order_by("pk").values_list("pk"))
        others = [t for t in group_type.lock_siblings() if t.pk != group_type.pk]
        if group_type.is_default and others and new_default not in others:
            raise ValidationError(
                {"new_default": "Choose which type takes untyped groupIds from now on."}
            )
        event_store.clear_group_type(group_type)
        group_type.delete()
        # The freed slot may go to a new type: its people start without the flag.
        Person.objects.filter(workspace_id=group_type.workspace_id).update(
            several_without=F("several_without").bitand(~(1 << group_type.slot))
        )
        if group_type.is_default and others:
            new_default.make_default()
        renumber(others)
