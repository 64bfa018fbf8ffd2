"""A batch's events: one row per call, with its person and group context, in one insert."""

from analytics import event_store
from analytics.models import Person


def save_events(workspace, calls, *, person_of, slots_of, received_at) -> int:
    """Store one event per call and move its people's ``last_seen_at`` on; returns how
    many were stored. ``person_of`` and ``slots_of`` map a call's index to its person's
    id and to its group context ({slot: group id})."""
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
    stored = event_store.insert(rows)
    latest = {}
    for row in rows:
        person_id, moment = row["person_id"], row["timestamp"]
        if person_id not in latest or moment > latest[person_id]:
            latest[person_id] = moment
    Person.objects.seen(latest)
    return stored
