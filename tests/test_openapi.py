"""The OpenAPI description: served without a key, valid OpenAPI 3.1, describing every URL
of both APIs with the methods they take, and every answer they give as described: each
error status below is provoked for real and held to its documented shape and headers.

The fuzzing of every operation against the description is in test_api_conformance.py.
"""

import base64
import copy
import gzip
import json
import re

import pytest
import requests
import schemathesis
from django.urls import URLPattern, get_resolver

from analytics.ingestion import BATCH_MAX_CALLS
from analytics.openapi import SPEC

DESCRIBED = schemathesis.openapi.from_dict(copy.deepcopy(SPEC))
METHODS = ("get", "post", "put", "patch", "delete")


def test_the_description_is_served_to_anyone(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert response.json() == {**SPEC, "servers": [{"url": "http://testserver"}]}


def test_the_description_is_valid_openapi_3_1():
    DESCRIBED.validate()  # against the OpenAPI 3.1 meta-schema
    assert SPEC["openapi"] == "3.1.0"


def references(node):
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for value in node:
            yield from references(value)


def test_every_reference_leads_somewhere_and_every_component_is_used():
    used = set(references(SPEC))
    for pointer in used:
        node = SPEC
        for part in pointer.removeprefix("#/").split("/"):
            assert part in node, f"{pointer} leads nowhere"
            node = node[part]
    for kind, components in SPEC["components"].items():
        if kind != "securitySchemes":
            for name in components:
                assert f"#/components/{kind}/{name}" in used, f"{kind}/{name} is never used"


def api_routes():
    """OpenAPI paths of the URL patterns of both APIs, as the resolver has them."""
    for pattern in get_resolver().url_patterns:
        for entry in getattr(pattern, "url_patterns", [pattern]):
            if isinstance(entry, URLPattern) and entry.name and (
                entry.name == "ingest" or entry.name.startswith("api-")
            ):
                route = str(entry.pattern)
                if entry.name == "ingest":
                    calls = re.search(r"\(\?P<call_type>([a-z|]+)\)", route).group(1)
                    yield from (f"/v1/{call}" for call in calls.split("|"))
                else:
                    yield "/" + re.sub(r"<(?:\w+:)?(\w+)>", "{}", route)


def test_every_api_url_is_described_and_nothing_else():
    described = {re.sub(r"\{\w+\}", "{}", path) for path in SPEC["paths"]}
    assert described == set(api_routes())


@pytest.fixture
def data(send, company, team):
    """user-42 (ann@acme.io) in acme, as in the description's examples; a refused call, so
    that there is an ingestion problem."""
    response = send.batch(
        {"type": "identify", "userId": "user-42", "traits": {"email": "ann@acme.io"}},
        {"type": "group", "userId": "user-42", "groupId": "acme"},
        {"type": "track", "userId": "user-42", "event": "Report Viewed"},
        {"type": "track", "userId": "user-42"},
    )
    assert response.status_code == 400


def example_path(path):
    """A described path with its parameters' examples filled in."""
    for method in SPEC["paths"][path].values():
        for parameter in method.get("parameters", []):
            if parameter["in"] == "path":
                path = path.replace(f"{{{parameter['name']}}}", parameter["example"])
    return path


def example_query(operation):
    """The operation's required query parameters, from their examples, and a dry run."""
    query = {
        parameter["name"]: parameter["example"]
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "query" and parameter.get("required")
    }
    if any(parameter["name"] == "dry_run" for parameter in operation.get("parameters", [])):
        query["dry_run"] = "true"
    return query


@pytest.mark.parametrize(
    "path, method",
    [(path, method) for path in SPEC["paths"] for method in METHODS],
    ids=lambda value: value.replace("/api/v1/", "").replace("/v1/", "v1-"),
)
def test_each_path_takes_the_methods_described_and_no_other(client, workspace, data, path, method):
    described = SPEC["paths"][path]
    operation = described.get(method, next(iter(described.values())))
    if path.startswith("/v1/"):
        headers = basic(workspace.write_key)
        body = operation["requestBody"]["content"]["application/json"]["example"]
    else:
        headers, body = bearer(workspace.secret_key), None
    response = client.generic(
        method.upper(),
        example_path(path),
        data=json.dumps(body) if body else "",
        content_type="application/json",
        headers=headers,
        query_params=example_query(operation),
    )
    if method in described:
        assert response.status_code == 200, response.content[:300]
    else:
        assert response.status_code == 405
        allowed = {m.strip().lower() for m in response["Allow"].split(",")}
        assert set(described) <= allowed <= set(described) | {"options", "head"}


# --- each documented answer, provoked --------------------------------------------


def described_answer(operation, response):
    """Fails unless the response is one the description documents for the operation."""
    definition = SPEC["paths"][operation.path][operation.method.lower()]["responses"]
    status = str(response.status_code)
    assert status in definition, f"{status} is not described for {operation.label}"
    described = definition[status]
    if "$ref" in described:
        described = SPEC["components"]["responses"][described["$ref"].rpartition("/")[2]]
    assert response.headers["Content-Type"] == "application/json", response.text[:300]
    for header in described.get("headers", {}):
        assert header in response.headers, f"{status} without its {header} header"
    operation.validate_response(response)  # the body, against the schema for the status
    return response.json()


def basic(key):
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def bearer(key):
    return {"Authorization": f"Bearer {key}"}


# Each: (operation, path, what to send as keyword arguments of requests.request,
# the status expected, the error code or, for 200 and refused calls, a key of the body).
# "{wk}" and "{sk}" stand for the workspace's write and secret keys.
ANSWERS = {
    "track stored": ("POST /v1/track", "/v1/track",
                     {"json": {"userId": "user-42", "event": "Seen"}, "auth": "wk"}, 200, "stored"),
    "track with a warning": (
        "POST /v1/track", "/v1/track",
        {"json": {"userId": "user-42", "event": "Seen", "context": {"groups": {"nope": "x"}}},
         "auth": "wk"},
        200, "warnings"),
    "a call refused": ("POST /v1/track", "/v1/track", {"json": {"userId": "user-42"}, "auth": "wk"},
                       400, "rejected"),
    "a batch partly refused": (
        "POST /v1/batch", "/v1/batch",
        {"json": {"batch": [{"type": "track", "userId": "user-42", "event": "Seen"},
                            {"type": "track", "userId": "user-42"}]}, "auth": "wk"},
        400, "rejected"),
    "not JSON": ("POST /v1/track", "/v1/track", {"data": b"{", "auth": "wk"}, 400,
                 "invalid_request"),
    "a NUL byte for a body": ("POST /v1/track", "/v1/track", {"data": b"\x00", "auth": "wk"},
                              400, "invalid_request"),
    "no write key": ("POST /v1/track", "/v1/track", {"json": {"userId": "user-42", "event": "Seen"}},
                     401, "unauthorized"),
    "the secret key as a write key": (
        "POST /v1/track", "/v1/track", {"json": {"userId": "user-42", "event": "Seen"}, "auth": "sk"},
        401, "unauthorized"),
    "a GET of the tracking API": ("POST /v1/track", "/v1/track", {"method": "GET", "auth": "wk"},
                                  405, "method_not_allowed"),
    "too many calls": (
        "POST /v1/batch", "/v1/batch",
        {"json": {"batch": [{"type": "track", "userId": "a", "event": "e"}] * (BATCH_MAX_CALLS + 1)},
         "auth": "wk"},
        413, "invalid_request"),
    "a body over 500 KB": (
        "POST /v1/batch", "/v1/batch",
        {"json": {"batch": [{"type": "track", "userId": "a", "event": "e" * 200, "messageId": str(n)}
                            for n in range(2400)]}, "auth": "wk"},
        413, "invalid_request"),
    "Content-Encoding br": ("POST /v1/track", "/v1/track",
                            {"data": b"{}", "auth": "wk", "headers": {"Content-Encoding": "br"}},
                            415, "invalid_request"),
    "people": ("GET /api/v1/people", "/api/v1/people", {"auth": "sk"}, 200, "results"),
    "a group": ("GET /api/v1/groups/{type}/{key}", "/api/v1/groups/company/acme", {"auth": "sk"},
                200, "members"),
    "events": ("GET /api/v1/events", "/api/v1/events", {"auth": "sk"}, 200, "results"),
    "ingestion problems": ("GET /api/v1/ingestion-problems", "/api/v1/ingestion-problems",
                           {"auth": "sk"}, 200, "totals"),
    "a dry run": ("DELETE /api/v1/people/{user_id}", "/api/v1/people/user-42?dry_run=true",
                  {"auth": "sk"}, 200, "by_type"),
    "deleting by domain": ("DELETE /api/v1/people", "/api/v1/people?email_domain=acme.io",
                           {"auth": "sk"}, 200, "totals"),
    "no secret key": ("GET /api/v1/people", "/api/v1/people", {}, 401, "unauthorized"),
    "the write key as a secret key": ("GET /api/v1/people", "/api/v1/people",
                                      {"headers": bearer("{wk}")}, 401, "unauthorized"),
    "a page that is not there": ("GET /api/v1/people", "/api/v1/people?page=9", {"auth": "sk"},
                                 400, "invalid_request"),
    "a bad filter": ("GET /api/v1/events", "/api/v1/events?type=click", {"auth": "sk"}, 400,
                     "invalid_request"),
    "a NUL in a filter": ("GET /api/v1/events", "/api/v1/events?name=%00", {"auth": "sk"}, 400,
                          "invalid_request"),
    "deleting everyone": ("DELETE /api/v1/people", "/api/v1/people", {"auth": "sk"}, 400,
                          "invalid_request"),
    "an unknown person": ("GET /api/v1/people/{user_id}", "/api/v1/people/nobody",
                          {"auth": "sk"}, 404, "not_found"),
    "an unknown group type": ("GET /api/v1/groups/{type}", "/api/v1/groups/planet",
                              {"auth": "sk"}, 404, "not_found"),
    "a type name that cannot be one": ("GET /api/v1/groups/{type}", "/api/v1/groups/pl%C3%A4net",
                                       {"auth": "sk"}, 404, "not_found"),
    "a POST to the read API": ("GET /api/v1/events", "/api/v1/events",
                               {"method": "POST", "auth": "sk"}, 405, "method_not_allowed"),
}


@pytest.mark.parametrize("case", ANSWERS)
def test_each_answer_is_as_described(live_server, transactional_db, workspace, data, case):
    label, path, options, status, expected = ANSWERS[case]
    options = dict(options)
    operation = DESCRIBED[label.split(" ", 1)[1]][label.split(" ", 1)[0]]
    keys = {"wk": workspace.write_key, "sk": workspace.secret_key}
    headers = {
        name: value.format(**keys) for name, value in options.pop("headers", {}).items()
    }
    if auth := options.pop("auth", None):
        headers.update(basic(keys[auth]) if label.startswith("POST /v1/") else bearer(keys[auth]))
    method = options.pop("method", label.split(" ")[0])
    response = requests.request(
        method, live_server.url + path, headers=headers, timeout=30, **options
    )
    assert response.status_code == status, response.text[:300]
    body = described_answer(operation, response)
    assert expected in body or expected in (body.get("error"), body.get("code")), body


def test_a_gzip_body_is_read(live_server, transactional_db, workspace, data):
    body = gzip.compress(json.dumps({"userId": "user-42", "event": "Zipped"}).encode())
    response = requests.post(
        f"{live_server.url}/v1/track",
        data=body,
        headers={**basic(workspace.write_key), "Content-Encoding": "gzip"},
        timeout=30,
    )
    assert described_answer(DESCRIBED["/v1/track"]["POST"], response)["stored"] == 1
