"""Calls that are refused with a reason, or stored in a form every page can read back:
moments the database or Python cannot hold, control characters in ids, NUL characters,
wrong JSON types and absurd nesting. In every case the rest of the batch is stored and
no page or API list of the workspace breaks afterwards."""

import importlib
import json
from datetime import UTC, datetime, timedelta

import pytest
from calls import numbered_track
from django.apps import apps
from django.db import connection
from django.utils import timezone

from analytics.ingestion.calls import MAX_DEPTH
from analytics.models import Event, Group, IngestionProblem, Person


def refusal(response, index=1):
    """The error of the refused call at ``index`` (the batch's others were stored)."""
    body = response.json()
    assert response.status_code == 400, body
    assert [item["index"] for item in body["rejected"]] == [index], body
    return body["rejected"][0]["error"]


@pytest.fixture
def readable(alice_client, api):
    """Asserts that every list of the workspace, on the pages and the API, reads back."""

    def check():
        for path in ("/people", "/groups/company", "/groups/team", "/settings/ingestion-problems"):
            assert alice_client.get(path).status_code == 200, path
        for path in ("people", "events", "groups/company", "ingestion-problems"):
            assert api.get(path).status_code == 200, path
        for person in Person.objects.all():
            assert alice_client.get(f"/people/{person.pk}").status_code == 200

    return check


# --- moments ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "moment",
    [
        "9999-12-31T23:59:59-14:00",  # year 10000 in UTC
        "0001-01-01T00:00:00+14:00",  # year 0 in UTC
    ],
)
def test_a_timestamp_beyond_the_years_python_holds_is_refused(send, readable, moment):
    response = send.batch(numbered_track(1), numbered_track(2, timestamp=moment), numbered_track(3))
    assert refusal(response) == f"'timestamp' falls outside the years 1 to 9999 in UTC: {moment!r}"
    assert response.json()["stored"] == 2
    readable()


@pytest.mark.parametrize(
    ("moment", "shown"),
    [
        ("0001-01-01T00:00:00Z", "1-01-01 00:00:00"),
        ("1999-12-31T23:59:59Z", "1999-12-31 23:59:59"),
        ("9999-12-31T23:59:59Z", "9999-12-31 23:59:59"),
    ],
)
def test_a_timestamp_outside_the_accepted_window_is_refused(send, readable, moment, shown):
    response = send.batch(numbered_track(1), numbered_track(2, timestamp=moment))
    assert refusal(response) == (
        f"'timestamp' is {shown} UTC; accepted moments run from 2000-01-01 to a day after "
        "the call is received"
    )
    readable()


def test_the_window_starts_at_2000_and_ends_a_day_after_receipt(send):
    soon = (timezone.now() + timedelta(hours=23)).isoformat()
    too_late = (timezone.now() + timedelta(days=1, minutes=5)).isoformat()
    response = send.batch(
        numbered_track(1, timestamp="2000-01-01T00:00:00Z"), numbered_track(2, timestamp=soon),
        numbered_track(3, timestamp=too_late),
    )
    assert "'timestamp' is " in refusal(response, index=2)
    assert Event.objects.get(message_id="m1").timestamp == datetime(2000, 1, 1, tzinfo=UTC)
    assert Event.objects.filter(message_id="m2").exists()


def test_original_timestamp_is_named_when_it_is_the_one_sent(send):
    response = send.batch(
        numbered_track(1), numbered_track(2, originalTimestamp="1980-05-01T00:00:00Z")
    )
    assert refusal(response).startswith("'originalTimestamp' is 1980-05-01 00:00:00 UTC")


def test_a_clock_skew_correction_that_overflows_is_refused(send, readable):
    # received − (sentAt − timestamp) lands before year 1.
    response = send.batch(
        numbered_track(1),
        numbered_track(2, timestamp="0001-01-02T00:00:00Z", sentAt="9999-12-30T00:00:00Z"),
    )
    assert refusal(response) == (
        "'timestamp' falls outside the years 1 to 9999 after correcting for the client's "
        "clock (received − (sentAt − timestamp)); accepted moments run from 2000-01-01 to "
        "a day after the call is received"
    )
    readable()


def test_a_correction_into_the_past_names_the_correction(send):
    now = timezone.now()
    response = send.batch(
        numbered_track(1),
        numbered_track(
            2, timestamp=(now - timedelta(days=40 * 365)).isoformat(), sentAt=now.isoformat()
        ),
    )
    assert "after correcting for the client's clock" in refusal(response)


def test_a_sent_at_beyond_the_years_python_holds_is_refused(send, readable):
    response = send.batch(numbered_track(1), numbered_track(2, sentAt="0001-01-01T00:00:00+14:00"))
    assert refusal(response).startswith("'sentAt' falls outside the years 1 to 9999 in UTC")
    readable()


def test_a_bad_batch_sent_at_refuses_each_call_by_name(send):
    batch = [numbered_track(1), numbered_track(2)]
    response = send.post("batch", {"sentAt": ["now"], "batch": batch})
    body = response.json()
    assert response.status_code == 400
    assert [r["error"] for r in body["rejected"]] == [
        "'sentAt' must be an ISO-8601 date string, not an array"
    ] * 2


# --- control characters -------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "field"),
    [
        ({"type": "group", "userId": "u1", "groupId": "acme\ninc"}, "groupId"),
        ({"type": "track", "userId": "ann\n", "event": "E"}, "userId"),
        ({"type": "page", "anonymousId": "a\rb"}, "anonymousId"),
        ({"type": "track", "userId": "u1", "event": "Clicked\tTwice"}, "event"),
        ({"type": "track", "userId": "u1", "event": "E", "messageId": "m\x1b"}, "messageId"),
        ({"type": "alias", "userId": "u1", "previousId": "old\x7f"}, "previousId"),
        ({"type": "page", "userId": "u1", "name": "Home\x85"}, "name"),
    ],
)
def test_ids_keys_and_names_with_control_characters_are_refused(send, readable, call, field):
    response = send.batch(numbered_track(1), call, numbered_track(3))
    assert refusal(response).startswith(f"'{field}' holds a control character (U+00")
    assert "ids, keys and names must be printable text" in refusal(response)
    assert Event.objects.count() == 2
    readable()


def test_a_group_in_context_with_a_control_character_is_ignored_with_a_warning(send, readable):
    response = send.batch(
        numbered_track(1, context={"groupId": "acme\n", "groups": {"team": "growth\x00"}})
    )
    body = response.json()
    assert response.status_code == 200, body
    warnings = [w["warning"] for w in body["warnings"]]
    assert any(w.startswith("'context.groupId' holds a control character (U+000A)") for w in warnings)
    assert any(w.startswith("'context.groups.team' holds a control character (U+0000)") for w in warnings)
    event = Event.objects.get()
    assert event.group_ids() == {}
    assert not Group.objects.exists()
    readable()


def test_unicode_beyond_control_characters_is_kept(send):
    key = "Zürich AG \u200b🚀 / ü"
    response = send.batch({"type": "group", "userId": "ünï", "groupId": key})
    assert response.status_code == 200, response.json()
    assert Group.objects.get().key == key


# --- NUL --------------------------------------------------------------------------


def test_nul_characters_are_taken_out_of_free_form_json_with_a_warning(send, readable, workspace):
    response = send.batch(
        numbered_track(1, properties={"plan\x00": "pro\x00", "list": ["a\x00b", {"k": "\x00"}]},
              context={"page": {"title": "Home\x00"}}),
        {"type": "identify", "userId": "u1", "traits": {"name": "Ann\x00", "email": "ann@x.io\x00"},
         "messageId": "m2"},
        {"type": "group", "userId": "u1", "groupId": "acme", "traits": {"name": "Acme\x00"},
         "messageId": "m3"},
    )
    body = response.json()
    assert response.status_code == 200, body
    assert body["stored"] == 3
    assert [w["index"] for w in body["warnings"]] == [0, 1, 2]
    assert body["warnings"][0]["warning"] == (
        "NUL characters (U+0000) were removed from the call's properties, traits or context: "
        "the database cannot store them"
    )
    clicked = Event.objects.get(message_id="m1")
    assert clicked.properties == {"plan": "pro", "list": ["ab", {"k": ""}]}
    assert clicked.context["page"] == {"title": "Home"}
    person = Person.objects.get()
    assert (person.traits["name"], person.email) == ("Ann", "ann@x.io")
    assert Group.objects.get().properties == {"name": "Acme"}
    assert IngestionProblem.objects.filter(workspace=workspace, level="warning").count() == 3
    readable()


def test_nul_in_an_id_refuses_that_call_and_keeps_its_record_readable(send, readable, workspace):
    response = send.batch(numbered_track(1), {"type": "track", "userId": "u\x00", "event": "E",
                                     "messageId": "m\x002"})
    assert refusal(response).startswith("'userId' holds a control character (U+0000)")
    problem = IngestionProblem.objects.get(workspace=workspace)
    assert (problem.user_id, problem.message_id) == ("u", "m2")
    assert "\x00" not in problem.payload
    readable()


def test_a_raw_nul_byte_refuses_the_request_as_malformed_json(send, readable, workspace):
    response = send.post("batch", b'{"batch": [{"type": "track", "userId": "u\x00", "event": "E"}]}')
    assert response.status_code == 400
    assert response.json()["message"].startswith("the body is not valid JSON")
    assert "\x00" not in IngestionProblem.objects.get(workspace=workspace).payload
    readable()


def test_nul_in_the_batch_context_is_taken_out(send):
    response = send.post("batch", {"context": {"app": "a\x00"}, "batch": [numbered_track(1)]})
    assert response.status_code == 200, response.json()
    assert Event.objects.get().context == {"app": "a"}


# --- lone surrogates -------------------------------------------------------------


def test_half_a_surrogate_pair_is_read_as_the_replacement_character(send, readable):
    # What JSON.stringify writes for a JavaScript string cut in the middle of an emoji:
    # valid JSON that orjson refuses, and that once refused the whole batch.
    body = json.dumps({"batch": [
        numbered_track(1),
        numbered_track(
            2, userId="u\ud83d", properties={"query": "cut \ud83d", "\udc00key": ["\ude00"]}
        ),
        numbered_track(3, properties={"pair": "\ud83d\ude00", "escaped": "\\ud83d"}),
    ]})
    assert "\\ud83d" in body  # written as an escape, as browsers do
    response = send.post("batch", body.encode())
    assert response.status_code == 200, response.json()
    assert response.json()["stored"] == 3
    cut = Event.objects.get(message_id="m2")
    assert cut.user_id == "u\ufffd"
    assert cut.properties == {"query": "cut \ufffd", "\ufffdkey": ["\ufffd"]}
    assert Event.objects.get(message_id="m3").properties == {"pair": "😀", "escaped": "\\ud83d"}
    readable()


# --- JSON types -------------------------------------------------------------------

WRONG_TYPES = {"array": [], "object": {}, "boolean": True}
FIELDS = [
    # (a valid call, the field given the wrong type, how the error names it, the error)
    ({"type": "track", "userId": "u1", "event": "E"}, "type", "unknown call type"),
    ({"type": "track", "userId": "u1", "event": "E"}, "userId", "'userId' must be a string"),
    ({"type": "track", "anonymousId": "a1", "event": "E"}, "anonymousId",
     "'anonymousId' must be a string"),
    ({"type": "track", "userId": "u1", "event": "E"}, "messageId", "'messageId' must be a string"),
    ({"type": "track", "userId": "u1", "event": "E"}, "event", "'event' must be a string"),
    ({"type": "page", "userId": "u1"}, "name", "'name' must be a string"),
    ({"type": "group", "userId": "u1", "groupId": "g"}, "groupId", "'groupId' must be a string"),
    ({"type": "alias", "userId": "u1", "previousId": "p"}, "previousId",
     "'previousId' must be a string"),
    ({"type": "track", "userId": "u1", "event": "E"}, "timestamp",
     "'timestamp' must be an ISO-8601 date string"),
    ({"type": "track", "userId": "u1", "event": "E"}, "originalTimestamp",
     "'originalTimestamp' must be an ISO-8601 date string"),
    ({"type": "track", "userId": "u1", "event": "E"}, "sentAt",
     "'sentAt' must be an ISO-8601 date string"),
    ({"type": "track", "userId": "u1", "event": "E"}, "properties",
     "'properties' must be a JSON object"),
    ({"type": "identify", "userId": "u1"}, "traits", "'traits' must be a JSON object"),
    ({"type": "track", "userId": "u1", "event": "E"}, "context", "'context' must be a JSON object"),
]


OBJECT_FIELDS = {"properties", "traits", "context"}
CASES = [
    pytest.param(call, field, error, wrong, id=f"{field}-{wrong}")
    for call, field, error in FIELDS
    for wrong in WRONG_TYPES
    if not (field in OBJECT_FIELDS and wrong == "object")  # the right type there
]


@pytest.mark.parametrize(("call", "field", "error", "wrong"), CASES)
def test_every_field_of_a_call_is_type_checked(send, call, field, error, wrong):
    response = send.batch(numbered_track(1), {**call, field: WRONG_TYPES[wrong]}, numbered_track(3))
    assert error in refusal(response)
    assert Event.objects.count() == 2


@pytest.mark.parametrize(
    ("call", "error"),
    [
        ({"type": "group", "userId": "u1", "groupId": "g", "context": {"groupType": ["team"]}},
         "'context.groupType' must be a string, not an array"),
        ({"type": "group", "userId": "u1", "groupId": "g", "traits": {"group_type": {"a": 1}}},
         "'traits.groupType' must be a string, not an object"),
        ("track", "a call must be a JSON object, not a string"),
    ],
)
def test_nested_fields_and_items_are_type_checked(send, call, error):
    response = send.batch(numbered_track(1), call)
    assert refusal(response) == error


def test_a_page_name_property_of_another_type_is_just_a_property(send):
    response = send.batch({"type": "page", "userId": "u1", "properties": {"name": {"x": 1}}})
    assert response.status_code == 200, response.json()
    page = Event.objects.get()
    assert (page.name, page.properties) == ("", {"name": {"x": 1}})


def test_a_batch_context_that_is_not_an_object_refuses_the_request(send):
    response = send.post("batch", {"context": "web", "batch": [numbered_track(1)]})
    assert response.status_code == 400
    assert response.json()["message"] == "the batch's 'context' must be a JSON object, not a string"


# --- nesting ----------------------------------------------------------------------


def nested(levels):
    """A value of ``levels`` nested objects."""
    value = "deep"
    for _ in range(levels):
        value = {"a": value}
    return value


def test_calls_nest_at_most_max_depth_levels(send, readable):
    # The call itself is the first level and its properties the second.
    deepest = numbered_track(1, properties=nested(MAX_DEPTH - 1))
    too_deep = numbered_track(2, properties=nested(MAX_DEPTH))
    response = send.batch(deepest, too_deep, numbered_track(3))
    assert refusal(response) == (
        f"the call nests objects or arrays more than {MAX_DEPTH} levels deep"
    )
    assert sorted(Event.objects.values_list("message_id", flat=True)) == ["m1", "m3"]
    readable()


def test_nesting_beyond_what_json_writers_handle_is_refused_not_a_failure(send, workspace):
    # orjson writes at most 255 levels; this call's record is kept without its content.
    response = send.batch(numbered_track(1), numbered_track(2, properties=nested(300)))
    assert "more than 32 levels deep" in refusal(response)
    problem = IngestionProblem.objects.get(workspace=workspace)
    assert problem.payload == "(nested more than 32 levels deep; not shown)"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite stores moments as text Django wrote")
def test_moments_stored_before_they_were_bounded_are_made_readable(send, readable, alice_client):
    """Data stored before ingestion refused such moments breaks pages until migration
    0010 brings it back to the nearest readable moment."""
    send.batch(
        numbered_track(1), {"type": "group", "userId": "u1", "groupId": "acme", "messageId": "g"}
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE analytics_event SET timestamp = '10000-01-01 13:59:59+00', "
            "sent_at = '0001-01-01 00:00:00+14:00' WHERE message_id = 'm1'"
        )
        cursor.execute("UPDATE analytics_person SET last_seen_at = '10000-01-01 13:59:59+00'")
        cursor.execute("UPDATE analytics_membership SET started_at = '0001-01-01 00:00:00+14:00'")
    with pytest.raises(Exception, match="year 10000 is out of range|too large"):
        alice_client.get("/people")

    migration = importlib.import_module("analytics.migrations.0010_readable_moments")
    with connection.schema_editor() as editor:
        migration.make_moments_readable(apps, editor)

    readable()
    event = Event.objects.get(message_id="m1")
    assert (event.timestamp.year, event.sent_at.year) == (9999, 1)
    assert Event.objects.get(message_id="g").timestamp.year == timezone.now().year
