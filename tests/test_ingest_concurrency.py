"""Batches for the same people and groups, posted at the same time to a live server,
as several gunicorn workers would take them: every call is stored once, no person or
group is made twice, and no trait or member count is lost to a concurrent update."""

import base64
import json
import threading
import urllib.request
from collections import Counter

import pytest
from django.db import connection

from analytics.models import Event, Group, Membership, Person

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
