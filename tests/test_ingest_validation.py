"""Bad input gets a clear error, and nothing valid is lost."""

import gzip
import json

import orjson
from calls import numbered_track

from analytics.ingestion import BATCH_MAX_CALLS
from analytics.models import Event, IngestionProblem


def test_batch_keeps_valid_calls_and_names_each_refused_one(send, workspace):
    response = send.batch(
        numbered_track(1),
        {"type": "track", "userId": "u1", "messageId": "no-event"},
        {"type": "group", "userId": "u1", "messageId": "no-group-id"},
        {"type": "track", "event": "Anonymous?", "messageId": "no-ids"},
        numbered_track(2),
    )
    assert response.status_code == 400
    body = response.json()
    assert body["stored"] == 2
    assert body["message"] == body["error"]  # what Segment's libraries log
    assert [(r["index"], r["messageId"]) for r in body["rejected"]] == [
        (1, "no-event"), (2, "no-group-id"), (3, "no-ids"),
    ]
    reasons = [r["error"] for r in body["rejected"]]
    assert reasons[0] == "missing 'event'"
    assert reasons[1] == "missing 'groupId'"
    assert reasons[2] == "a call needs a 'userId' or an 'anonymousId'"
    assert set(Event.objects.values_list("message_id", flat=True)) == {"m1", "m2"}


def test_refused_calls_are_kept_visible_to_the_workspace(send, workspace):
    send.batch(numbered_track(1), {"type": "track", "userId": "u1", "messageId": "bad"})
    problem = IngestionProblem.objects.get(workspace=workspace)
    assert problem.level == IngestionProblem.Level.REJECTED
    assert problem.message_id == "bad"
    assert problem.reason == "missing 'event'"
    assert json.loads(problem.payload)["messageId"] == "bad"


def test_unknown_call_type_is_refused(send, workspace):
    response = send.batch({"type": "purchase", "userId": "u1"})
    assert response.status_code == 400
    assert "unknown call type 'purchase'" in response.json()["rejected"][0]["error"]


def test_malformed_json_is_refused_and_recorded(send, workspace):
    response = send.post("batch", b'{"batch": [')
    assert response.status_code == 400
    assert response.json()["message"].startswith("the body is not valid JSON")
    assert IngestionProblem.objects.filter(workspace=workspace, reason__contains="JSON").exists()


def test_body_must_be_an_object(send):
    response = send.post("track", b"[1, 2]")
    assert response.status_code == 400
    assert response.json()["message"] == "the body must be a JSON object"


def test_properties_must_be_an_object(send):
    response = send.post("track", {"userId": "u1", "event": "E", "properties": ["a"]})
    assert response.status_code == 400
    assert response.json()["rejected"][0]["error"] == "'properties' must be a JSON object, not an array"


def test_ids_must_be_strings_or_numbers(send):
    response = send.post("identify", {"userId": {"id": 1}})
    assert response.json()["rejected"][0]["error"] == "'userId' must be a string, not an object"
    response = send.post("identify", {"userId": 42, "messageId": "numeric"})
    assert response.status_code == 200
    assert Event.objects.get(message_id="numeric").user_id == "42"


def test_bad_timestamp_is_refused(send):
    response = send.post("track", {"userId": "u1", "event": "E", "timestamp": "yesterday"})
    assert response.json()["rejected"][0]["error"] == "'timestamp' is not an ISO-8601 date: 'yesterday'"


def test_call_over_32_kb_is_refused_but_its_batch_is_stored(send, workspace):
    big = numbered_track(2, properties={"blob": "x" * (32 * 1024)})
    response = send.batch(numbered_track(1), big, numbered_track(3))
    body = response.json()
    assert body["stored"] == 2
    assert body["rejected"][0]["index"] == 1
    assert "a call may be at most 32 KB" in body["rejected"][0]["error"]


def call_of(size):
    """A track call of exactly ``size`` bytes, measured as the server measures a call."""
    call = numbered_track(1, properties={"blob": ""})
    call["properties"]["blob"] = "x" * (size - len(orjson.dumps(call)))
    assert len(orjson.dumps(call)) == size
    return call


def test_call_of_exactly_32_kb_is_stored(send):
    response = send.batch(call_of(32 * 1024))
    assert response.status_code == 200
    assert len(Event.objects.get(message_id="m1").properties["blob"]) > 32_000


def test_call_one_byte_over_32_kb_is_refused(send, workspace):
    response = send.batch(call_of(32 * 1024 + 1))
    assert response.status_code == 400
    body = response.json()
    assert body["stored"] == 0
    assert body["rejected"] == [
        {"index": 0, "messageId": "m1", "type": "track",
         "error": "the call is 32,769 bytes; a call may be at most 32 KB"}
    ]
    assert not Event.objects.filter(workspace=workspace).exists()


def test_the_batch_context_counts_in_the_32_kb_of_each_call(send, workspace):
    # The batch's context is stored with each of its calls: left out of the count, each
    # call as stored could be as large as the whole request.
    context = {"page": {"title": "x" * (20 * 1024)}}
    big = numbered_track(2, properties={"blob": "y" * (15 * 1024)})
    response = send.post("batch", {"context": context, "batch": [numbered_track(1), big]})
    body = response.json()
    assert response.status_code == 400, body
    assert body["stored"] == 1
    size = len(orjson.dumps({**big, "context": context}))
    assert [(item["index"], item["error"]) for item in body["rejected"]] == [
        (1, f"the call is {size:,} bytes with the batch's context; a call may be at most 32 KB")
    ]
    assert Event.objects.get(workspace=workspace).context == context


def test_batch_over_500_kb_is_refused_whole_and_counted(send, workspace):
    calls = [numbered_track(n, properties={"blob": "x" * 20_000}) for n in range(30)]
    response = send.batch(*calls)
    assert response.status_code == 413
    assert "500 KB" in response.json()["message"]
    assert Event.objects.count() == 0
    problem = IngestionProblem.objects.get(workspace=workspace)
    assert problem.call_count == 30


def test_batch_over_2500_calls_is_refused_with_how_many(send, workspace):
    calls = [{"type": "track", "userId": "u", "event": "E"} for _ in range(BATCH_MAX_CALLS + 1)]
    response = send.batch(*calls)
    assert response.status_code == 413
    assert response.json()["message"] == (
        "the batch has 2,501 calls; a batch may hold at most 2,500, so split it"
    )
    assert IngestionProblem.objects.get(workspace=workspace).call_count == 2501


def test_batch_of_2500_calls_is_stored(send):
    calls = [{"type": "track", "userId": f"u{n % 50}", "event": "E"} for n in range(BATCH_MAX_CALLS)]
    response = send.batch(*calls)
    assert response.status_code == 200, response.json()
    assert Event.objects.count() == BATCH_MAX_CALLS


def test_gzip_body_is_accepted(send):
    body = gzip.compress(json.dumps({"batch": [numbered_track(1), numbered_track(2)]}).encode())
    response = send.post("batch", body, content_encoding="gzip")
    assert response.status_code == 200, response.content
    assert Event.objects.count() == 2


def test_gzip_bomb_is_cut_at_the_batch_limit(send):
    body = gzip.compress(b'{"batch": ["' + b" " * 5_000_000 + b'"]}')
    assert len(body) < 100_000
    response = send.post("batch", body, content_encoding="gzip")
    assert response.status_code == 413


def test_broken_gzip_is_refused(send):
    response = send.post("batch", b"not gzip at all", content_encoding="gzip")
    assert response.status_code == 400
    assert "gzip" in response.json()["message"]


def test_get_is_not_allowed(client):
    response = client.get("/v1/track")
    assert response.status_code == 405
    assert response["Allow"] == "POST, OPTIONS"


def test_absurdly_nested_json_is_refused(send):
    response = send.post("batch", ("[" * 100_000 + "]" * 100_000).encode())
    assert response.status_code == 400
    assert response.json()["message"].startswith("the body is not valid JSON: depth limit exceeded")
