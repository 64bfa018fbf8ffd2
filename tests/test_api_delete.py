"""Deleting people through the API: everything they sent, atomically, optionally for good."""

import pytest
from calls import at
from conftest import rows_of
from django.db import DatabaseError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from analytics import event_store
from analytics.deletion import delete_people_by_email_domain, summarize_deletion
from analytics.models import (
    Event,
    Group,
    Identity,
    IngestionProblem,
    Membership,
    Person,
    SuppressedUser,
)

NO_CALLS = {"track": 0, "page": 0, "screen": 0, "identify": 0, "group": 0, "alias": 0}


def test_deleting_a_person_removes_every_call_membership_and_id(api, people):
    assert rows_of("ann") == {"person": True, "events": 7, "memberships": 2, "identities": 3}
    bob_before = rows_of("bob")
    response = api.delete("people/ann")
    assert response.status_code == 200
    assert response.json() == {
        "dry_run": False,
        "user_id": "ann",
        "user_ids": ["ann"],
        "anonymous_ids": ["anon-ann", "ann-old"],
        "events": 7,
        "by_type": {"track": 1, "page": 1, "screen": 1, "identify": 1, "group": 2, "alias": 1},
        "memberships": 2,
        "groups_left_empty": [],  # bob is still in acme and growth
        "suppressed": False,
    }
    assert rows_of("ann") == {"person": False, "events": 0, "memberships": 0, "identities": 0}
    assert not Event.objects.filter(user_id="ann").exists()
    assert not Event.objects.filter(anonymous_id="anon-ann").exists()
    assert not Identity.objects.filter(value__in=["ann", "anon-ann", "ann-old"]).exists()
    assert rows_of("bob") == bob_before
    assert Person.objects.count() == 3
    assert Group.objects.filter(key__in=["acme", "growth"]).count() == 2  # groups stay


def test_deletion_names_the_groups_left_without_members(api, send, people):
    send.batch({"type": "group", "userId": "carol", "groupId": "solo", "timestamp": at(30)})
    body = api.delete("people/carol").json()
    assert body["groups_left_empty"] == [{"type": "company", "key": "solo", "name": ""}]
    assert body["memberships"] == 1
    assert Group.objects.filter(key="solo").exists()


def test_a_group_whose_other_members_left_is_reported_empty(api, send, people):
    send.batch(
        {
            "type": "track",
            "userId": "sam",
            "event": "Account Removed User",
            "context": {"groupId": "internal"},
            "timestamp": at(40),
        }
    )
    body = api.delete("people/dev").json()
    assert body["groups_left_empty"] == [{"type": "company", "key": "internal", "name": ""}]


def test_a_deleted_person_who_is_not_suppressed_can_come_back(api, send, people):
    api.delete("people/dev")
    response = send.batch({"type": "track", "userId": "dev", "event": "Back"})
    assert response.status_code == 200
    assert event_store.with_event_count(Person.objects.all()).by_user_id("dev").event_count == 1


def test_suppression_refuses_later_calls_for_the_user_id(api, send, people):
    body = api.delete("people/ann", suppress="true").json()
    assert body["suppressed"] is True
    response = send.batch(
        {"type": "track", "userId": "ann", "event": "Back", "messageId": "m-back"}
    )
    assert response.status_code == 400
    assert response.json()["rejected"] == [
        {
            "index": 0,
            "error": "user 'ann' was deleted and is blocked",
            "messageId": "m-back",
            "type": "track",
        }
    ]
    assert Person.objects.by_user_id("ann") is None
    problems = api.get("ingestion-problems", level="rejected").json()
    assert [(p["message_id"], p["reason"]) for p in problems["results"]] == [
        ("m-back", "user 'ann' was deleted and is blocked")
    ]
    assert problems["totals"]["rejected_calls"] == 1


def test_suppression_blocks_every_user_id_the_person_had(api, send):
    send.batch({"type": "track", "userId": "old-id", "event": "A"})
    send.batch({"type": "alias", "previousId": "old-id", "userId": "new-id"})
    body = api.delete("people/new-id", suppress="true").json()
    assert body["user_ids"] == ["old-id", "new-id"]
    assert set(SuppressedUser.objects.values_list("user_id", flat=True)) == {"old-id", "new-id"}
    assert send.batch({"type": "track", "userId": "old-id", "event": "B"}).status_code == 400
    assert not Person.objects.exists()


def test_deleting_again_after_suppression_is_404(api, people):
    api.delete("people/ann", suppress="true")
    assert api.delete("people/ann", suppress="true").status_code == 404


def test_a_dry_run_counts_without_deleting(api, people):
    before = rows_of("ann")
    dry = api.delete("people/ann", dry_run="true", suppress="true").json()
    assert rows_of("ann") == before
    assert not SuppressedUser.objects.exists()
    real = api.delete("people/ann", suppress="true").json()
    assert {**dry, "dry_run": False} == real


def test_the_summary_is_what_the_deletion_removes(api, people):
    summary = summarize_deletion(Person.objects.by_user_id("bob"))
    assert (summary.events, summary.by_type["identify"], summary.by_type["group"]) == (7, 1, 2)
    assert {**summary.as_json(), "dry_run": False} == api.delete("people/bob").json()


def test_summaries_cost_the_same_queries_for_any_person(people, send):
    send.batch(*({"type": "track", "userId": "ann", "event": f"E{n}"} for n in range(30)))
    ann, dev = Person.objects.by_user_id("ann"), Person.objects.by_user_id("dev")
    with CaptureQueriesContext(connection) as busy:
        summarize_deletion(ann)
    with CaptureQueriesContext(connection) as quiet:
        summarize_deletion(dev)
    assert len(busy) == len(quiet) == 5


def test_deleting_unknown_or_other_workspaces_people_is_404(api, charlie_api, charlie_send, people):
    charlie_send.batch(
        {"type": "identify", "userId": "carl", "traits": {"email": "carl@groupsite.dev"}}
    )
    assert api.delete("people/carl").status_code == 404
    assert charlie_api.delete("people/ann").status_code == 404
    assert api.delete("people/nobody").status_code == 404
    assert Person.objects.count() == 5


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_a_bad_flag_is_400_and_deletes_nothing(api, people, value):
    response = api.delete("people/ann", suppress=value)
    assert response.status_code == 400
    assert "suppress must be true or false" in response.json()["message"]
    assert rows_of("ann")["events"] == 7


def test_deleting_needs_no_csrf_token(workspace, people):
    client = Client(enforce_csrf_checks=True)
    response = client.delete(
        "/api/v1/people/ann", headers={"Authorization": f"Bearer {workspace.secret_key}"}
    )
    assert response.status_code == 200
    assert not rows_of("ann")["person"]


def test_deleting_needs_the_secret_key(client, workspace, people):
    assert client.delete("/api/v1/people/ann").status_code == 401
    response = client.delete(
        "/api/v1/people/ann", headers={"Authorization": f"Bearer {workspace.write_key}"}
    )
    assert response.status_code == 401
    assert rows_of("ann")["events"] == 7


# --- by email domain --------------------------------------------------------------


def test_deleting_everyone_at_an_email_domain(api, people, charlie_send):
    charlie_send.batch(
        {"type": "identify", "userId": "carl", "traits": {"email": "carl@groupsite.dev"}}
    )
    response = api.delete("people", email_domain="groupsite.dev", suppress="true")
    assert response.status_code == 200
    body = response.json()
    assert (body["email_domain"], body["dry_run"], body["suppressed"]) == (
        "groupsite.dev",
        False,
        True,
    )
    assert [(p["user_id"], p["events"], p["memberships"]) for p in body["people"]] == [
        ("dev", 3, 1),
        ("sam", 3, 2),
    ]
    assert body["people"][0]["groups_left_empty"] == [{"type": "company", "key": "internal", "name": ""}]
    assert body["totals"] == {
        "people": 2,
        "events": 6,
        "by_type": {**NO_CALLS, "identify": 2, "group": 3, "track": 1},
        "memberships": 3,
        # Internal has no one left once both are gone; acme keeps ann and bob.
        "groups_left_empty": [{"type": "company", "key": "internal", "name": ""}],
    }
    assert sorted(Person.objects.values_list("user_id", flat=True)) == ["ann", "bob", "carl"]
    assert rows_of("ann")["events"] == 7
    assert set(SuppressedUser.objects.values_list("user_id", flat=True)) == {"dev", "sam"}


def test_a_dry_run_by_domain_deletes_nothing_and_counts_the_same(api, people):
    dry = api.delete("people", email_domain="@groupsite.dev", dry_run="true").json()
    assert dry["dry_run"] is True
    assert Person.objects.count() == 4
    assert Event.objects.count() == 20
    real = api.delete("people", email_domain="groupsite.dev").json()
    assert {**dry, "dry_run": False} == real
    assert Person.objects.count() == 2


def test_deleting_people_by_domain_costs_the_same_queries_for_any_number(people, workspace, send):
    send.batch(
        *(
            {"type": "identify", "userId": f"s{n}", "traits": {"email": f"s{n}@staff.io"}}
            for n in range(12)
        ),
        # Members of a group, active in it, like the people of the other domain.
        *({"type": "group", "userId": f"s{n}", "groupId": "staff"} for n in range(12)),
        *({"type": "track", "userId": f"s{n}", "event": "Logged In"} for n in range(12)),
    )
    with CaptureQueriesContext(connection) as two:
        delete_people_by_email_domain(workspace, "acme.io")
    with CaptureQueriesContext(connection) as many:
        deletion = delete_people_by_email_domain(workspace, "staff.io", suppress=True)
    assert len(deletion.people) == 12
    assert len(many) == len(two) + 1  # the suppressed ids, in one insert


@pytest.mark.parametrize("params", [{}, {"email_domain": ""}, {"email_domain": " @ "}])
def test_deleting_people_without_a_domain_is_refused(api, people, params):
    response = api.delete("people", **params)
    assert response.status_code == 400
    assert "never deletes everyone" in response.json()["message"]
    assert Person.objects.count() == 4


def test_deleting_by_domain_refuses_filters_it_would_ignore(api, people):
    response = api.delete("people", email_domain="groupsite.dev", search="dev")
    assert response.status_code == 400
    assert "takes only email_domain, suppress and dry_run, not search" in response.json()["message"]
    assert Person.objects.count() == 4


def test_a_domain_with_no_one_deletes_no_one(api, people):
    body = api.delete("people", email_domain="nowhere.example").json()
    assert body["people"] == []
    assert body["totals"]["events"] == 0
    assert Person.objects.count() == 4


# --- all or nothing ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params"),
    [("people/dev", {}), ("people", {"email_domain": "groupsite.dev"})],
)
def test_a_failure_after_the_delete_keeps_everything(
    api, people, failing_suppression, path, params
):
    events, memberships, identities = (
        Event.objects.count(),
        Membership.objects.count(),
        Identity.objects.count(),
    )
    with pytest.raises(DatabaseError, match="refused by the test"):
        api.delete(path, suppress="true", **params)
    assert rows_of("dev") == {"person": True, "events": 3, "memberships": 1, "identities": 1}
    assert rows_of("sam")["events"] == 3
    assert (Event.objects.count(), Membership.objects.count(), Identity.objects.count()) == (
        events,
        memberships,
        identities,
    )
    assert not SuppressedUser.objects.exists()


def test_deleting_a_member_lowers_the_member_count(api, send, company):
    send.batch(
        {"type": "group", "userId": "keep", "groupId": "acme"},
        {"type": "group", "userId": "staff", "groupId": "acme"},
    )
    api.delete("people/staff")
    assert Group.objects.get(key="acme").member_count == 1


def test_deleting_a_person_deletes_their_refused_calls(api, send, workspace):
    send.batch({"type": "track", "userId": "staff", "messageId": "no-event"})
    send.batch({"type": "track", "userId": "staff", "event": "E", "context": {"groups": {"planet": "x"}}})
    send.batch({"type": "track", "userId": "other", "messageId": "other-no-event"})
    assert IngestionProblem.objects.count() == 3
    api.delete("people/staff")
    assert list(IngestionProblem.objects.values_list("message_id", flat=True)) == ["other-no-event"]


def test_calls_of_a_blocked_user_are_counted_but_not_kept(api, send, workspace):
    send.batch({"type": "identify", "userId": "staff", "traits": {"email": "me@staff.io"}})
    api.delete("people/staff", suppress="true")
    send.batch({"type": "identify", "userId": "staff", "traits": {"email": "me@staff.io"}})
    problem = IngestionProblem.objects.get()
    assert problem.reason == "user 'staff' was deleted and is blocked"
    assert problem.payload == ""
