"""The OpenAPI description: served without a key, valid OpenAPI 3.1, describing every URL
of both APIs with the methods they take, and every answer they give as described: each
error status below is provoked for real and held to its documented shape and headers.

The fuzzing of every operation against the description is in test_api_conformance.py.
"""

import copy
import gzip
import json
import re
from dataclasses import dataclass

import jsonschema_rs
import pytest
import requests
import schemathesis
from django.test import Client
from django.urls import URLPattern, get_resolver

from analytics.ingestion import BATCH_MAX_CALLS
from conftest import basic_auth, bearer_auth
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


def answer_examples():
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                content = response.get("content", {}).get("application/json", {})
                if "example" in content:
                    yield pytest.param(content, id=f"{method.upper()} {path} {status}")


@pytest.mark.parametrize("content", list(answer_examples()))
def test_each_example_answer_is_valid_under_its_schema(content):
    # The whole document is the root, so that its #/components references resolve.
    validator = jsonschema_rs.Draft202012Validator(
        {**SPEC, **content["schema"]}, validate_formats=True
    )
    assert [str(error) for error in validator.iter_errors(content["example"])] == []


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
    """The operation's query parameters that have examples, from them, and a dry run."""
    query = {
        parameter["name"]: parameter["example"]
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "query" and "example" in parameter
    }
    if any(parameter["name"] == "dry_run" for parameter in operation.get("parameters", [])):
        query["dry_run"] = "true"
    return query


@pytest.mark.parametrize(
    "path, method",
    [(path, method) for path in SPEC["paths"] for method in METHODS],
    ids=lambda value: value.replace("/api/v1/", "").replace("/v1/", "v1-"),
)
def test_each_path_takes_the_methods_described_and_no_other(workspace, data, path, method):
    # As API clients do, with no CSRF token: a view that CSRF protection guards would
    # answer its HTML 403 page instead.
    client = Client(enforce_csrf_checks=True)
    described = SPEC["paths"][path]
    operation = described.get(method, next(iter(described.values())))
    if path.startswith("/v1/"):
        headers = basic_auth(workspace.write_key)
        body = operation["requestBody"]["content"]["application/json"]["example"]
    else:
        headers, body = bearer_auth(workspace.secret_key), None
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
        assert response.status_code == 405, response.content[:300]
        assert response["Content-Type"] == "application/json"
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


@dataclass(frozen=True)
class Ask:
    """A request that provokes one answer of an operation."""

    operation: str  # as the description names it: "POST /v1/track"
    url: str
    status: int
    expect: str  # the error code; for answers that store or read, a key of the body
    key: str | None = None  # "write" or "secret": sent as the operation's API takes keys
    method: str | None = None  # another method than the operation's
    json: object = None
    data: bytes | None = None
    headers: tuple = ()


SEEN = {"userId": "user-42", "event": "Seen"}
TRACK = {"type": "track", **SEEN}
ANSWERS = {
    "track stored": Ask("POST /v1/track", "/v1/track", 200, "stored", "write", json=SEEN),
    "track with a warning": Ask(
        "POST /v1/track", "/v1/track", 200, "warnings", "write",
        json={**SEEN, "context": {"groups": {"planet": "mars"}}},
    ),
    "a call refused": Ask(
        "POST /v1/track", "/v1/track", 400, "rejected", "write", json={"userId": "user-42"}
    ),
    "a batch partly refused": Ask(
        "POST /v1/batch", "/v1/batch", 400, "rejected", "write",
        json={"batch": [TRACK, {"type": "track", "userId": "user-42"}]},
    ),
    "not JSON": Ask("POST /v1/track", "/v1/track", 400, "invalid_request", "write", data=b"{"),
    "a NUL byte for a body": Ask(
        "POST /v1/track", "/v1/track", 400, "invalid_request", "write", data=b"\x00"
    ),
    "no write key": Ask("POST /v1/track", "/v1/track", 401, "unauthorized", json=SEEN),
    "the secret key as a write key": Ask(
        "POST /v1/track", "/v1/track", 401, "unauthorized", "secret", json=SEEN
    ),
    "a GET of the tracking API": Ask(
        "POST /v1/track", "/v1/track", 405, "method_not_allowed", "write", method="GET"
    ),
    "too many calls": Ask(
        "POST /v1/batch", "/v1/batch", 413, "invalid_request", "write",
        json={"batch": [TRACK] * (BATCH_MAX_CALLS + 1)},
    ),
    "a body over 500 KB": Ask(
        "POST /v1/batch", "/v1/batch", 413, "invalid_request", "write",
        json={"batch": [{**TRACK, "event": "e" * 200, "messageId": str(n)} for n in range(2400)]},
    ),
    "Content-Encoding br": Ask(
        "POST /v1/track", "/v1/track", 415, "invalid_request", "write",
        data=b"{}", headers=(("Content-Encoding", "br"),),
    ),
    "people": Ask("GET /api/v1/people", "/api/v1/people", 200, "results", "secret"),
    "a group": Ask(
        "GET /api/v1/groups/{type}/{key}", "/api/v1/groups/company/acme", 200, "members", "secret"
    ),
    "events": Ask("GET /api/v1/events", "/api/v1/events", 200, "results", "secret"),
    "ingestion problems": Ask(
        "GET /api/v1/ingestion-problems", "/api/v1/ingestion-problems", 200, "totals", "secret"
    ),
    "a dry run": Ask(
        "DELETE /api/v1/people/{user_id}", "/api/v1/people/user-42?dry_run=true", 200, "by_type",
        "secret",
    ),
    "deleting by domain": Ask(
        "DELETE /api/v1/people", "/api/v1/people?email_domain=acme.io", 200, "totals", "secret"
    ),
    "a trend": Ask(
        "GET /api/v1/reports/trends",
        "/api/v1/reports/trends?event=Report+Viewed&count_by=company&from=2026-02-01&to=2026-02-03",
        200, "series", "secret",
    ),
    "a trend compared": Ask(
        "GET /api/v1/reports/trends", "/api/v1/reports/trends?compare=1&breakdown=report", 200,
        "previous", "secret",
    ),
    "a funnel": Ask(
        "GET /api/v1/reports/funnels", "/api/v1/reports/funnels?steps=$page,Report+Viewed", 200,
        "steps", "secret",
    ),
    "retention": Ask(
        "GET /api/v1/reports/retention", "/api/v1/reports/retention?interval=day&range=7d", 200,
        "cohorts", "secret",
    ),
    "active groups": Ask(
        "GET /api/v1/reports/active-groups", "/api/v1/reports/active-groups?type=company", 200,
        "data", "secret",
    ),
    "a report's parameter that makes no report": Ask(
        "GET /api/v1/reports/funnels", "/api/v1/reports/funnels?steps=a", 400, "invalid_request",
        "secret",
    ),
    "a report by a group type there is not": Ask(
        "GET /api/v1/reports/trends", "/api/v1/reports/trends?count_by=planet", 400,
        "invalid_request", "secret",
    ),
    "no secret key": Ask("GET /api/v1/people", "/api/v1/people", 401, "unauthorized"),
    "the write key as a secret key": Ask(
        "GET /api/v1/people", "/api/v1/people", 401, "unauthorized",
        headers=(("Authorization", "Bearer {write}"),),
    ),
    "a page that is not there": Ask(
        "GET /api/v1/people", "/api/v1/people?page=9", 400, "invalid_request", "secret"
    ),
    "a bad filter": Ask(
        "GET /api/v1/events", "/api/v1/events?type=click", 400, "invalid_request", "secret"
    ),
    "a NUL in a filter": Ask(
        "GET /api/v1/events", "/api/v1/events?name=%00", 400, "invalid_request", "secret"
    ),
    "deleting everyone": Ask(
        "DELETE /api/v1/people", "/api/v1/people", 400, "invalid_request", "secret"
    ),
    "an unknown person": Ask(
        "GET /api/v1/people/{user_id}", "/api/v1/people/nobody", 404, "not_found", "secret"
    ),
    "an unknown group type": Ask(
        "GET /api/v1/groups/{type}", "/api/v1/groups/planet", 404, "not_found", "secret"
    ),
    "a type name that cannot be one": Ask(
        "GET /api/v1/groups/{type}", "/api/v1/groups/pl%C3%A4net", 404, "not_found", "secret"
    ),
    "a POST to the read API": Ask(
        "GET /api/v1/events", "/api/v1/events", 405, "method_not_allowed", "secret", method="POST"
    ),
}


@pytest.mark.parametrize("case", ANSWERS)
def test_each_answer_is_as_described(live_server, transactional_db, workspace, data, case):
    ask = ANSWERS[case]
    method, path = ask.operation.split(" ")
    keys = {"write": workspace.write_key, "secret": workspace.secret_key}
    headers = {name: value.format(**keys) for name, value in ask.headers}
    if ask.key:
        auth = basic_auth if path.startswith("/v1/") else bearer_auth
        headers.update(auth(keys[ask.key]))
    response = requests.request(
        ask.method or method, live_server.url + ask.url, headers=headers, json=ask.json,
        data=ask.data, timeout=30,
    )
    assert response.status_code == ask.status, response.text[:300]
    body = described_answer(DESCRIBED[path][method], response)
    assert ask.expect in body or ask.expect in (body.get("error"), body.get("code")), body


def test_a_gzip_body_is_read(live_server, transactional_db, workspace, data):
    body = gzip.compress(json.dumps({"userId": "user-42", "event": "Zipped"}).encode())
    response = requests.post(
        f"{live_server.url}/v1/track",
        data=body,
        headers={**basic_auth(workspace.write_key), "Content-Encoding": "gzip"},
        timeout=30,
    )
    assert described_answer(DESCRIBED["/v1/track"]["POST"], response)["stored"] == 1
