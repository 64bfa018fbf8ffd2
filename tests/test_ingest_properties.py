"""Property-based tests of the tracking API: hypothesis sends calls and batches with any
JSON in any field (any Unicode, NUL and newlines included, numbers, lists, objects,
deep nesting, absurd timestamps), mixed with calls known to be valid, and raw bytes.

Whatever it sends: never a 5xx; every valid call is stored exactly once, a retry of
the same batch stores nothing more; every call refused comes with a reason; and after
the run every page and API list of the workspace reads back.
"""

import html
import json
from datetime import datetime, timedelta, timezone
from itertools import count

from django.urls import reverse
from django.utils import timezone as django_timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics.ingestion.calls import MAX_DEPTH
from analytics.models import Event, EventType, Group, Person

EXAMPLES = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,  # the same cases on every run, in CI too
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)

# --- any JSON ---------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["\x00", "a\x00b", "line\nbreak", "\r\n", "\u2028", "🚀", "", " ", "/", ".."])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def deep(levels):
    value = "bottom"
    for _ in range(levels):
        value = {"d": value}
    return value


offsets = st.timedeltas(min_value=timedelta(hours=-23, minutes=-59), max_value=timedelta(hours=23, minutes=59))
moments = st.one_of(
    st.datetimes(
        min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59),
        timezones=offsets.map(lambda delta: timezone(delta)),
    ).map(lambda moment: moment.isoformat()),
    st.sampled_from(["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "yesterday",
                     "2024-02-30T00:00:00Z", "1970-01-01T00:00:00Z"]),
    json_values,
)
free_form = st.one_of(
    st.dictionaries(st.text(max_size=10), json_values, max_size=5),
    st.integers(min_value=MAX_DEPTH - 2, max_value=MAX_DEPTH + 2).map(deep),
    st.just(deep(300)),
    json_values,
)
ids = st.one_of(st.text(max_size=20), st.integers(), st.sampled_from(["a\nb", "x\x00", "ü/..", "a" * 256]), json_values)

ANY_FIELD = {
    "type": st.one_of(st.sampled_from(EventType.values), json_values),
    "userId": ids, "anonymousId": ids, "messageId": ids, "groupId": ids, "previousId": ids,
    "event": ids, "name": ids,
    "timestamp": moments, "originalTimestamp": moments, "sentAt": moments,
    "properties": free_form, "traits": free_form,
    "context": st.one_of(
        free_form,
        st.fixed_dictionaries({}, optional={
            "groupId": ids, "groupType": ids, "groups": st.dictionaries(st.text(max_size=8), ids, max_size=3),
        }),
    ),
}
any_call = st.one_of(st.fixed_dictionaries({}, optional=ANY_FIELD), json_values)

# --- calls known to be valid ----------------------------------------------------------

printable_ids = st.text(
    st.characters(exclude_categories=["Cc", "Cs"]), min_size=1, max_size=40
).filter(str.strip)
recent = st.integers(min_value=0, max_value=90 * 24 * 3600).map(
    lambda seconds: (django_timezone.now() - timedelta(seconds=seconds)).isoformat()
)
objects = st.dictionaries(st.text(max_size=10), json_values, max_size=5)


@st.composite
def valid_calls(draw):
    kind = draw(st.sampled_from(EventType.values))
    call = {"type": kind, "userId": draw(printable_ids), "timestamp": draw(recent)}
    if kind == "track":
        call |= {"event": draw(printable_ids), "properties": draw(objects)}
    elif kind in ("page", "screen"):
        call |= {"name": draw(printable_ids), "properties": draw(objects)}
    elif kind == "identify":
        call["traits"] = draw(objects)
    elif kind == "group":
        call |= {"groupId": draw(printable_ids), "traits": draw(objects)}
    elif kind == "alias":
        call["previousId"] = draw(printable_ids)
    if draw(st.booleans()):
        call["context"] = {"groups": {"team": draw(printable_ids)}, "extra": draw(json_values)}
    return call


@st.composite
def mutated_calls(draw):
    """A valid call with one to three of its fields given any value."""
    call = draw(valid_calls())
    for name in draw(st.lists(st.sampled_from(sorted(ANY_FIELD)), min_size=1, max_size=3, unique=True)):
        call[name] = draw(ANY_FIELD[name])
    return call


batches = st.lists(
    st.one_of(
        valid_calls().map(lambda call: ("valid", call)),
        # Mostly calls that are nearly right: they reach deeper than the first check.
        mutated_calls().map(lambda call: ("any", call)),
        mutated_calls().map(lambda call: ("any", call)),
        any_call.map(lambda call: ("any", call)),
    ),
    min_size=1, max_size=8,
)


def test_any_batch_is_answered_without_a_server_error_and_valid_calls_are_stored_once(
    send, workspace, alice_client, api
):
    numbers = count()

    @settings(EXAMPLES, max_examples=300)
    @given(batches)
    def run(batch):
        example = next(numbers)
        calls = []
        for index, (kind, call) in enumerate(batch):
            if kind == "valid":
                call = {**call, "messageId": f"valid-{example}-{index}"}
            calls.append(call)
        first = send.batch(*calls)
        assert first.status_code in (200, 400), first.content
        answer = first.json()
        refused = {item["index"]: item["error"] for item in answer.get("rejected", [])}
        assert all(isinstance(error, str) and error for error in refused.values())
        valid = [i for i, (kind, _) in enumerate(batch) if kind == "valid"]
        assert not set(valid) & set(refused), (refused, calls)
        for i in valid:
            assert Event.objects.filter(workspace=workspace, message_id=calls[i]["messageId"]).count() == 1
        assert answer["stored"] + answer["duplicates"] + len(refused) == len(calls)
        # Sent again, everything is a duplicate but the calls without a messageId, which
        # get a new one each time (Segment's libraries always send one).
        unnamed = sum(
            1 for i, call in enumerate(calls)
            if i not in refused and call.get("messageId") in (None, "")
        )
        again = send.batch(*calls).json()
        assert again["stored"] == unnamed
        assert again["duplicates"] == answer["stored"] + answer["duplicates"] - unnamed

    run()
    check_everything_reads_back(alice_client, api, workspace)


@EXAMPLES
@given(body=st.one_of(st.binary(max_size=300), json_values.map(lambda v: json.dumps(v).encode())),
       endpoint=st.sampled_from(["batch", "track", "identify", "group", "page", "screen", "alias"]))
def test_any_body_on_any_endpoint_is_answered_without_a_server_error(send, body, endpoint):
    response = send.post(endpoint, body)
    assert response.status_code in (200, 400, 413), response.content
    assert response.json()["message" if response.status_code != 200 else "success"] is not None


@EXAMPLES
@given(payload=st.fixed_dictionaries({}, optional={**ANY_FIELD, "writeKey": ids, "batch": st.lists(any_call, max_size=3)}))
def test_any_single_call_payload_is_answered_without_a_server_error(send, payload):
    for endpoint in ("track", "batch"):
        response = send.post(endpoint, payload)
        assert response.status_code in (200, 400, 401), response.content


def check_everything_reads_back(client, api, workspace):
    """Every list page and API list answers 200, and so do the profiles of every person
    and group stored (their links followed as the pages give them)."""
    for path in ("/people", "/groups/company", "/groups/team", "/settings/ingestion-problems"):
        assert client.get(path).status_code == 200, path
    for path in ("people", "events", "groups/company", "groups/team", "ingestion-problems"):
        response = api.get(path)
        assert response.status_code == 200, (path, response.content)
    for person in Person.objects.filter(workspace=workspace):
        assert client.get(f"/people/{person.pk}").status_code == 200, person.user_id
    for group in Group.objects.filter(workspace=workspace).select_related("group_type"):
        listed = client.get("/groups/" + group.group_type.name, {"q": group.key[:20]})
        assert listed.status_code == 200, group.key
        link = reverse("group", args=[group.group_type.name, group.key])
        assert link in html.unescape(listed.content.decode()), group.key
        profile = client.get(link)
        assert profile.status_code == 200 and profile.context["group"] == group, group.key
    assert Event.objects.filter(workspace=workspace).exists()
