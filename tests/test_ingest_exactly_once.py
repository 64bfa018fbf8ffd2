import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from analytics import event_store
from analytics.ingestion import ingest
from analytics.models import Event, Group, Person


def test_repeated_message_id_is_stored_once(send, workspace):
    call = {"type": "track", "userId": "u1", "event": "Paid", "messageId": "m-1"}
    first = send.batch(call)
    again = send.batch(call)
    assert first.json()["stored"] == 1
    assert again.json() == {"success": True, "stored": 0, "duplicates": 1}
    assert Event.objects.filter(workspace=workspace).count() == 1
    assert event_store.with_event_count(Person.objects.all()).get(user_id="u1").event_count == 1


def test_repeated_message_id_within_one_batch_is_stored_once(send):
    call = {"type": "track", "userId": "u1", "event": "Paid", "messageId": "m-1"}
    body = send.batch(call, call).json()
    assert (body["stored"], body["duplicates"]) == (1, 1)


def test_retried_group_call_does_not_undo_a_later_change(send, company):
    first = {"type": "group", "userId": "u1", "groupId": "acme", "traits": {"plan": "free"}, "messageId": "g1"}
    send.batch(first)
    send.batch({"type": "group", "userId": "u1", "groupId": "acme", "traits": {"plan": "pro"}, "messageId": "g2"})
    send.batch(first)  # a client retry of the old call
    assert Group.objects.get(key="acme").properties["plan"] == "pro"


def test_same_message_id_in_two_workspaces_is_two_events(send, workspace, other_workspace):
    call = {"type": "track", "userId": "u1", "event": "E", "messageId": "shared"}
    send.post("batch", {"batch": [call]})
    send.post("batch", {"batch": [call]}, key=other_workspace.write_key)
    assert Event.objects.filter(message_id="shared").count() == 2


def test_database_refuses_a_second_copy_of_a_message(send, workspace):
    send.batch({"type": "track", "userId": "u1", "event": "E", "messageId": "m-1"})
    event = Event.objects.get()
    event.pk = None
    with pytest.raises(IntegrityError):
        event.save()


def test_events_without_message_id_get_one(send):
    send.batch({"type": "track", "userId": "u1", "event": "E"}, {"type": "track", "userId": "u1", "event": "E"})
    ids = list(Event.objects.values_list("message_id", flat=True))
    assert len(set(ids)) == 2 and all(ids)


def test_received_time_is_the_servers(send):
    before = timezone.now()
    send.batch({"type": "track", "userId": "u1", "event": "E"})
    assert before <= Event.objects.get().received_at <= timezone.now()


def test_a_batch_is_stored_in_a_transaction_of_its_own(workspace):
    # Its calls are reported stored once committed, and retries start from scratch:
    # neither holds inside a caller's transaction, which is refused.
    call = {"type": "track", "userId": "u1", "event": "E", "messageId": "m-1"}
    with transaction.atomic(), pytest.raises(RuntimeError, match="durable"):
        ingest(workspace, [call], received_at=timezone.now())
    assert not Event.objects.filter(workspace=workspace).exists()
