"""The tracking API (/v1/*) in the OpenAPI description: the calls it takes and what it
answers (``TRACKING_SCHEMAS``), its errors (``TRACKING_RESPONSES``) and its paths, one a
call type and the batch, each with an example (``TRACKING_PATHS``)."""

from analytics.ingestion.calls import BATCH_MAX_CALLS, ID_MAX_LENGTH
from analytics.openapi.common import (
    CALL_TYPES,
    CODE,
    COUNT,
    JSON_OBJECT,
    MOMENT,
    STRING,
    TEXT,
    answer,
    error,
    fixed,
    ref,
    responses,
)

# --- what the tracking API takes and answers --------------------------------------

IDENTIFIER = {
    "type": ["string", "number"],
    "maxLength": ID_MAX_LENGTH,
    "description": f"At most {ID_MAX_LENGTH} characters; a number is taken as its text.",
}


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

# Its errors, by status code (as tracking-<status>, apart from those of /api/v1).
TRACKING_ERROR = ref("TrackingError")
TRACKING_RESPONSES = {
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


# --- its paths, each with an example call -----------------------------------------


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
TRACKING_PATHS = {
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
}
