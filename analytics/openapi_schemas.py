"""The schemas of the OpenAPI description (analytics/openapi.py): its building blocks,
what the read/delete API answers and what the tracking API takes and answers. The
limits they state are imported from where the code enforces them."""


from analytics.api import RECENT_EVENTS
from analytics.forms import API_MAX_PAGE_SIZE as MAX_PAGE_SIZE
from analytics.ingestion.calls import BATCH_MAX_CALLS, ID_MAX_LENGTH
from analytics.models import EventType, IngestionProblem

CALL_TYPES = list(EventType.values)

# --- building blocks --------------------------------------------------------------


def ref(name, kind="schemas"):
    return {"$ref": f"#/components/{kind}/{name}"}


def nullable(schema):
    return {"anyOf": [schema, {"type": "null"}]}


def fixed(*, required=None, **properties):
    """An object of exactly these properties, all of them always present unless
    ``required`` names fewer."""
    return {
        "type": "object",
        "required": list(properties if required is None else required),
        "properties": properties,
        "additionalProperties": False,
    }


STRING = {"type": "string"}
TEXT = {"type": "string", "minLength": 1}
COUNT = {"type": "integer", "minimum": 0}
FLAG = {"type": "boolean"}
MOMENT = {"type": "string", "format": "date-time"}
URL = {"type": "string", "format": "uri"}
JSON_OBJECT = {"type": "object", "description": "Free-form JSON, as sent."}
CODE = {"type": "string", "pattern": "^[a-z][a-z0-9_]*$", "description": "A machine-readable code."}
IDENTIFIER = {
    "type": ["string", "number"],
    "maxLength": ID_MAX_LENGTH,
    "description": f"At most {ID_MAX_LENGTH} characters; a number is taken as its text.",
}


def page_of(item, **more):
    """A page of a list: ``{count, page, page_size, next, previous, results}``."""
    return fixed(
        count=COUNT,
        page={"type": "integer", "minimum": 1},
        page_size={"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
        next={**nullable(URL), "description": "The next page with the same filters, or null."},
        previous={**nullable(URL), "description": "The previous page, or null."},
        results={"type": "array", "items": item},
        **more,
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

# --- what the tracking API takes and answers --------------------------------------


def call_of(call_type, required=(), **properties):
    """A call of one type: what every call carries, and its own fields."""
    return {
        "allOf": [ref("Call")],
        "type": "object",
        "required": list(required),
        "properties": properties,
        "description": f"A {call_type} call.",
    }


TRACKING_SCHEMAS = {
    "Call": {
        "type": "object",
        "description": "What every call may carry. Other fields (Segment's libraries send "
        "more) are accepted and ignored.",
        "properties": {
            "userId": IDENTIFIER,
            "anonymousId": IDENTIFIER,
            "messageId": {**IDENTIFIER, "description": "Stored once per workspace."},
            "timestamp": MOMENT,
            "originalTimestamp": MOMENT,
            "sentAt": {**MOMENT, "description": "When the client sent it: corrects clock skew."},
            "context": {
                "type": "object",
                "properties": {
                    "groupId": {**IDENTIFIER, "description": "A group of the default type."},
                    "groupType": {**STRING, "description": "A group call's group type."},
                    "groups": {
                        "type": "object",
                        "additionalProperties": IDENTIFIER,
                        "description": "{group type: key}, at most one key a type.",
                    },
                },
            },
            "integrations": {"type": "object"},
            "writeKey": {**STRING, "description": "The write key, when not sent as Basic auth."},
        },
        "anyOf": [{"required": ["userId"]}, {"required": ["anonymousId"]}],
    },
    "IdentifyCall": call_of("identify", traits=JSON_OBJECT),
    "TrackCall": call_of(
        "track", ["event"], event={**IDENTIFIER, "minLength": 1}, properties=JSON_OBJECT
    ),
    "PageCall": call_of(
        "page or screen", name=IDENTIFIER, category=STRING, properties=JSON_OBJECT
    ),
    "GroupCall": call_of(
        "group",
        ["groupId"],
        groupId={**IDENTIFIER, "minLength": 1},
        traits={**JSON_OBJECT, "description": "The group's traits; a groupType trait is its type."},
    ),
    "AliasCall": call_of(
        "alias", ["userId", "previousId"], previousId={**IDENTIFIER, "minLength": 1}
    ),
    "Batch": {
        "type": "object",
        "required": ["batch"],
        "properties": {
            "batch": {
                "type": "array",
                "maxItems": BATCH_MAX_CALLS,
                "items": {
                    "oneOf": [ref(f"Batch{call_type.title()}") for call_type in CALL_TYPES],
                    "discriminator": {
                        "propertyName": "type",
                        "mapping": {
                            call_type: f"#/components/schemas/Batch{call_type.title()}"
                            for call_type in CALL_TYPES
                        },
                    },
                },
            },
            "sentAt": {**MOMENT, "description": "When the batch was sent: corrects clock skew."},
            "context": {
                **JSON_OBJECT,
                "description": "Merged under each call's own context; counts in each call's 32 KB.",
            },
            "writeKey": {**STRING, "description": "The write key, when not sent as Basic auth."},
        },
    },
    **{
        f"Batch{call_type.title()}": {
            "allOf": [ref(f"{'Page' if call_type == 'screen' else call_type.title()}Call")],
            "type": "object",
            "required": ["type"],
            "properties": {"type": {"const": call_type}},
        }
        for call_type in CALL_TYPES
    },
    "Stored": fixed(
        required=["success", "stored", "duplicates"],
        success={"const": True},
        stored={**COUNT, "description": "Calls stored now."},
        duplicates={**COUNT, "description": "Calls whose messageId was stored before."},
        warnings={"type": "array", "items": ref("CallWarning")},
    ),
    "CallsRefused": {
        **fixed(
            required=["success", "code", "message", "error", "stored", "duplicates", "rejected"],
            success={"const": False},
            code={"const": "invalid_request"},
            message={**TEXT, "description": "Which calls were refused and why, in one line."},
            error={**TEXT, "description": "The same line."},
            stored=COUNT,
            duplicates=COUNT,
            rejected={"type": "array", "minItems": 1, "items": ref("CallRefused")},
            warnings={"type": "array", "items": ref("CallWarning")},
        ),
        "description": "Some calls refused; the others of the request were stored.",
    },
    "CallRefused": fixed(
        required=["index", "error"],
        index={**COUNT, "description": "The call's place in the batch (0 for a single call)."},
        messageId=STRING,
        type=STRING,
        error={**TEXT, "description": "Why it was refused."},
    ),
    "CallWarning": fixed(
        index=COUNT,
        messageId=STRING,
        warning={**TEXT, "description": "What part of the stored call was ignored, and why."},
    ),
    "TrackingError": {
        **fixed(success={"const": False}, code=CODE, message=TEXT),
        "description": "A whole request refused, in the fields Segment's libraries log.",
    },
}
