"""Every query parameter of the API and of the dashboard's pages is checked: a value that
cannot be used is a 400 saying so, never a 500; the API also refuses parameters it does not
take. django-tables2's own page and sort fall back harmlessly."""

import base64
import json
from html import unescape

import pytest

from analytics.models import Person


@pytest.fixture
def acme(send, company):
    response = send.batch(
        {"type": "identify", "userId": "ann", "traits": {"email": "ann@acme.io", "name": "Ann"}},
        *({"type": "group", "userId": f"u{n}", "groupId": "acme"} for n in range(3)),
        {"type": "group", "userId": "ann", "groupId": "globex"},
        {"type": "track", "userId": "ann", "event": "Report Viewed", "context": {"groupId": "acme"}},
    )
    assert response.status_code == 200


def cursor(moment, pk=1):
    """A cursor as the pages and the API write them, for any moment and id."""
    return base64.urlsafe_b64encode(json.dumps([moment, pk]).encode()).decode().rstrip("=")


def message(response, status=400):
    assert response.status_code == status, response.content[:300]
    return response.json()["message"]


# --- the API: parameters it does not take ------------------------------------------

# What every report takes (count_by: every report but active groups, which take a type).
REPORT_COMMON = [
    "range", "from", "to", "count_by", "where", "key", "op", "value", "internal", "cohort"
]

API_PARAMETERS = [
    ("get", "group-types", ["page", "page_size"]),
    ("get", "groups/company", ["search", "page", "page_size"]),
    ("get", "groups/company/acme", ["members_page", "page_size"]),
    ("get", "people", ["search", "email_domain", "page", "page_size"]),
    ("delete", "people", ["email_domain", "suppress", "dry_run"]),
    ("get", "people/ann", []),
    ("delete", "people/ann", ["suppress", "dry_run"]),
    ("get", "events", ["person", "group", "name", "type", "since", "until", "limit", "cursor"]),
    ("get", "ingestion-problems", ["level", "page", "page_size"]),
    ("get", "reports/trends", ["event", "interval", *REPORT_COMMON, "breakdown_on", "breakdown",
                               "compare"]),
    ("get", "reports/funnels", ["steps", "step", "window", *REPORT_COMMON]),
    ("get", "reports/retention", ["start_event", "return_event", "interval", "periods",
                                  *REPORT_COMMON]),
    ("get", "reports/active-groups", ["type", "interval", *REPORT_COMMON[:3], *REPORT_COMMON[4:]]),
]


@pytest.mark.parametrize(("method", "path", "accepted"), API_PARAMETERS)
def test_an_unknown_parameter_is_400_naming_it_and_those_accepted(api, acme, method, path, accepted):
    params = {"colour": "red"}
    if path == "people" and method == "delete":
        params["email_domain"] = "acme.io"
    text = message(getattr(api, method)(path, **params))
    assert "colour" in text
    for name in accepted:
        assert name in text
    if not accepted:
        assert "takes no parameters" in text
    assert Person.objects.filter(user_id="ann").exists()


def test_a_parameter_given_twice_is_400(api, acme):
    response = api.client.delete(
        "/api/v1/people?email_domain=acme.io&email_domain=globex.com", headers=api._auth()
    )
    assert "email_domain is given 2 times" in message(response)
    assert Person.objects.filter(user_id="ann").exists()


# --- the API: values ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "expected"),
    [
        ("groups/company", {"page_size": "²"}, "page_size must be a positive whole number, not '²'"),
        ("groups/company", {"page": "²"}, "page must be a positive whole number, not '²'"),
        ("groups/company", {"page_size": "1_0"}, "page_size must be a positive whole number"),
        ("groups/company", {"page_size": "٣"}, "page_size must be a positive whole number"),
        ("groups/company", {"page_size": "9" * 5000}, "page_size must be a positive whole number"),
        ("groups/company/acme", {"members_page": "²"}, "members_page must be a positive whole number"),
        ("people", {"page": "-1"}, "page must be a positive whole number"),
        ("events", {"limit": "²"}, "limit must be a positive whole number"),
        ("events", {"since": "0001-01-01T00:00:00+14:00"}, "since is out of range"),
        ("events", {"until": "9999-12-31T23:59:59-14:00"}, "until is out of range"),
        ("events", {"cursor": cursor("0001-01-01T00:00:00+14:00")}, "cursor is not one"),
        ("events", {"cursor": cursor("2026-01-01T00:00:00+00:00", 2**70)}, "cursor is not one"),
        ("events", {"cursor": cursor("2026-01-01T00:00:00", 1)}, "cursor is not one"),
        ("events", {"type": "click"}, "type must be track, page, screen, identify, group or alias, not 'click'"),
        ("ingestion-problems", {"level": "fatal"}, "level must be rejected or warning, not 'fatal'"),
    ],
)
def test_a_value_that_cannot_be_used_is_400(api, acme, path, params, expected):
    assert expected in message(api.get(path, **params))


@pytest.mark.parametrize("value", ["maybe", "²", "2"])
def test_a_flag_is_true_or_false(api, acme, value):
    text = message(api.delete("people/ann", dry_run=value))
    assert text == f"dry_run must be true or false, not {value!r}"
    assert Person.objects.filter(user_id="ann").exists()


def test_page_sizes_above_the_limit_are_lowered(api, acme):
    assert api.get("groups/company", page_size="100000").json()["page_size"] == 500
    assert api.get("events", limit="100000").json()["limit"] == 500


def test_moments_at_the_ends_of_the_range_that_fit_are_accepted(api, acme):
    assert api.get("events", since="0001-01-01T00:00:00+00:00").status_code == 200
    assert api.get("events", until="9999-12-31T23:59:59+00:00").status_code == 200
    assert api.get("events", since="0001-01-01", until="9999-12-31").status_code == 200


def test_search_and_ids_are_taken_as_they_are(api, acme):
    assert api.get("people", search="  Ann  ").json()["count"] == 1
    assert api.get("events", person=" ann").status_code == 404  # no such user id


# --- the dashboard -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/groups/company?per_page=-1", "per_page must be a whole number from 1 to 100, not '-1'"),
        ("/groups/company?per_page=0", "per_page must be a whole number from 1 to 100"),
        ("/groups/company?per_page=100000", "per_page must be a whole number from 1 to 100"),
        ("/groups/company?per_page=%C2%B2", "per_page must be a whole number from 1 to 100"),
        ("/groups/company/acme?per_page=-1", "per_page must be a whole number from 1 to 100"),
        ("/groups/company/acme?unassigned=maybe", "unassigned must be true or false"),
        ("/groups/company/acme?before=garbage", "before is not one"),
        ("/people?several=maybe", "several must be true or false"),
        ("/people?per_page=-5", "per_page must be a whole number from 1 to 100"),
        ("/people?domain=" + "a" * 254, "domain must be at most 253 characters"),
        ("/people/delete?domain=" + "a" * 254, "domain must be at most 253 characters"),
    ],
)
def test_a_dashboard_value_that_cannot_be_used_is_a_400_page(alice_client, acme, path, expected):
    response = alice_client.get(path)
    assert response.status_code == 400
    assert "<h1>This request cannot be answered</h1>" in response.content.decode()
    # The page starts the message with a capital.
    assert expected.lower() in unescape(response.content.decode()).lower()


@pytest.mark.parametrize(
    "before",
    [
        "garbage",
        cursor("0001-01-01T00:00:00+14:00"),
        cursor("9999-12-31T23:59:59-14:00"),
        cursor("2026-01-01T00:00:00+00:00", 2**70),
        cursor("2026-01-01T00:00:00+00:00", "1"),
    ],
)
def test_a_timeline_cursor_that_is_not_one_is_a_400_page(alice_client, acme, before):
    person = Person.objects.get(user_id="ann")
    for path in (f"/people/{person.pk}", "/groups/company/acme"):
        response = alice_client.get(path, {"before": before})
        assert response.status_code == 400, path
        assert "before is not one" in response.content.decode().lower()


def test_a_timeline_cursor_at_the_end_of_the_range_is_accepted(alice_client, acme):
    response = alice_client.get("/groups/company/acme", {"before": cursor("9999-12-31T23:59:59+00:00")})
    assert response.status_code == 200
    assert "Report Viewed" in response.content.decode()


def test_a_posted_flag_that_is_not_one_is_a_400_page(alice_client, acme, workspace):
    person = Person.objects.get(user_id="ann")
    response = alice_client.post(f"/people/{person.pk}/delete", {"suppress": "maybe"})
    assert response.status_code == 400
    assert "suppress must be true or false" in response.content.decode().lower()


def first_group(client, params):
    response = client.get("/groups/company", params)
    assert response.status_code == 200
    return [group.key for group in response.context["table"].page.object_list.data][0]


@pytest.mark.parametrize(
    "params",
    [
        {"page": "²"},  # not a number: the first page
        {"page": "-3"},  # before the first: the last page, here the only one
        {"page": "999"},  # past the end: the last page
        {"sort": "no_such_column"},  # an unknown column: the default order
        {"sort": "properties"},  # a column that does not sort: the default order
        {"colour": "red"},  # a parameter the page does not take is ignored
    ],
)
def test_tables_fall_back_on_a_page_or_sort_they_cannot_use(alice_client, acme, params):
    assert first_group(alice_client, params) == first_group(alice_client, {})


def test_tables_sort_and_page_as_asked(alice_client, acme):
    assert first_group(alice_client, {"sort": "key"}) == "acme"
    assert first_group(alice_client, {"sort": "-key"}) == "globex"
    assert first_group(alice_client, {"sort": "key", "per_page": "1", "page": "2"}) == "globex"


def test_the_switch_and_the_banner_link_take_their_values(alice_client, acme):
    assert alice_client.get("/groups/company/acme", {"unassigned": "1"}).status_code == 200
    assert alice_client.get("/people", {"several": "1"}).status_code == 200
    assert alice_client.get("/people", {"domain": "@ACME.io"}).context["domain"] == "acme.io"
