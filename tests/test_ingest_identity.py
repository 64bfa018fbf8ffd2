"""An anonymous visitor who identifies, or is aliased, becomes the same person."""

import pytest
from django.db import connection

from analytics import event_store
from analytics.models import Event, Group, Identity, Membership, Person


def test_anonymous_visitor_who_identifies_in_the_same_batch_is_one_person(send):
    send.batch(
        {"type": "page", "anonymousId": "a1", "name": "Pricing"},
        {"type": "identify", "anonymousId": "a1", "userId": "u1", "traits": {"email": "u1@x.io"}},
        {"type": "track", "userId": "u1", "event": "Signed Up"},
    )
    person = event_store.with_event_count(Person.objects.all()).get()
    assert person.user_id == "u1"
    assert person.event_count == 3
    assert set(Identity.objects.values_list("kind", "value")) == {("anonymous", "a1"), ("user", "u1")}


def test_anonymous_history_joins_a_known_user(send):
    send.batch({"type": "identify", "userId": "u1", "traits": {"name": "Ann", "plan": "pro"}})
    send.batch(
        {"type": "page", "anonymousId": "a9", "name": "Docs"},
        {"type": "identify", "anonymousId": "a9", "traits": {"plan": "trial", "browser": "firefox"}},
    )
    assert Person.objects.count() == 2
    send.batch({"type": "identify", "userId": "u1", "anonymousId": "a9"})
    person = event_store.with_event_count(Person.objects.all()).get()
    assert Event.objects.filter(person=person).count() == 4
    assert person.event_count == 4
    # The identified user's traits win over the anonymous ones.
    assert person.traits == {"name": "Ann", "plan": "pro", "browser": "firefox"}


def test_anonymous_memberships_move_to_the_known_user(send, company):
    send.batch({"type": "identify", "userId": "u1"})
    send.batch({"type": "group", "anonymousId": "a1", "groupId": "acme"})
    send.batch({"type": "track", "userId": "u1", "anonymousId": "a1", "event": "Merged"})
    membership = Membership.objects.get()
    assert membership.person.user_id == "u1"
    assert Event.objects.get(name="Merged").group_0 == Group.objects.get(key="acme")


def test_two_known_users_on_one_device_stay_apart(send):
    send.batch({"type": "identify", "userId": "u1", "anonymousId": "device"})
    send.batch({"type": "identify", "userId": "u2", "anonymousId": "device"})
    assert set(Person.objects.values_list("user_id", flat=True)) == {"u1", "u2"}


def test_alias_merges_the_previous_id_into_the_user(send):
    send.batch({"type": "track", "anonymousId": "a1", "event": "Viewed"})
    send.batch({"type": "alias", "previousId": "a1", "userId": "u1"})
    person = event_store.with_event_count(Person.objects.all()).get()
    assert person.user_id == "u1"
    assert person.events.count() == 2


def test_alias_of_two_known_people_merges_them(send):
    send.batch({"type": "track", "userId": "old-id", "event": "A"})
    send.batch({"type": "track", "userId": "new-id", "event": "B"})
    send.batch({"type": "alias", "previousId": "old-id", "userId": "new-id"})
    person = event_store.with_event_count(Person.objects.all()).get()
    assert person.user_id == "new-id"
    assert Person.objects.by_user_id("old-id") == person
    assert person.events.count() == 3


def test_alias_renames_a_user(send):
    send.batch({"type": "track", "userId": "old-id", "event": "A"})
    send.batch({"type": "alias", "previousId": "old-id", "userId": "new-id"})
    person = event_store.with_event_count(Person.objects.all()).get()
    assert person.user_id == "new-id"
    assert Person.objects.by_user_id("old-id") == person


def test_alias_needs_previous_id(send):
    response = send.post("alias", {"userId": "u1"})
    assert response.json()["rejected"][0]["error"] == "missing 'previousId'"


def test_people_are_per_workspace(send, workspace, other_workspace):
    send.batch({"type": "identify", "userId": "u1"})
    send.post("batch", {"batch": [{"type": "identify", "userId": "u1"}]}, key=other_workspace.write_key)
    assert Person.objects.filter(user_id="u1").count() == 2


def test_last_seen_and_event_count_follow_stored_events(send):
    send.batch(
        {"type": "track", "userId": "u1", "event": "A", "timestamp": "2026-01-01T10:00:00Z"},
        {"type": "track", "userId": "u1", "event": "B", "timestamp": "2026-01-03T10:00:00Z"},
        {"type": "track", "userId": "u1", "event": "C", "timestamp": "2026-01-02T10:00:00Z"},
    )
    person = event_store.with_event_count(Person.objects.all()).get()
    assert person.event_count == 3
    assert person.last_seen_at.isoformat() == "2026-01-03T10:00:00+00:00"


@pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite keeps the exact moment, a row at a time"
)
def test_last_seen_moves_on_by_the_minute_it_is_shown_to(send):
    send.batch({"type": "track", "userId": "u1", "event": "A", "timestamp": "2026-01-01T10:00:00Z"})
    send.batch({"type": "track", "userId": "u1", "event": "B", "timestamp": "2026-01-01T10:00:40Z"})
    assert Person.objects.get().last_seen_at.isoformat() == "2026-01-01T10:00:00+00:00"
    send.batch({"type": "track", "userId": "u1", "event": "C", "timestamp": "2026-01-01T10:01:05Z"})
    assert Person.objects.get().last_seen_at.isoformat() == "2026-01-01T10:01:05+00:00"
    send.batch({"type": "track", "userId": "u1", "event": "Old", "timestamp": "2025-12-01T10:00:00Z"})
    assert Person.objects.get().last_seen_at.isoformat() == "2026-01-01T10:01:05+00:00"
