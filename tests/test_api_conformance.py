"""Every operation of the OpenAPI description, fuzzed by schemathesis against a live
server: no 5xx, and every answer's status, content type, headers and body as described.

Bounded and reproducible: a fixed seed and derandomized examples; per operation, the
description's examples, schemathesis's boundary cases of each parameter and at most
``MAX_EXAMPLES`` random requests, or for the tracking API (whose bodies have too many
fields for boundary cases) three times as many random ones. About 1,200 requests in all,
under two minutes on two cores.
"""

import copy

import pytest
import requests
import schemathesis
from calls import identify, join, track
from conftest import basic_auth, bearer_auth
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from analytics.openapi import SPEC

MAX_EXAMPLES = 25
settings.register_profile(
    "api-conformance",
    derandomize=True,  # the same requests on every run and in CI
    database=None,  # and no examples remembered from a previous run
    deadline=None,  # a live server's latency is not the property under test
    # One workspace (a function-scoped fixture) serves every example of an operation, and
    # batches of generated calls are large by design.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_dict(
    copy.deepcopy(SPEC),  # the loader adds to the document it is given
    config=schemathesis.Config.from_dict(
        {
            "seed": 2026,
            "generation": {"max-examples": MAX_EXAMPLES},
            "phases": {"stateful": {"enabled": False}},
            "operations": [
                # A call's body has dozens of fields: boundary cases for each of them (the
                # coverage phase) would be a thousand requests. Random calls instead.
                {
                    "include-tag": "Tracking",
                    "phases": {"coverage": {"enabled": False}},
                    "generation": {"max-examples": 3 * MAX_EXAMPLES},
                },
            ],
        }
    ),
)


@pytest.fixture
def sample_data(send, company, team):
    """What the description's examples name: company acme with user-42 (ann@acme.io) in
    it, team growth, events of every type, and a refused call."""
    response = send.batch(
        identify("user-42", "Ann Archer", "ann@acme.io", at="2026-02-01T09:00:00Z"),
        join("user-42", "acme", at="2026-02-01T10:00:00Z", traits={"name": "Acme Inc"}),
        join("user-42", "growth", at="2026-02-01T10:00:00Z",
             context={"groupType": "team"}),
        identify("user-43", "Bo Brown", "bo@example.com", at="2026-02-01T11:00:00Z"),
        join("user-43", "acme", at="2026-02-01T11:00:00Z"),
        track("user-42", "Report Viewed", at="2026-02-02T10:00:00Z",
              properties={"report": "weekly"}, context={"groupId": "acme"}),
        {"type": "page", "userId": "user-42", "name": "Pricing", "timestamp": "2026-02-02T11:00Z"},
        {"type": "screen", "anonymousId": "a-1", "name": "Home", "timestamp": "2026-02-02T12:00Z"},
        {"type": "alias", "userId": "user-42", "previousId": "a-1"},
        {"type": "track", "userId": "user-42"},  # refused: no event
        track("user-42", "Shared", at="2026-02-03T10:00:00Z",
              context={"groups": {"project": "x"}}),  # warned: an unknown type
    )
    assert response.status_code == 400 and response.json()["stored"] == 10, response.json()


def authorization(operation, workspace):
    if operation.path.startswith("/v1/"):
        return basic_auth(workspace.write_key)
    if operation.path == "/api/v1/openapi.json":
        return {}
    return bearer_auth(workspace.secret_key)


@pytest.fixture
def http():
    with requests.Session() as session:
        yield session


@schema.parametrize()
@settings(settings.get_profile("api-conformance"))
def test_every_answer_is_as_described(
    case, live_server, transactional_db, workspace, sample_data, http
):
    case.call_and_validate(
        base_url=live_server.url,
        session=http,
        headers=authorization(case.operation, workspace),
        checks=CHECKS,
    )
