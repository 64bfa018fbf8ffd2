"""On PostgreSQL, a batch costs a fixed number of queries, whatever its size."""

import pytest
from conftest import Sender
from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.models import Workspace

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite (the development database) splits bulk inserts at its parameter limit",
)


def batch_of(n, offset=0):
    return [
        {
            "type": "track",
            "userId": f"u{i % 40}",
            "event": "Feature Used",
            "messageId": f"m{offset + i}",
            "context": {"groups": {"company": f"c{i % 25}", "team": f"t{i % 9}"}},
        }
        for i in range(n)
    ] + [
        {"type": "group", "userId": f"u{i}", "groupId": f"c{i}", "traits": {"n": i}, "messageId": f"g{offset + i}"}
        for i in range(n // 10)
    ] + [
        {"type": "identify", "userId": f"u{i}", "traits": {"n": i}, "messageId": f"i{offset + i}"}
        for i in range(n // 10)
    ]


def queries_for(send, calls):
    with CaptureQueriesContext(connection) as queries:
        response = send.batch(*calls)
    assert response.status_code == 200, response.json()
    return len(queries)


def test_batch_queries_do_not_grow_with_its_size(send, company, team):
    send.batch(*batch_of(400, offset=10_000))  # people and groups exist already
    small = queries_for(send, batch_of(20))
    large = queries_for(send, batch_of(400, offset=1000))
    # 18 to take the batch in (2 of them the groups' activity: the people's moments, then
    # the groups'; 1 the names of the events seen; 1 the people's days of activity), and 2
    # for the limits: wrong keys from the address, the budget
    assert small == large == 18 + 2


def test_batch_creating_people_and_groups_is_fixed_too(send, workspace, alice):
    fresh, _ = Workspace.create(name="Fresh", owner=alice, group_types=("company", "team"))
    small = queries_for(send, batch_of(20))
    large = queries_for(Sender(send.client, fresh), batch_of(400))
    assert small == large
