"""The schemas of the OpenAPI description (analytics/openapi.py): its building blocks,
what the read/delete API answers and what the tracking API takes and answers. The
limits they state are imported from where the code enforces them."""


from analytics.api import RECENT_EVENTS
from analytics.forms import API_MAX_PAGE_SIZE as MAX_PAGE_SIZE
from analytics.ingestion.calls import BATCH_MAX_CALLS, ID_MAX_LENGTH
from analytics.models import EventType, IngestionProblem
from analytics.reports import INTERVALS, RANGES, Filter, Funnel, Retention

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
DAY = {"type": "string", "format": "date"}
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

# --- what the reports answer -----------------------------------------------------

RATE = {
    **nullable({"type": "number", "minimum": 0, "maximum": 1}),
    "description": "A share from 0 to 1, rounded to four places; null of nothing.",
}
SECONDS = nullable({"type": "number", "minimum": 0})
REPORT_QUERY = {
    "range": {
        "enum": list(RANGES),
        "description": "The preset the period came from, or custom (from and to).",
    },
    "from": {**DAY, "description": "The period's first day, in the workspace's time zone."},
    "to": {**DAY, "description": "The period's last day, included."},
    "time_zone": {**STRING, "description": "The workspace's time zone, where days begin."},
    "filters": {"type": "array", "items": ref("ReportFilter")},
    "internal": {
        "enum": ["exclude", "include"],
        "description": "Whether people at the workspace's internal domains were counted.",
    },
    "cohort": {
        **nullable({"type": "integer", "minimum": 1}),
        "description": "A saved cohort's number: only its members were counted.",
    },
}
INTERVAL = {"enum": list(INTERVALS)}
COUNT_BY = {
    **STRING,
    "description": "users, a group type's name, or (Trends only) events.",
}
EVENT = {
    **STRING,
    "description": "An event's name, $page (every page call), $screen (every screen call), "
    "or empty for any event.",
}


def points(**values):
    """A list of one bucket's numbers each: its first day and ``values``."""
    return {
        "type": "array",
        "items": fixed(date={**DAY, "description": "The first day of the bucket."}, **values),
    }


SERIES = {"type": "array", "items": ref("TrendSeries")}

REPORT_SCHEMAS = {
    "ReportFilter": fixed(
        where={**STRING, "description": "event, person or a group type's name."},
        key=STRING,
        op={"enum": list(Filter.OPERATORS)},
        value={**STRING, "description": "Empty for set and not_set."},
    ),
    "TrendReport": fixed(
        query=fixed(
            events={"type": "array", "items": EVENT, "minItems": 1},
            interval=INTERVAL,
            count_by=COUNT_BY,
            **REPORT_QUERY,
            breakdown_on={
                **nullable(STRING),
                "description": "event, person or a group type's name.",
            },
            breakdown={**nullable(STRING), "description": "The property broken down by."},
            compare=FLAG,
        ),
        series=SERIES,
        previous={
            **nullable(fixed(**{"from": DAY}, to=DAY, series=SERIES)),
            "description": "With compare: the same series over the period just before.",
        },
    ),
    "TrendSeries": fixed(
        label=STRING,
        event=EVENT,
        breakdown_value={
            **nullable(STRING),
            "description": "The value of this series in a breakdown (\"\" for none); "
            "null without a breakdown, and for Other.",
        },
        is_other={**FLAG, "description": "The values beyond the top 10, together."},
        total={
            **COUNT,
            "description": "Distinct over the whole period: not the sum of the points.",
        },
        data=points(value=COUNT),
    ),
    "FunnelReport": fixed(
        query=fixed(
            steps={
                "type": "array",
                "items": EVENT,
                "minItems": Funnel.MIN_STEPS,
                "maxItems": Funnel.MAX_STEPS,
            },
            window={
                "type": "integer",
                "minimum": 1,
                "maximum": Funnel.MAX_WINDOW_DAYS,
                "description": "Days from the first step within which the last one counts.",
            },
            count_by=COUNT_BY,
            **REPORT_QUERY,
        ),
        steps={"type": "array", "items": ref("FunnelStep")},
        entered={**COUNT, "description": "Units that did the first step in the period."},
        converted={**COUNT, "description": "Units that reached the last step."},
        conversion_rate=RATE,
        median_seconds_to_convert={
            **SECONDS,
            "description": "From the first step to the last, over the units that converted.",
        },
    ),
    "FunnelStep": fixed(
        event=EVENT,
        label=STRING,
        count={**COUNT, "description": "Units that reached this step, in order, in the window."},
        conversion_rate={**RATE, "description": "count as a share of the first step's."},
        conversion_from_previous={**RATE, "description": "As a share of the step before; "
                                  "null for the first step."},
        dropped={**nullable(COUNT), "description": "Reached the step before and not this one."},
        median_seconds={
            **SECONDS,
            "description": "From the first step to this one, the median of each unit's "
            "quickest; null for the first step.",
        },
    ),
    "RetentionReport": fixed(
        query=fixed(
            start_event=EVENT,
            return_event=EVENT,
            interval=INTERVAL,
            periods={"type": "integer", "minimum": 1, "maximum": Retention.MAX_PERIODS},
            count_by=COUNT_BY,
            **REPORT_QUERY,
        ),
        cohorts={
            "type": "array",
            "items": fixed(
                start={**DAY, "description": "The first day of the cohort's interval."},
                size={**COUNT, "description": "Units whose first start event fell in it."},
                returned={
                    "type": "array",
                    "items": nullable(COUNT),
                    "description": "Of them, those back in each following interval; null "
                    "for an interval that has not begun.",
                },
            ),
        },
    ),
    "ActiveGroupsReport": fixed(
        query=fixed(
            type={**STRING, "description": "The group type counted."},
            interval=INTERVAL,
            **REPORT_QUERY,
        ),
        data=points(
            strict={**COUNT, "description": "Groups whose own context was on an event."},
            overcount={
                **COUNT,
                "description": "Also every group each event with no group of the type would "
                "be credited to: those its person belonged to at the event's moment.",
            },
        ),
        events={**COUNT, "description": "Events counted (track, page and screen calls) in the "
                 "period, after the filters."},
        events_without_group={**COUNT, "description": "Of them, those with no group of the type."},
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
