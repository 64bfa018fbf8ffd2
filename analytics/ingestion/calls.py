"""What a Segment-compatible call is, and whether it can be stored: validation into
``Call`` objects, with Segment's limits, or ``Refused`` with the reason.

Anything stored must read back on every page and through the API, so every field is
type-checked here, and:

- ids, keys and event names are text without control characters (they end up in URLs,
  links and filters);
- moments, after the clock-skew correction, lie between ``EARLIEST`` and a day after the
  call is received (``FUTURE_ALLOWED``);
- free-form JSON (properties, traits, context) nests at most ``MAX_DEPTH`` levels, and
  loses its NUL characters, which PostgreSQL cannot store (the call is stored with a
  warning saying so).
"""

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson

from analytics import traits as trait_rules
from analytics.models import EventType, parse_iso_moment

CALL_LIMIT = 32 * 1024
BATCH_LIMIT = 500 * 1024
BATCH_MAX_CALLS = 2500
ID_MAX_LENGTH = 255
MAX_DEPTH = 32
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
FUTURE_ALLOWED = timedelta(days=1)
PAYLOAD_EXCERPT = 2000
# The B2B SaaS spec's event for a user leaving an account ends the membership.
ACCOUNT_REMOVED_USER = frozenset({"Account Removed User", "account_removed_user"})
CALL_TYPES = frozenset(EventType.values)
CONTROL_CHARACTER = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# How orjson writes a NUL character inside a JSON string.
ESCAPED_NUL = b"\\u0000"


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
    """The start of what was sent, as text a database column can hold."""
    if isinstance(raw, str):
        text = raw
    else:
        try:
            text = orjson.dumps(raw, default=str).decode()
        except TypeError:  # nested deeper than orjson writes
            return f"(nested more than {MAX_DEPTH} levels deep; not shown)"
    return text[:PAYLOAD_EXCERPT].replace("\x00", "\N{REPLACEMENT CHARACTER}")


def json_type(value) -> str:
    """What a decoded JSON value is, in JSON's words, for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


# --- validation -------------------------------------------------------------------


def identifier(value, label) -> str:
    """An id, key or name as stored: a string (or a number, as text) of at most 255
    characters, none of them a control character."""
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise Refused(f"{label!r} must be a string, not {json_type(value)}")
    value = str(value)
    if len(value) > ID_MAX_LENGTH:
        raise Refused(f"{label!r} is {len(value)} characters; the limit is {ID_MAX_LENGTH}")
    if found := CONTROL_CHARACTER.search(value):
        raise Refused(
            f"{label!r} holds a control character (U+{ord(found.group()):04X}) at position "
            f"{found.start()}; ids, keys and names must be printable text"
        )
    return value


def _identifier(raw, key, *, required=False, label=None):
    label = label or key
    value = raw.get(key)
    if value is None or value == "":
        if required:
            raise Refused(f"missing {label!r}")
        return ""
    return identifier(value, label)


def _object(raw, key, *, label=None):
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Refused(f"{label or key!r} must be a JSON object, not {json_type(value)}")
    return value


def _too_deep(value, limit=MAX_DEPTH) -> bool:
    """Whether objects and arrays nest more than ``limit`` levels in ``value``."""
    stack = [(value, 1)]
    while stack:
        container, depth = stack.pop()
        if depth > limit:
            return True
        for item in container.values() if isinstance(container, dict) else container:
            if isinstance(item, (dict, list)):
                stack.append((item, depth + 1))
    return False


def without_nul(value):
    """``value`` with NUL characters taken out of every string and key in it."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {key.replace("\x00", ""): without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [without_nul(item) for item in value]
    return value


def parse_moment(value, label):
    """An ISO-8601 date or time as an aware datetime in UTC (without an offset it is UTC);
    None when absent. Refused when malformed or when its year falls outside 1–9999 in
    UTC, which neither Python nor the pages could show."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Refused(f"{label!r} must be an ISO-8601 date string, not {json_type(value)}")
    try:
        return parse_iso_moment(value)
    except ValueError:
        raise Refused(f"{label!r} is not an ISO-8601 date: {value[:40]!r}") from None
    except OverflowError:
        raise Refused(f"{label!r} falls outside the years 1 to 9999 in UTC: {value[:40]!r}") from None


def _timestamp(raw, *, received_at, sent_at):
    """When the call happened: its timestamp corrected for the client's clock, as Segment
    does, or the moment it was received; refused outside the accepted window."""
    label = "timestamp" if raw.get("timestamp") not in (None, "") else "originalTimestamp"
    original = parse_moment(raw.get(label), label)
    if original is None:
        return received_at
    corrected = ""
    moment = original
    if sent_at is not None:
        # Segment's clock-skew correction: trust the server's clock for "now" and the
        # client's only for the time between the event and its sending.
        corrected = " after correcting for the client's clock (received − (sentAt − timestamp))"
        try:
            moment = received_at - (sent_at - original)
        except OverflowError:
            moment = None
    latest = received_at + FUTURE_ALLOWED
    if moment is None or not EARLIEST <= moment <= latest:
        shown = f"is {moment:%Y-%m-%d %H:%M:%S} UTC" if moment else "falls outside the years 1 to 9999"
        raise Refused(
            f"{label!r} {shown}{corrected}; accepted moments run from "
            f"{EARLIEST:%Y-%m-%d} to a day after the call is received"
        )
    return moment


def _group_context(context, warnings):
    groups = {}
    entries = context.get("groups")
    if entries is not None and not isinstance(entries, dict):
        warnings.append(
            f"context.groups must be an object of {{type: key}}, not {json_type(entries)}; ignored"
        )
        entries = None
    for type_name, key in (entries or {}).items():
        try:
            groups[type_name.strip().lower()] = _identifier(
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


def _group_type_name(value, label):
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Refused(f"{label!r} must be a string, not {json_type(value)}")
    return value.strip().lower() or None


def parse_call(raw, index, *, received_at, batch_sent_at=None, batch_context=None) -> Call:
    """Validate one raw call; raises ``Refused`` with the reason when it cannot be stored.

    ``batch_sent_at`` and ``batch_context`` are what the batch around the call sent
    (``sentAt``, as sent, and ``context``, checked by ``batch_context_of``).
    """
    if not isinstance(raw, dict):
        raise Refused(f"a call must be a JSON object, not {json_type(raw)}")
    if _too_deep(raw):
        raise Refused(f"the call nests objects or arrays more than {MAX_DEPTH} levels deep")
    dumped = orjson.dumps(raw, default=str)
    if len(dumped) > CALL_LIMIT:
        raise Refused(f"the call is {len(dumped):,} bytes; a call may be at most 32 KB")
    call_type = raw.get("type")
    if not isinstance(call_type, str) or call_type not in CALL_TYPES:
        shown = repr(call_type[:40]) if isinstance(call_type, str) else json_type(call_type)
        raise Refused(f"unknown call type {shown}; expected one of {', '.join(EventType.values)}")
    user_id = _identifier(raw, "userId")
    anonymous_id = _identifier(raw, "anonymousId")
    if not user_id and not anonymous_id:
        raise Refused("a call needs a 'userId' or an 'anonymousId'")
    message_id = _identifier(raw, "messageId") or f"groupsite-{uuid.uuid4()}"

    warnings = []
    context = {**(batch_context or {}), **_object(raw, "context")}
    if batch_context:
        # Stored with the call: it counts toward the call's size.
        size = len(orjson.dumps({**raw, "context": context}, default=str))
        if size > CALL_LIMIT:
            raise Refused(
                f"the call is {size:,} bytes with the batch's context; a call may be at most 32 KB"
            )
    sent_at = parse_moment(raw.get("sentAt"), "sentAt")
    if sent_at is None:
        sent_at = parse_moment(batch_sent_at, "sentAt")
    call = Call(
        index=index,
        type=call_type,
        message_id=message_id,
        user_id=user_id,
        anonymous_id=anonymous_id,
        name="",
        timestamp=_timestamp(raw, received_at=received_at, sent_at=sent_at),
        sent_at=sent_at,
        properties={},
        context=context,
        groups=_group_context(context, warnings),
        warnings=warnings,
    )

    if call_type == EventType.TRACK:
        call.name = _identifier(raw, "event", required=True)
        call.properties = _object(raw, "properties")
    elif call_type in (EventType.PAGE, EventType.SCREEN):
        call.properties = _object(raw, "properties")
        call.name = _identifier(raw, "name") or _page_name(call.properties)
    elif call_type == EventType.IDENTIFY:
        call.properties = trait_rules.normalize(_object(raw, "traits"), trait_rules.USER_RESERVED)
    elif call_type == EventType.GROUP:
        call.group_key = _identifier(raw, "groupId", required=True)
        group_traits = dict(_object(raw, "traits"))
        type_trait = _group_type_name(trait_rules.pop_group_type(group_traits), "traits.groupType")
        call.group_type = _group_type_name(context.get("groupType"), "context.groupType") or type_trait
        call.properties = trait_rules.normalize(group_traits, trait_rules.GROUP_RESERVED)
    elif call_type == EventType.ALIAS:
        if not user_id:
            raise Refused("an alias call needs the new 'userId'")
        call.previous_id = _identifier(raw, "previousId", required=True)
        call.properties = {"previousId": call.previous_id}

    if ESCAPED_NUL in dumped:
        # Only free-form JSON can still hold one: ids and names with any control
        # character were refused above.
        call.properties, call.context = without_nul(call.properties), without_nul(call.context)
        warnings.append(
            "NUL characters (U+0000) were removed from the call's properties, traits or "
            "context: the database cannot store them"
        )
    return call


def _page_name(properties):
    """A page or screen call's name from its ``name`` property, when that is usable."""
    name = properties.get("name")
    try:
        return identifier(name, "properties.name") if name not in (None, "") else ""
    except Refused:
        return ""


def batch_context_of(payload) -> dict | None:
    """The ``context`` a batch sends for all its calls, checked; None when absent."""
    context = payload.get("context")
    if context is None:
        return None
    if not isinstance(context, dict):
        raise Refused(f"the batch's 'context' must be a JSON object, not {json_type(context)}")
    if _too_deep(context, MAX_DEPTH - 1):
        raise Refused(f"the batch's 'context' nests more than {MAX_DEPTH - 1} levels deep")
    return without_nul(context)
