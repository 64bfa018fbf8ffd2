"""The OpenAPI 3.1 description of the tracking API (/v1/*) and the read/delete API
(/api/v1/*), served at GET /api/v1/openapi.json.

Written as Python rather than as a JSON or YAML file so that one schema serves many
places (the error shapes, the pagination wrapper, an event in four answers) without
pages of repeated text, and so that the limits it states (page sizes, batch sizes, call
types, problem levels) are the ones the code enforces, imported from where they are
defined. ``SPEC`` is built once, at import; the tests hold every endpoint to it.
"""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from analytics.api import PAGE_SIZE, api_error
from analytics.forms import API_MAX_PAGE_SIZE as MAX_PAGE_SIZE
from analytics.ingestion.calls import BATCH_MAX_CALLS, ID_MAX_LENGTH
from analytics.models import IngestionProblem
from analytics.openapi_schemas import (
    CALL_TYPES,
    COUNT,
    DAY,
    FLAG,
    MOMENT,
    READ_SCHEMAS,
    REPORT_SCHEMAS,
    STRING,
    TEXT,
    TRACKING_SCHEMAS,
    fixed,
    page_of,
    ref,
)
from analytics.reports import INTERVALS, RANGES, Filter, Funnel, Retention
from analytics.reports.queries import DEFAULT_RANGE, FIRST_DAY, LAST_DAY, MAX_DAYS
from analytics.views import site_root

# --- responses and parameters shared by operations --------------------------------


def answer(description, schema, *headers, example=None):
    content = {"schema": schema} if example is None else {"schema": schema, "example": example}
    response = {"description": description, "content": {"application/json": content}}
    if headers:
        response["headers"] = {name: ref(name, "headers") for name in headers}
    return response


HEADERS = {
    "WWW-Authenticate": {
        "required": True,
        "description": "The scheme to authenticate with.",
        "schema": {"const": "Bearer"},
    },
    "Retry-After": {
        "required": True,
        "description": "Seconds to wait before sending again.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "Allow": {"required": True, "description": "The methods this path takes.", "schema": STRING},
}
ERROR, TRACKING_ERROR = ref("Error"), ref("TrackingError")


def error(code, schema=ERROR, field="error"):
    """An error shape whose code is always ``code``."""
    return {"allOf": [schema], "properties": {field: {"const": code}}}


RESPONSES = {
    # /api/v1
    "400": answer(
        "A malformed or unknown parameter; nothing was changed.", error("invalid_request")
    ),
    "401": answer(
        "No secret key, a wrong one, or the write key.", error("unauthorized"), "WWW-Authenticate"
    ),
    "404": answer("Nothing of that name in the key's workspace.", error("not_found")),
    "405": answer("A method this path does not take.", ERROR, "Allow"),
    "429": answer("Too many requests; wait as Retry-After says.", ERROR, "Retry-After"),
    "500": answer("The server failed; nothing was changed.", ERROR),
    "503": answer("The database is unreachable; retry later.", ERROR, "Retry-After"),
    # /v1
    "tracking-401": answer(
        "A missing or unknown write key.", error("unauthorized", TRACKING_ERROR, "code")
    ),
    "tracking-405": answer("Calls are sent with POST.", TRACKING_ERROR, "Allow"),
    "tracking-413": answer(
        f"The body is over 500 KB or the batch over {BATCH_MAX_CALLS:,} calls; split it. "
        "Nothing was stored.",
        TRACKING_ERROR,
    ),
    "tracking-415": answer("A Content-Encoding other than gzip.", TRACKING_ERROR),
    "tracking-429": answer(
        "The write key's ingestion budget is spent, or this address sent too many wrong keys; "
        "nothing was stored: send again after Retry-After.",
        TRACKING_ERROR,
        "Retry-After",
    ),
    "tracking-500": answer("The server failed; nothing was stored: send again.", TRACKING_ERROR),
    "tracking-503": answer(
        "The database is unreachable; nothing was stored: send again after Retry-After.",
        TRACKING_ERROR,
        "Retry-After",
    ),
}


def responses(ok, *statuses, prefix="", **own):
    """An operation's responses: its 200, shared ones by status code, and its own."""
    shared = {status: ref(prefix + status, "responses") for status in statuses}
    return dict(sorted({"200": ok, **shared, **own}.items()))


def query(name, description, schema=STRING, **more):
    return {"name": name, "in": "query", "description": description, "schema": schema, **more}


def in_path(name, description, schema, example):
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema,
        "example": example,
    }


PAGING = [
    query("page", "From 1; a page past the last is 400.", {"type": "integer", "minimum": 1}),
    query(
        "page_size",
        f"{PAGE_SIZE} by default; above {MAX_PAGE_SIZE} is lowered to {MAX_PAGE_SIZE}.",
        {"type": "integer", "minimum": 1},
    ),
]
TYPE_NAME = in_path(
    "type",
    "A group type's name, as calls send it.",
    {"type": "string", "pattern": "^[-a-zA-Z0-9_]+$"},
    "company",
)
USER_ID = in_path(
    "user_id",
    "The person's user id, or an earlier one they were aliased from; percent-encode a '/'.",
    {"type": "string", "minLength": 1, "maxLength": ID_MAX_LENGTH},
    "user-42",
)
DELETE_FLAGS = [
    query("suppress", "Also block every user id they had: later calls for them are refused.", FLAG),
    query("dry_run", "Delete nothing; answer what the same call would delete.", FLAG),
]
READ_ERRORS = ("400", "401", "405", "429", "500", "503")


def operation(
    operation_id, summary, ok, *, parameters=(), errors=READ_ERRORS, tag="Reading", example=None
):
    """An operation of the read/delete API."""
    return {
        "operationId": operation_id,
        "tags": [tag],
        "summary": summary,
        "parameters": list(parameters),
        "responses": responses(answer("OK", ok, example=example), *errors),
    }


# --- the reports' parameters --------------------------------------------------------


def repeated(name, description, items=STRING, **more):
    """A parameter that may be given several times (``event=a&event=b``)."""
    return query(name, description, {"type": "array", "items": items}, explode=True, **more)


EVENT_NAME = "an event's name, $page for every page call or $screen for every screen call"
REPORT_PERIOD = [
    query(
        "range",
        f"{RANGES[DEFAULT_RANGE]} ({DEFAULT_RANGE}) by default, up to today in the workspace's "
        "time zone; custom when from or to is given.",
        {"enum": list(RANGES)},
    ),
    query(
        "from",
        f"The first day (YYYY-MM-DD, in the workspace's time zone) of a custom range, from "
        f"{FIRST_DAY} to {LAST_DAY}; a range covers at most {MAX_DAYS:,} days.",
        DAY,
        example="2026-02-01",
    ),
    query(
        "to",
        "The last day, included; today by default.",
        DAY,
        example="2026-02-07",
    ),
]
UNITS = (
    "users (distinct people, the default) or a group type's name (distinct groups of the "
    "type, from the events that carry one)"
)


def count_by(description):
    return query("count_by", description, STRING, example="company")


REPORT_FILTERS = [
    repeated(
        "where",
        "Filters are parallel lists: the first where, key, op and value make the first "
        "filter, and so on; events pass all of them. where is event (its properties), person "
        "(their traits) or a group type's name (the properties of the event's group of it).",
        example=["company"],
    ),
    repeated("key", "The property or trait a filter looks at.", example=["plan"]),
    repeated(
        "op",
        "; ".join(f"{op}: {meaning}" for op, meaning in Filter.OPERATORS.items())
        + ". gt and lt compare numbers.",
        {"enum": list(Filter.OPERATORS)},
        example=["eq"],
    ),
    repeated("value", "What a filter compares with; empty for set and not_set.",
             example=["enterprise"]),
    query(
        "internal",
        "exclude leaves out people at the workspace's internal domains (the default when it "
        "has some), include counts them.",
        {"enum": ["exclude", "include"]},
    ),
    query("cohort", "A saved cohort's number: only its members are counted.",
          {"type": "integer", "minimum": 1}),
]
INTERVAL = query(
    "interval",
    "day, week (ISO, from Monday) or month, cut at midnight in the workspace's time zone.",
    {"enum": list(INTERVALS)},
)


# --- the operations ---------------------------------------------------------------


def tracking(call_type, body, summary, example):
    """The path item of one endpoint of the tracking API: POST a call (or a batch)."""
    return {
        "post": {
            "operationId": call_type,
            "tags": ["Tracking"],
            "summary": summary,
            "security": [{"writeKey": []}, {}],
            "parameters": [
                {
                    "name": "Content-Encoding",
                    "in": "header",
                    "description": "gzip for a compressed body.",
                    "schema": {"enum": ["gzip", "identity"]},
                }
            ],
            "requestBody": {
                "required": True,
                "description": "JSON; browsers send it as text/plain, which needs no preflight.",
                "content": {
                    media_type: {"schema": body, "example": example}
                    for media_type in ("application/json", "text/plain")
                },
            },
            "responses": responses(
                answer("Every call stored (or a duplicate).", ref("Stored")),
                "401", "405", "413", "415", "429", "500", "503",
                prefix="tracking-",
                **{
                    "400": answer(
                        "Calls refused (each with its index and reason; the others were "
                        "stored), or the whole request (not JSON, not an object, not gzip).",
                        {"oneOf": [ref("CallsRefused"), TRACKING_ERROR]},
                    )
                },
            ),
        }
    }


REPORT_QUERY_EXAMPLE = {
    "range": "custom",
    "from": "2026-02-01",
    "to": "2026-02-03",
    "time_zone": "Europe/Paris",
    "filters": [{"where": "company", "key": "plan", "op": "eq", "value": "enterprise"}],
    "internal": "exclude",
    "cohort": None,
}
TREND_EXAMPLE = {
    "query": {
        "events": ["Report Viewed"],
        "interval": "day",
        "count_by": "company",
        **REPORT_QUERY_EXAMPLE,
        "breakdown_on": None,
        "breakdown": None,
        "compare": False,
    },
    "series": [
        {
            "label": "Report Viewed",
            "event": "Report Viewed",
            "breakdown_value": None,
            "is_other": False,
            "total": 14,
            "data": [
                {"date": "2026-02-01", "value": 3},
                {"date": "2026-02-02", "value": 11},
                {"date": "2026-02-03", "value": 9},
            ],
        }
    ],
    "previous": None,
}
FUNNEL_EXAMPLE = {
    "query": {
        "steps": ["Signed Up", "Report Viewed"],
        "window": 14,
        "count_by": "users",
        **REPORT_QUERY_EXAMPLE,
        "filters": [],
    },
    "steps": [
        {"event": "Signed Up", "label": "Signed Up", "count": 40, "conversion_rate": 1.0,
         "conversion_from_previous": None, "dropped": None, "median_seconds": None},
        {"event": "Report Viewed", "label": "Report Viewed", "count": 25,
         "conversion_rate": 0.625, "conversion_from_previous": 0.625, "dropped": 15,
         "median_seconds": 5400.0},
    ],
    "entered": 40,
    "converted": 25,
    "conversion_rate": 0.625,
    "median_seconds_to_convert": 5400.0,
}
RETENTION_EXAMPLE = {
    "query": {
        "start_event": "Signed Up",
        "return_event": "Report Viewed",
        "interval": "week",
        "periods": 2,
        "count_by": "company",
        **REPORT_QUERY_EXAMPLE,
        "from": "2026-02-02",
        "to": "2026-02-15",
        "filters": [],
    },
    "cohorts": [
        {"start": "2026-02-02", "size": 12, "returned": [9, 7]},
        {"start": "2026-02-09", "size": 8, "returned": [5, None]},
    ],
}
ACTIVE_GROUPS_EXAMPLE = {
    "query": {"type": "company", "interval": "day", **REPORT_QUERY_EXAMPLE, "filters": []},
    "data": [
        {"date": "2026-02-01", "strict": 4, "overcount": 5},
        {"date": "2026-02-02", "strict": 31, "overcount": 38},
        {"date": "2026-02-03", "strict": 29, "overcount": 35},
    ],
    "events": 5210,
    "events_without_group": 344,
}

ANN = {"userId": "user-42", "timestamp": "2026-01-05T09:00:00Z"}
EXAMPLES = {
    "identify": {**ANN, "traits": {"email": "ann@acme.io", "name": "Ann"}},
    "track": {
        **ANN,
        "event": "Report Viewed",
        "properties": {"report": "weekly"},
        "context": {"groups": {"company": "acme", "team": "growth"}},
    },
    "page": {**ANN, "name": "Pricing", "properties": {"path": "/pricing"}},
    "screen": {"anonymousId": "3f9c2a1e", "name": "Home"},
    "group": {
        **ANN,
        "groupId": "acme",
        "traits": {"name": "Acme Inc", "plan": "enterprise"},
        "context": {"groupType": "company"},
    },
    "alias": {"userId": "user-42", "previousId": "3f9c2a1e"},
}
EXAMPLES["batch"] = {
    "batch": [{"type": call_type, **call} for call_type, call in EXAMPLES.items()],
    "sentAt": "2026-01-05T09:00:01Z",
}
PATHS = {
    "/v1/identify": tracking(
        "identify",
        ref("IdentifyCall"),
        "Who a user is: merges traits into the person.",
        EXAMPLES["identify"],
    ),
    "/v1/track": tracking("track", ref("TrackCall"), "Something a user did.", EXAMPLES["track"]),
    "/v1/page": tracking("page", ref("PageCall"), "A page a user viewed.", EXAMPLES["page"]),
    "/v1/screen": tracking(
        "screen", ref("PageCall"), "A screen a user viewed in an app.", EXAMPLES["screen"]
    ),
    "/v1/group": tracking(
        "group",
        ref("GroupCall"),
        "A user in a group: creates or updates it, a member from the timestamp.",
        EXAMPLES["group"],
    ),
    "/v1/alias": tracking(
        "alias",
        ref("AliasCall"),
        "A user's earlier id (previousId) is this one.",
        EXAMPLES["alias"],
    ),
    "/v1/batch": tracking(
        "batch",
        ref("Batch"),
        f"Up to {BATCH_MAX_CALLS:,} calls of any type, 500 KB in all.",
        EXAMPLES["batch"],
    ),
    "/api/v1/group-types": {
        "get": operation("listGroupTypes", "The workspace's group types.", page_of(ref("GroupType")),
                    parameters=PAGING),
    },
    "/api/v1/groups/{type}": {
        "get": operation(
            "listGroups",
            "Groups of a type, latest group call first, then by key.",
            page_of(ref("Group")),
            parameters=[
                TYPE_NAME,
                query("search", "Matches the key or the name, ignoring case."),
                *PAGING,
            ],
            errors=(*READ_ERRORS, "404"),
        ),
    },
    "/api/v1/groups/{type}/{key}": {
        "get": operation(
            "getGroup",
            "One group: its current members (paged), latest events and a link to all of them.",
            ref("GroupProfile"),
            parameters=[
                TYPE_NAME,
                in_path("key", "The group's key; percent-encode a '/'.", TEXT, "acme"),
                query("members_page", "The page of members.", {"type": "integer", "minimum": 1}),
                PAGING[1],
            ],
            errors=(*READ_ERRORS, "404"),
        ),
    },
    "/api/v1/people": {
        "get": operation(
            "listPeople",
            "People, last seen first.",
            page_of(ref("Person")),
            parameters=[
                query("search", "Matches the name, e-mail or user id."),
                query("email_domain", "Only people with an e-mail at this domain."),
                *PAGING,
            ],
        ),
        "delete": operation(
            "deletePeopleByEmailDomain",
            "Deletes everyone with an e-mail at a domain, all or nothing. Any other "
            "parameter is 400: an ignored filter would delete more than meant.",
            ref("PeopleDeleted"),
            parameters=[
                query("email_domain", "Required: this never deletes everyone.", TEXT,
                      required=True, example="acme.io"),
                *DELETE_FLAGS,
            ],
            tag="Deleting",
        ),
    },
    "/api/v1/people/{user_id}": {
        "get": operation(
            "getPerson",
            "One person, their memberships (current and past), latest events and a link to all.",
            ref("PersonProfile"),
            parameters=[USER_ID],
            errors=(*READ_ERRORS, "404"),
        ),
        "delete": operation(
            "deletePerson",
            "Deletes the person with every call they made, their memberships, ids and refused "
            "calls, all or nothing; groups are kept.",
            ref("PersonDeleted"),
            parameters=[USER_ID, *DELETE_FLAGS],
            errors=(*READ_ERRORS, "404"),
            tag="Deleting",
        ),
    },
    "/api/v1/events": {
        "get": operation(
            "listEvents",
            "Events, newest first, paged by cursor: new events never shift a page.",
            ref("EventPage"),
            parameters=[
                query("person", "A user id."),
                query("group", "<type>:<key>, e.g. company:acme.",
                      {"type": "string", "pattern": "^[^:]+:.+$"}),
                query("name", "The event's name."),
                query("type", "The call type.", {"enum": CALL_TYPES}),
                query("since", "From this date or time (inclusive; UTC without an offset).",
                      {"anyOf": [{"format": "date", "type": "string"}, MOMENT]}),
                query("until", "Before this date or time (exclusive).",
                      {"anyOf": [{"format": "date", "type": "string"}, MOMENT]}),
                query("limit", f"{PAGE_SIZE} by default; above {MAX_PAGE_SIZE} is lowered to {MAX_PAGE_SIZE}.",
                      {"type": "integer", "minimum": 1}),
                query("cursor", "From a next link, unchanged."),
            ],
            errors=(*READ_ERRORS, "404"),
        ),
    },
    "/api/v1/ingestion-problems": {
        "get": operation(
            "listIngestionProblems",
            "Calls refused and calls stored with a warning, newest first, with totals.",
            page_of(
                ref("IngestionProblem"),
                totals=fixed(
                    rejected_calls={**COUNT, "description": "A refused batch counts its calls."},
                    warnings=COUNT,
                ),
            ),
            parameters=[
                query("level", "Only one level.", {"enum": list(IngestionProblem.Level.values)}),
                *PAGING,
            ],
        ),
    },
    "/api/v1/reports/trends": {
        "get": operation(
            "getTrends",
            "How many users, groups of a type or events did something, per day, week or month.",
            ref("TrendReport"),
            parameters=[
                repeated("event", f"A series each (at most 10): {EVENT_NAME}, or empty for "
                         "any event; any event when none is given.", example=["Report Viewed"]),
                INTERVAL,
                *REPORT_PERIOD,
                count_by("users (distinct people, the default), a group type's name (distinct "
                         "groups of the type, from the events that carry one) or events (every "
                         "call)."),
                *REPORT_FILTERS,
                query("breakdown_on", "What the breakdown's property belongs to, as in where; "
                      "event by default."),
                query("breakdown", "A property to split the one series by: its top 10 values, "
                      "then Other."),
                query("compare", "Also the same series over the period just before.", FLAG),
            ],
            tag="Reports",
            example=TREND_EXAMPLE,
        ),
    },
    "/api/v1/reports/funnels": {
        "get": operation(
            "getFunnel",
            "How many users or groups went through steps in order, within a window of days.",
            ref("FunnelReport"),
            parameters=[
                query(
                    "steps",
                    f"{Funnel.MIN_STEPS} to {Funnel.MAX_STEPS} steps, in order, separated by "
                    f"commas: each {EVENT_NAME}.",
                    example="Signed Up,Report Viewed",
                ),
                repeated("step", "A step each, as a parameter of its own (before those of steps); "
                         "an empty one is left out."),
                query("window", f"Days from the first step within which the last must come, 1 "
                      f"to {Funnel.MAX_WINDOW_DAYS}; 14 by default.",
                      {"type": "integer", "minimum": 1, "maximum": Funnel.MAX_WINDOW_DAYS},
                      example=14),
                *REPORT_PERIOD,
                count_by(f"{UNITS}. Counted by a group type, a group converts when its "
                         "members together do the steps in order."),
                *REPORT_FILTERS,
            ],
            tag="Reports",
            example=FUNNEL_EXAMPLE,
        ),
    },
    "/api/v1/reports/retention": {
        "get": operation(
            "getRetention",
            "Cohorts by when users or groups first did the start event, and how many of each "
            "came back in each following day, week or month.",
            ref("RetentionReport"),
            parameters=[
                query("start_event", f"What puts a unit in a cohort, the first time: "
                      f"{EVENT_NAME}, or empty for any event.", example="Signed Up"),
                query("return_event", f"What counts as coming back: {EVENT_NAME}, or empty "
                      "for any event.", example="Report Viewed"),
                {**INTERVAL, "description": INTERVAL["description"] + " week by default."},
                query("periods", f"Intervals after the cohort's, 1 to {Retention.MAX_PERIODS}; "
                      "by default 14 days, 8 weeks or 6 months.",
                      {"type": "integer", "minimum": 1, "maximum": Retention.MAX_PERIODS},
                      example=4),
                *REPORT_PERIOD,
                count_by(f"{UNITS}."),
                *REPORT_FILTERS,
            ],
            tag="Reports",
            example=RETENTION_EXAMPLE,
        ),
    },
    "/api/v1/reports/active-groups": {
        "get": operation(
            "getActiveGroups",
            "Active groups of a type per day, week or month: strictly (the group was on an "
            "event) beside the over-count (events with no group of the type credited to every "
            "group their person was in).",
            ref("ActiveGroupsReport"),
            parameters=[
                query("type", "The group type's name; the default type when none is given.",
                      example="company"),
                INTERVAL,
                *REPORT_PERIOD,
                *REPORT_FILTERS,
            ],
            tag="Reports",
            example=ACTIVE_GROUPS_EXAMPLE,
        ),
    },
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
        "responses": RESPONSES,
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
