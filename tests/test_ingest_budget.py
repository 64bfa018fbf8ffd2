"""A workspace may send so many calls a minute; past that, 429 until the minute ends."""

from datetime import timedelta

import pytest
from segment.analytics import Client
from segment.analytics import request as segment_request

from analytics.models import Event, RateCounter
from conftest import end_the_window


def tracks(n, offset=0):
    return [
        {"type": "track", "userId": "u1", "event": "Used", "messageId": f"m{offset + i}"}
        for i in range(n)
    ]


@pytest.fixture
def budget(settings):
    settings.INGEST_CALL_BUDGET = 10
    return 10


def test_calls_within_the_budget_are_stored(send, budget):
    assert send.batch(*tracks(6)).status_code == 200
    assert send.batch(*tracks(4, offset=6)).status_code == 200
    assert Event.objects.count() == 10


def test_past_the_budget_a_request_is_429_and_stores_nothing(send, budget):
    send.batch(*tracks(budget))
    response = send.batch(*tracks(3, offset=100))
    assert response.status_code == 429
    assert response.json() == {
        "success": False,
        "code": "rate_limited",
        "message": "this workspace sent its 10 calls for the minute; nothing of this request "
        f"was stored: send it again in {response['Retry-After']} seconds (Retry-After)",
    }
    assert 1 <= int(response["Retry-After"]) <= 60
    assert Event.objects.count() == budget
    single = send.post("track", {"userId": "u1", "event": "One more"})
    assert single.status_code == 429


def test_a_refused_request_is_not_counted_and_succeeds_when_retried(send, budget, settings):
    send.batch(*tracks(budget))
    for _ in range(3):
        assert send.batch(*tracks(5, offset=100)).status_code == 429
    assert RateCounter.objects.get().spent == budget
    end_the_window(settings.INGEST_BUDGET_WINDOW)
    response = send.batch(*tracks(5, offset=100))
    assert response.status_code == 200
    assert response.json()["stored"] == 5
    assert RateCounter.objects.get().spent == 5


def test_a_batch_larger_than_the_budget_gets_in_when_the_minute_starts(send, budget, settings):
    # Refusing it would refuse it for ever: it is let in while the budget is not spent.
    assert send.batch(*tracks(budget * 3)).status_code == 200
    assert send.batch(*tracks(1, offset=100)).status_code == 429
    end_the_window(settings.INGEST_BUDGET_WINDOW)
    assert send.batch(*tracks(1, offset=100)).status_code == 200


def test_each_workspace_has_its_own_budget(send, charlie_send, budget):
    send.batch(*tracks(budget))
    assert send.batch(*tracks(1, offset=100)).status_code == 429
    assert charlie_send.batch(*tracks(1)).status_code == 200


def test_a_budget_of_zero_is_no_limit(send, settings):
    settings.INGEST_CALL_BUDGET = 0
    for n in range(3):
        assert send.batch(*tracks(2_500, offset=n * 2_500)).status_code == 200


def test_segment_library_told_429_retries_and_delivers_every_call_once(
    live_server, transactional_db, workspace, settings
):
    """The real Segment library, against a budget of 20 calls a second, sends 100 calls."""
    settings.INGEST_CALL_BUDGET = 20
    settings.INGEST_BUDGET_WINDOW = timedelta(seconds=1)
    statuses = []
    session_hooks = segment_request._session.hooks["response"]
    session_hooks.append(lambda response, *args, **kwargs: statuses.append(response.status_code))
    errors = []
    segment = Client(
        workspace.write_key, host=live_server.url, upload_size=25, max_retries=0,
        on_error=lambda error, batch: errors.append(error),
    )
    try:
        for n in range(100):
            segment.track(f"user-{n % 7}", "Feature Used", {"n": n})
        segment.flush()
    finally:
        segment.shutdown()
        session_hooks.clear()
        segment_request._session.close()
    assert not errors
    assert 429 in statuses and statuses[-1] == 200
    numbers = Event.objects.filter(workspace=workspace).values_list("properties__n", flat=True)
    assert sorted(numbers) == list(range(100))
