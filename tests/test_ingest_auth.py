import json

import pytest
from django.db import connection

from analytics.models import Event, IngestionProblem


def test_write_key_as_basic_auth_username(send, workspace):
    assert send.post("track", {"userId": "u1", "event": "E"}).status_code == 200
    assert Event.objects.filter(workspace=workspace).count() == 1


def test_write_key_in_the_body(client, workspace):
    response = client.post(
        "/v1/batch",
        json.dumps({"writeKey": workspace.write_key, "batch": [{"type": "track", "userId": "u", "event": "E"}]}),
        content_type="text/plain",  # what sendBeacon sends
    )
    assert response.status_code == 200
    assert Event.objects.filter(workspace=workspace).count() == 1


def test_an_oversized_batch_with_the_write_key_in_the_body_is_counted(client, workspace):
    calls = [{"type": "track", "userId": "u", "event": "E", "properties": {"blob": "x" * 20_000}}] * 30
    response = client.post(
        "/v1/batch", json.dumps({"writeKey": workspace.write_key, "batch": calls}), content_type="text/plain"
    )
    assert response.status_code == 413
    problem = IngestionProblem.objects.get(workspace=workspace)
    assert problem.call_count == 30 and "500 KB" in problem.reason


def test_an_oversized_batch_without_a_known_key_is_unauthorized(client, workspace):
    calls = [{"type": "track", "userId": "u", "event": "E", "properties": {"blob": "x" * 20_000}}] * 30
    response = client.post(
        "/v1/batch", json.dumps({"writeKey": "wk_wrong", "batch": calls}), content_type="text/plain"
    )
    assert response.status_code == 401
    assert not IngestionProblem.objects.exists()


def test_wrong_write_key_is_refused(send):
    response = send.post("track", {"userId": "u1", "event": "E"}, key="wk_wrong")
    assert response.status_code == 401
    assert response.json() == {"success": False, "code": "unauthorized", "message": "unknown write key"}
    assert Event.objects.count() == 0


@pytest.mark.parametrize("where", ["basic auth", "body"])
def test_a_write_key_with_a_nul_character_is_unknown(send, client, workspace, where):
    # PostgreSQL cannot compare text holding NUL: looking such a key up failed the request.
    key = workspace.write_key + "\x00"
    call = {"userId": "u1", "event": "E"}
    if where == "basic auth":
        response = send.post("track", call, key=key)
    else:
        response = client.post("/v1/track", json.dumps({**call, "writeKey": key}), content_type="text/plain")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert not Event.objects.exists()


def test_missing_write_key_is_refused(client, workspace):
    response = client.post("/v1/track", json.dumps({"userId": "u", "event": "E"}), content_type="application/json")
    assert response.status_code == 401
    assert "write key" in response.json()["message"]


def test_secret_key_does_not_send_events(send, workspace):
    response = send.post("track", {"userId": "u1", "event": "E"}, key=workspace.secret_key)
    assert response.status_code == 401


def test_calls_land_in_the_write_keys_workspace_only(send, workspace, other_workspace):
    send.post("track", {"userId": "u1", "event": "E"}, key=other_workspace.write_key)
    assert Event.objects.filter(workspace=other_workspace).count() == 1
    assert Event.objects.filter(workspace=workspace).count() == 0


def test_browsers_may_send_events_from_any_origin(client):
    response = client.options("/v1/batch", headers={"Origin": "https://app.example.com"})
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "Content-Type" in response["Access-Control-Allow-Headers"]


def test_a_server_failure_keeps_the_cors_headers(client, workspace, refuse_inserts):
    refuse_inserts("analytics_person")
    response = client.post(
        "/v1/track",
        json.dumps({"writeKey": workspace.write_key, "userId": "u1", "event": "E"}),
        content_type="text/plain",
    )
    # PostgreSQL reports the trigger's refusal as an error (500); SQLite as a constraint
    # violation, which ingestion takes for a concurrent batch's and retries, then 503.
    expected = (500, "server_error") if connection.vendor == "postgresql" else (503, "unavailable")
    assert (response.status_code, response.json()["code"]) == expected
    assert response["Access-Control-Allow-Origin"] == "*"
    assert not Event.objects.exists()
