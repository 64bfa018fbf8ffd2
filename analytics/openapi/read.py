"""The read/delete API (/api/v1/*, its reports aside) in the OpenAPI description: what
it answers (``READ_SCHEMAS``), its parameters, and its paths (``READ_PATHS``): group
types, groups, people, events and ingestion problems, reading and deleting."""

from analytics.api import PAGE_SIZE, RECENT_EVENTS
from analytics.forms import API_MAX_PAGE_SIZE as MAX_PAGE_SIZE
from analytics.ingestion.calls import ID_MAX_LENGTH
from analytics.models import IngestionProblem
from analytics.openapi.common import (
    CALL_TYPES,
    CODE,
    COUNT,
    FLAG,
    JSON_OBJECT,
    MOMENT,
    READ_ERRORS,
    STRING,
    TEXT,
    URL,
    fixed,
    in_path,
    nullable,
    operation,
    page_of,
    query,
    ref,
)

# --- what the read/delete API answers ---------------------------------------------

PERSON = {
    "user_id": {**nullable(STRING), "description": "Null for a visitor who never identified."},
    "anonymous_ids": {"type": "array", "items": STRING},
    "email": STRING,
    "name": STRING,
    "traits": JSON_OBJECT,
    "created_at": MOMENT,
    "last_seen_at": nullable(MOMENT),
    "event_count": COUNT,
}
GROUP = {
    "type": STRING,
    "key": STRING,
    "name": STRING,
    "properties": JSON_OBJECT,
    "created_at": MOMENT,
    "last_updated": {**nullable(MOMENT), "description": "The latest group call; null if none."},
    "member_count": {**COUNT, "description": "Current members."},
}
DELETION = {
    "user_id": nullable(STRING),
    "user_ids": {"type": "array", "items": STRING},
    "anonymous_ids": {"type": "array", "items": STRING},
    "events": COUNT,
    "by_type": ref("CallCounts"),
    "memberships": COUNT,
    "groups_left_empty": {"type": "array", "items": ref("GroupRef")},
    "suppressed": FLAG,
}
RECENT_EVENTS_LIST = {"type": "array", "maxItems": RECENT_EVENTS, "items": ref("Event")}
EVENTS_URL = {**URL, "description": "/api/v1/events with this filter."}

READ_SCHEMAS = {
    "Error": {
        **fixed(error=CODE, message=TEXT),
        "description": "Every error of /api/v1: a code and a message saying what to fix.",
    },
    "GroupType": fixed(
        name=STRING, singular=STRING, plural=STRING, position=COUNT, is_default=FLAG
    ),
    "Group": fixed(**GROUP),
    "GroupProfile": fixed(
        **GROUP,
        members=page_of(ref("Member")),
        recent_events=RECENT_EVENTS_LIST,
        events_url=EVENTS_URL,
    ),
    "Person": fixed(**PERSON),
    "Member": fixed(**PERSON, joined_at=MOMENT),
    "PersonProfile": fixed(
        **PERSON,
        memberships={"type": "array", "items": ref("Membership")},
        recent_events=RECENT_EVENTS_LIST,
        events_url=EVENTS_URL,
    ),
    "Membership": fixed(type=STRING, key=STRING, started_at=MOMENT, ended_at=nullable(MOMENT)),
    "Event": fixed(
        id={"type": "integer"},
        type={"enum": CALL_TYPES},
        name=STRING,
        message_id=STRING,
        user_id=STRING,
        anonymous_id=STRING,
        timestamp=MOMENT,
        received_at=MOMENT,
        sent_at=nullable(MOMENT),
        properties=JSON_OBJECT,
        context=JSON_OBJECT,
        groups={
            "type": "object",
            "additionalProperties": STRING,
            "description": "{group type: key} of the groups the event counts in.",
        },
    ),
    "EventPage": fixed(
        limit={"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
        next={**nullable(URL), "description": "The next page (same filters, a cursor), or null."},
        results={"type": "array", "items": ref("Event")},
    ),
    "IngestionProblem": fixed(
        id={"type": "integer"},
        level={"enum": list(IngestionProblem.Level.values)},
        received_at=MOMENT,
        call_type={"type": "string", "description": "Empty for a whole refused request."},
        message_id=STRING,
        reason=TEXT,
        call_count={"type": "integer", "minimum": 1},
        payload={"type": "string", "description": "The start of what was sent."},
    ),
    "CallCounts": fixed(**dict.fromkeys(CALL_TYPES, COUNT)),
    "GroupRef": fixed(type=STRING, key=STRING, name=STRING),
    "DeletionSummary": fixed(**DELETION),
    "PersonDeleted": fixed(dry_run=FLAG, **DELETION),
    "PeopleDeleted": fixed(
        email_domain=TEXT,
        dry_run=FLAG,
        suppressed=FLAG,
        people={"type": "array", "items": ref("DeletionSummary")},
        totals=fixed(
            people=COUNT,
            events=COUNT,
            by_type=ref("CallCounts"),
            memberships=COUNT,
            groups_left_empty={"type": "array", "items": ref("GroupRef")},
        ),
    ),
}

# --- its parameters and paths -----------------------------------------------------

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
READ_PATHS = {
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
}
