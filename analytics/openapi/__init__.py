"""The OpenAPI 3.1 description of the tracking API (/v1/*) and the read/delete API
(/api/v1/*), served at GET /api/v1/openapi.json.

Written as Python rather than as a JSON or YAML file so that one schema serves many
places (the error shapes, the pagination wrapper, an event in four answers) without
pages of repeated text, and so that the limits it states (page sizes, batch sizes, call
types, problem levels) are the ones the code enforces, imported from where they are
defined. ``SPEC`` is built once, at import; the tests hold every endpoint to it.

Here the description is put together and served (``SPEC``, ``openapi_json``); its parts
are ``common`` (building blocks, and what the operations of /api/v1 share), ``tracking``
(the tracking API), ``read`` (reading and deleting), ``reports`` (the reports' paths and
parameters) and ``report_schemas`` (what the reports answer).
"""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from analytics.api import api_error
from analytics.openapi.common import API_RESPONSES, HEADERS, answer, responses
from analytics.openapi.read import READ_PATHS, READ_SCHEMAS
from analytics.openapi.report_schemas import REPORT_SCHEMAS
from analytics.openapi.reports import REPORT_PATHS
from analytics.openapi.tracking import TRACKING_PATHS, TRACKING_RESPONSES, TRACKING_SCHEMAS
from analytics.views import site_root

PATHS = {
    **TRACKING_PATHS,
    **READ_PATHS,
    **REPORT_PATHS,
    "/api/v1/openapi.json": {
        "get": {
            "operationId": "getOpenAPI",
            "tags": ["Description"],
            "summary": "This description. No key needed.",
            "security": [],
            "responses": responses(
                answer(
                    "OpenAPI 3.1",
                    {
                        "type": "object",
                        "required": ["openapi", "info", "paths", "components", "servers"],
                        "properties": {
                            "openapi": {"const": "3.1.0"},
                            "info": {"type": "object"},
                            "paths": {"type": "object"},
                            "components": {"type": "object"},
                            "servers": {"type": "array", "minItems": 1},
                        },
                    },
                ),
                "405", "429", "500",
            ),
        }
    },
}

DESCRIPTION = """\
Two APIs of a Groupsite server.

**Tracking** (`/v1/*`) speaks Segment's HTTP tracking API: point any Segment library at
the server. It is authenticated by the workspace's write key (`wk_…`), as the Basic-auth
user name or as `writeKey` in the body, and can only send events. Limits: 32 KB a call,
500 KB a request, 2,500 calls a batch; bodies may be gzip-compressed. A refused call
answers 400 with its index and reason, and the other calls of the request are stored.
Each `messageId` is stored once, so retrying is safe. Browsers may call it from any
origin (CORS; OPTIONS answers the preflight).

**Reading and deleting** (`/api/v1/*`) is authenticated by the workspace's secret key
(`sk_…`) as a Bearer token, and sees that workspace only: another workspace's objects
answer 404. Every error is JSON, `{"error": code, "message": …}`. Lists are paged by
number (`count`, `page`, `page_size`, `next`, `previous`, `results`); events by cursor
(`limit`, `next`, `results`): follow `next` until it is null. Times are ISO 8601 in UTC.
"""

SPEC = {
    "openapi": "3.1.0",
    "info": {"title": "Groupsite API", "version": "1.0", "description": DESCRIPTION},
    "tags": [
        {"name": "Tracking", "description": "Sending calls, with the write key."},
        {"name": "Reading", "description": "What a workspace collected, with the secret key."},
        {"name": "Reports", "description": "Trends, funnels, retention and active groups, "
         "with the secret key."},
        {"name": "Deleting", "description": "Deleting people, with the secret key."},
        {"name": "Description", "description": "This document."},
    ],
    "paths": PATHS,
    "security": [{"secretKey": []}],
    "components": {
        "securitySchemes": {
            "secretKey": {
                "type": "http",
                "scheme": "bearer",
                "description": "The workspace's secret key, sk_…: Authorization: Bearer sk_…",
            },
            "writeKey": {
                "type": "http",
                "scheme": "basic",
                "description": "The workspace's write key, wk_…, as the user name, with no "
                "password (or as writeKey in the body).",
            },
        },
        "schemas": READ_SCHEMAS | REPORT_SCHEMAS | TRACKING_SCHEMAS,
        "responses": API_RESPONSES | TRACKING_RESPONSES,
        "headers": HEADERS,
    },
}


@csrf_exempt  # No cookie is read here; a wrong method gets the API's JSON 405, not CSRF's page.
def openapi_json(request: HttpRequest) -> JsonResponse:
    """The description, with this server's address, readable from any origin (no key)."""
    if request.method not in ("GET", "HEAD"):
        response = api_error(405, "method_not_allowed", f"{request.method} is not allowed here; use GET")
        response["Allow"] = "GET, HEAD"
        return response
    server = site_root(request)
    response = JsonResponse({**SPEC, "servers": [{"url": server}]})
    response["Access-Control-Allow-Origin"] = "*"
    return response
