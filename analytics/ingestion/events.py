"""A batch's events: one row per call, with its person and group context, in one insert."""

from analytics import activity, event_store
from analytics.models import ACTIVITY_TYPES, Person


def save_events(workspace, calls, *, person_of, slots_of, type_of_slot, received_at) -> list[dict]:
    """Store one event per call, move its people's ``last_seen_at`` and its groups'
    activity on; returns the events' rows. ``person_of`` and ``slots_of`` map a
    call's index to its person's id and to its group context ({slot: group id});
    ``type_of_slot`` maps a slot to its group type's id."""
    rows = []
    for call in calls:
        row = {
            "workspace_id": workspace.pk,
            "person_id": person_of[call.index],
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
        for slot, group_pk in slots_of[call.index].items():
            row[f"group_{slot}_id"] = group_pk
        rows.append(row)
    latest, active, group_types = {}, {}, {}
    for call in calls:
        person_id, moment = person_of[call.index], call.timestamp
        if person_id not in latest or moment > latest[person_id]:
            latest[person_id] = moment
        if call.type not in ACTIVITY_TYPES:
            continue
        for slot, group_id in slots_of[call.index].items():
            pair = (group_id, person_id)
            if pair not in active or moment > active[pair]:
                active[pair] = moment
            group_types[group_id] = type_of_slot[slot]
    # The groups' rows before the events: their activity adds up into group days
    # (GroupDay), locked until the batch commits, and a deletion locks groups before
    # group days too, so that the two always take them in the same order.
    activity.record(active, group_types=group_types)
    event_store.insert(rows, zone=workspace.zone)
    Person.objects.seen(latest)
    return rows
