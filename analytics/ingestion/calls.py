"""What a Segment-compatible call is, and whether it can be stored: validation into
``Call`` objects, with Segment's limits, or ``Refused`` with the reason."""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson

from analytics import traits as trait_rules
from analytics.models import EventType

CALL_LIMIT = 32 * 1024
BATCH_LIMIT = 500 * 1024
BATCH_MAX_CALLS = 2500
ID_MAX_LENGTH = 255
PAYLOAD_EXCERPT = 2000
# The B2B SaaS spec's event for a user leaving an account ends the membership.
ACCOUNT_REMOVED_USER = frozenset({"Account Removed User", "account_removed_user"})
CALL_TYPES = frozenset(EventType.values)


class Refused(Exception):
    """A call (or a whole request) that cannot be stored; the message says why."""

    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status



@dataclass
class Call:
    """One validated call, ready to be stored."""

    index: int
    type: str
    message_id: str
    user_id: str
    anonymous_id: str
    name: str
    timestamp: datetime
    sent_at: datetime | None
    properties: dict
    context: dict
    # Explicit group context: wire type name ("" for the default type) -> key.
    groups: dict
    group_type: str | None = None  # group calls: wire type name, None for the default
    group_key: str | None = None  # group calls
    previous_id: str | None = None  # alias calls
    warnings: list = field(default_factory=list)

    @property
    def removes_user_from_account(self):
        return self.type == EventType.TRACK and self.name in ACCOUNT_REMOVED_USER


def excerpt(raw) -> str:
    text = raw if isinstance(raw, str) else orjson.dumps(raw, default=str).decode()
    return text[:PAYLOAD_EXCERPT]


# --- validation -------------------------------------------------------------------


def _identifier(raw, key, *, required=False, label=None):
    label = label or key
    value = raw.get(key)
    if value is None or value == "":
        if required:
            raise Refused(f"missing {label!r}")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise Refused(f"{label!r} must be a string, not {type(value).__name__}")
    value = str(value)
    if len(value) > ID_MAX_LENGTH:
        raise Refused(f"{label!r} is {len(value)} characters; the limit is {ID_MAX_LENGTH}")
    return value


def _object(raw, key):
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Refused(f"{key!r} must be a JSON object, not {type(value).__name__}")
    return value


def parse_moment(value, label):
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Refused(f"{label!r} must be an ISO-8601 date string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise Refused(f"{label!r} is not an ISO-8601 date: {value[:40]!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _group_context(context, warnings):
    groups = {}
    entries = context.get("groups")
    if entries is not None and not isinstance(entries, dict):
        warnings.append("context.groups must be an object of {type: key}; ignored")
        entries = None
    for type_name, key in (entries or {}).items():
        try:
            groups[str(type_name).strip().lower()] = _identifier(
                entries, type_name, required=True, label=f"context.groups.{type_name}"
            )
        except Refused as problem:
            warnings.append(f"{problem}; that group was ignored")
    if context.get("groupId") not in (None, ""):
        try:
            groups[""] = _identifier(context, "groupId", label="context.groupId")
        except Refused as problem:
            warnings.append(f"{problem}; that group was ignored")
    return groups


def parse_call(raw, index, *, received_at, batch_sent_at=None, batch_context=None) -> Call:
    """Validate one raw call; raises ``Refused`` with the reason when it cannot be stored."""
    if not isinstance(raw, dict):
        raise Refused(f"a call must be a JSON object, not {type(raw).__name__}")
    size = len(orjson.dumps(raw, default=str))
    if size > CALL_LIMIT:
        raise Refused(f"the call is {size:,} bytes; a call may be at most 32 KB")
    call_type = raw.get("type")
    if call_type not in CALL_TYPES:
        raise Refused(
            f"unknown call type {call_type!r}; expected one of {', '.join(EventType.values)}"
        )
    user_id = _identifier(raw, "userId")
    anonymous_id = _identifier(raw, "anonymousId")
    if not user_id and not anonymous_id:
        raise Refused("a call needs a 'userId' or an 'anonymousId'")
    message_id = _identifier(raw, "messageId") or f"groupsite-{uuid.uuid4()}"

    context = {**(batch_context or {}), **_object(raw, "context")}
    warnings = []
    call = Call(
        index=index,
        type=call_type,
        message_id=message_id,
        user_id=user_id,
        anonymous_id=anonymous_id,
        name="",
        timestamp=received_at,
        sent_at=None,
        properties={},
        context=context,
        groups=_group_context(context, warnings),
        warnings=warnings,
    )

    original = parse_moment(raw.get("timestamp") or raw.get("originalTimestamp"), "timestamp")
    call.sent_at = parse_moment(raw.get("sentAt"), "sentAt") or batch_sent_at
    if original and call.sent_at:
        # Segment's clock-skew correction: trust the server's clock for "now" and the
        # client's only for the time between the event and its sending.
        call.timestamp = received_at - (call.sent_at - original)
    elif original:
        call.timestamp = original

    if call_type == EventType.TRACK:
        call.name = _identifier(raw, "event", required=True)
        call.properties = _object(raw, "properties")
    elif call_type in (EventType.PAGE, EventType.SCREEN):
        call.properties = _object(raw, "properties")
        call.name = _identifier(raw, "name") or _identifier(call.properties, "name")
    elif call_type == EventType.IDENTIFY:
        call.properties = trait_rules.normalize(_object(raw, "traits"), trait_rules.USER_RESERVED)
    elif call_type == EventType.GROUP:
        call.group_key = _identifier(raw, "groupId", required=True)
        group_traits = dict(_object(raw, "traits"))
        type_trait = trait_rules.pop_group_type(group_traits)
        call.group_type = str(context.get("groupType") or type_trait or "").strip().lower() or None
        call.properties = trait_rules.normalize(group_traits, trait_rules.GROUP_RESERVED)
    elif call_type == EventType.ALIAS:
        if not user_id:
            raise Refused("an alias call needs the new 'userId'")
        call.previous_id = _identifier(raw, "previousId", required=True)
        call.properties = {"previousId": call.previous_id}
    return call
