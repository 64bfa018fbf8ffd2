"""Batches for the same people and groups, posted at the same time to a live server,
as several gunicorn workers would take them: every call is stored once, no person or
group is made twice, no trait or member count is lost to a concurrent update, and a
person deleted meanwhile does not come back."""

import base64
import json
import threading
import urllib.error
import urllib.request
from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone

from analytics.ingestion.calls import parse_call
from analytics.ingestion.store import Conflict, store_calls
from analytics.models import Event, Group, Membership, Person, SuppressedUser

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite takes one writer at a time: there is nothing concurrent to test",
)

SENDERS = 4
BATCHES = 6
USERS = 12


def batch(sender, number):
    """Calls for every user: a trait of this sender's own, a group call and tracks."""
    calls = []
    for n in range(USERS):
        user = f"u{n}"
        calls.append({"type": "identify", "userId": user, "traits": {f"from_{sender}": number}})
        calls.append({"type": "group", "userId": user, "groupId": f"c{n % 3}",
                      "traits": {f"seen_by_{sender}": True}})
        calls.append({"type": "group", "userId": user, "groupId": f"new-{number}",
                      "context": {"groupType": "team"}})
        calls += [
            {"type": "track", "userId": user, "event": "Report Viewed",
             "context": {"groupId": f"c{n % 3}"}, "properties": {"sender": sender}}
            for _ in range(3)
        ]
    for index, call in enumerate(calls):
        call["messageId"] = f"{sender}-{number}-{index}"
    return calls


def test_concurrent_batches_for_the_same_people_lose_nothing(live_server, transactional_db, workspace):
    auth = base64.b64encode(f"{workspace.write_key}:".encode()).decode()
    start, answers = threading.Barrier(SENDERS), []

    def send(sender):
        start.wait()
        for number in range(BATCHES):
            request = urllib.request.Request(
                f"{live_server.url}/v1/batch",
                data=json.dumps({"batch": batch(sender, number)}).encode(),
                headers={"Content-Type": "application/json", "Authorization": f"Basic {auth}"},
            )
            with urllib.request.urlopen(request, timeout=60) as response:
                answers.append((response.status, json.load(response)))

    threads = [threading.Thread(target=send, args=(sender,)) for sender in range(SENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    calls = SENDERS * BATCHES * USERS * 6
    assert len(answers) == SENDERS * BATCHES
    assert all(status == 200 and answer["stored"] == USERS * 6 for status, answer in answers)
    assert Event.objects.for_workspace(workspace).count() == calls
    people = Person.objects.filter(workspace=workspace)
    assert people.count() == USERS
    for person in people:
        # Each sender's last identify merged its own trait in: none overwrote another's.
        assert {k: v for k, v in person.traits.items() if k.startswith("from_")} == {
            f"from_{sender}": BATCHES - 1 for sender in range(SENDERS)
        }
    companies = Group.objects.filter(workspace=workspace, group_type__name="company")
    assert sorted(companies.values_list("key", flat=True)) == ["c0", "c1", "c2"]
    for company in companies:
        assert {k for k in company.properties if k.startswith("seen_by_")} == {
            f"seen_by_{sender}" for sender in range(SENDERS)
        }
    teams = Group.objects.filter(workspace=workspace, group_type__name="team")
    assert teams.count() == BATCHES
    # One open membership per person and group, and counts that match them.
    open_memberships = Membership.objects.filter(workspace=workspace, ended_at=None)
    assert open_memberships.count() == USERS * (1 + BATCHES)
    counted = Counter(open_memberships.values_list("group_id", flat=True))
    for group in Group.objects.filter(workspace=workspace):
        assert group.member_count == counted[group.pk], group.key


def test_deleting_a_person_while_their_calls_arrive_leaves_nothing_half_done(
    live_server, transactional_db, workspace
):
    """Calls for a user keep coming while an admin deletes (and blocks) them: each of
    their calls ends up either deleted with them or refused, none stays behind, and the
    other user's calls in the same batches are all stored."""
    auth = base64.b64encode(f"{workspace.write_key}:".encode()).decode()

    def post(path, body=None, method="POST", headers=None):
        request = urllib.request.Request(
            f"{live_server.url}{path}", data=body, method=method, headers=headers or {}
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as error:
            return error.code, json.load(error)

    def send(calls):
        return post(
            "/v1/batch",
            json.dumps({"batch": calls}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Basic {auth}"},
        )

    def calls(sender, number):
        return [
            {"type": "track", "userId": user, "event": "Report Viewed",
             "messageId": f"{sender}-{number}-{user}-{n}"}
            for user in ("staff", "ann") for n in range(10)
        ]

    assert send([{"type": "identify", "userId": "staff", "traits": {"email": "s@groupsite.dev"}}])[0] == 200
    answers, started = [], threading.Barrier(SENDERS + 1)

    def keep_sending(sender):
        started.wait()
        for number in range(BATCHES * 3):
            answers.append(send(calls(sender, number)))

    threads = [threading.Thread(target=keep_sending, args=(sender,)) for sender in range(SENDERS)]
    for thread in threads:
        thread.start()
    started.wait()
    while len(answers) < SENDERS * 2:  # some calls are in before the deletion
        threading.Event().wait(0.01)
    status, deleted = post(
        "/api/v1/people/staff?suppress=true",
        method="DELETE",
        headers={"Authorization": f"Bearer {workspace.secret_key}"},
    )
    for thread in threads:
        thread.join()

    assert status == 200, deleted
    assert all(status in (200, 400) for status, _ in answers), answers
    refused = [r for _, answer in answers for r in answer.get("rejected", [])]
    assert all("deleted and is blocked" in r["error"] for r in refused)
    sent_per_user = len(answers) * 10
    # 1 identify + every track for staff: deleted with them, or refused after.
    assert deleted["events"] + len(refused) == 1 + sent_per_user
    assert not Event.objects.filter(workspace=workspace, user_id="staff").exists()
    assert not Person.objects.filter(workspace=workspace, user_id="staff").exists()
    assert Event.objects.filter(workspace=workspace, user_id="ann").count() == sent_per_user
    assert sum(answer["stored"] for _, answer in answers) == sent_per_user + (deleted["events"] - 1)


@pytest.mark.django_db
def test_a_batch_that_would_bring_a_blocked_user_back_starts_over(workspace):
    # The interleaving the test above may or may not meet: the batch checked for blocked
    # ids before the deletion committed, and looks the person up after it.
    now = timezone.now()
    SuppressedUser.objects.create(workspace=workspace, user_id="staff")
    call = parse_call({"type": "track", "userId": "staff", "event": "E"}, 0, received_at=now)
    with pytest.raises(Conflict):
        store_calls(workspace, [call], received_at=now)
    assert not Person.objects.filter(workspace=workspace).exists()


ROUNDS = 20


def post_together(live_server, workspace, batches):
    """Posts each batch from its own thread at the same moment; returns (status, answer)s."""
    auth = base64.b64encode(f"{workspace.write_key}:".encode()).decode()
    start, answers = threading.Barrier(len(batches)), []

    def send(calls):
        request = urllib.request.Request(
            f"{live_server.url}/v1/batch",
            data=json.dumps({"batch": calls}).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Basic {auth}"},
        )
        start.wait()
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                answers.append((response.status, json.load(response)))
        except urllib.error.HTTPError as error:
            answers.append((error.code, error.read().decode()))

    threads = [threading.Thread(target=send, args=(calls,)) for calls in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_identical_batches_sent_at_the_same_moment_are_stored_once(live_server, transactional_db, workspace):
    for number in range(ROUNDS):
        calls = [
            {"type": "track", "userId": f"u{n}", "event": "E", "messageId": f"{number}-{n}"}
            for n in range(20)
        ]
        answers = post_together(live_server, workspace, [calls, calls])
        assert [status for status, _ in answers] == [200, 200], answers
        assert sum(answer["stored"] for _, answer in answers) == 20
        assert sum(answer["duplicates"] for _, answer in answers) == 20
    assert Event.objects.for_workspace(workspace).count() == ROUNDS * 20
    assert Person.objects.filter(workspace=workspace).count() == 20


def test_batches_introducing_the_same_new_user_at_once_make_one_person(
    live_server, transactional_db, workspace
):
    for number in range(ROUNDS):
        user = f"new-{number}"
        batches = [
            [{"type": "identify", "userId": user, "traits": {f"from_{sender}": True},
              "messageId": f"{number}-{sender}-identify"},
             {"type": "track", "userId": user, "event": "Signed Up",
              "messageId": f"{number}-{sender}-track"}]
            for sender in range(2)
        ]
        answers = post_together(live_server, workspace, batches)
        assert [(status, answer["stored"]) for status, answer in answers] == [(200, 2), (200, 2)], answers
        person = Person.objects.get(workspace=workspace, user_id=user)
        assert person.traits == {"from_0": True, "from_1": True}
        assert person.events.count() == 4


def test_overlapping_batches_sent_at_the_same_moment_store_each_call_once(
    live_server, transactional_db, workspace
):
    for number in range(ROUNDS):
        def calls(first):
            return [
                {"type": "track", "userId": f"u{n % 7}", "event": "E", "messageId": f"{number}-{n}"}
                for n in range(first, first + 20)
            ]

        answers = post_together(live_server, workspace, [calls(0), calls(10), calls(5)])
        assert [status for status, _ in answers] == [200, 200, 200], answers
        assert sum(answer["stored"] for _, answer in answers) == 30
        assert sum(answer["duplicates"] for _, answer in answers) == 30
    assert Event.objects.for_workspace(workspace).count() == ROUNDS * 30
