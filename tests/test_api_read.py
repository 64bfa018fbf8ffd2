"""The read API: secret-key auth, group types, groups, people, events, ingestion problems."""

import json
from datetime import timedelta
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from calls import T0, at, group_call, identify_call, page_view, track_call
from conftest import API_READS


def iso(minutes):
    """A moment as the API writes it."""
    return (T0 + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


@pytest.fixture
def product(send, company, team):
    """Ann and Dev (staff) in acme, Bob in globex, Ann in team growth; a few events."""
    response = send.batch(
        {
            **identify_call("ann", email="ann@acme.io", name="Ann", plan="pro"),
            "anonymousId": "a-ann",
        },
        identify_call("bob", minutes=1, email="bob@globex.com", name="Bob"),
        identify_call("dev", minutes=2, email="dev@groupsite.dev", name="Dev"),
        group_call(
            "acme", user="ann", minutes=3, traits={"name": "Acme Inc", "plan": "enterprise"}
        ),
        group_call("globex", user="bob", minutes=4, traits={"name": "Globex"}),
        group_call("acme", user="dev", minutes=5),
        group_call("growth", user="ann", minutes=6, context={"groupType": "team"}),
        track_call("Report Viewed", user="ann", minutes=10),
        track_call("Report Viewed", user="bob", minutes=11),
        page_view("ann", "Pricing", at(12)),
        track_call("Invoice Sent", user="bob", minutes=13, context={"groupId": "initech"}),
    )
    assert response.status_code == 200, response.json()


def results(response):
    assert response.status_code == 200, response.json()
    return response.json()["results"]


def keys(response):
    return [row["key"] for row in results(response)]


def walk(api, response):
    """Every row of a paginated list, following its next links."""
    rows = []
    while True:
        body = response.json()
        assert response.status_code == 200, body
        rows += body["results"]
        if not body["next"]:
            return rows
        response = api.follow(body["next"])


# --- authentication ---------------------------------------------------------------


@pytest.mark.parametrize("path", API_READS)
def test_every_endpoint_needs_the_secret_key(client, product, path):
    response = client.get(f"/api/v1/{path}")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert "Authorization: Bearer" in response.json()["message"]


@pytest.mark.parametrize("path", API_READS)
def test_a_wrong_secret_key_is_refused(client, product, path):
    response = client.get(f"/api/v1/{path}", headers={"Authorization": "Bearer sk_not-a-key"})
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json() == {"error": "unauthorized", "message": "unknown secret key"}


def test_the_write_key_is_refused_with_a_hint(client, workspace):
    response = client.get(
        "/api/v1/people", headers={"Authorization": f"Bearer {workspace.write_key}"}
    )
    assert response.status_code == 401
    assert "write key, which only sends events" in response.json()["message"]


def test_the_secret_key_is_not_accepted_as_basic_auth(client, workspace):
    response = client.get(
        "/api/v1/people", headers={"Authorization": f"Basic {workspace.secret_key}"}
    )
    assert response.status_code == 401


def test_reading_endpoints_refuse_other_methods(api, client, workspace):
    response = client.post(
        "/api/v1/events", headers={"Authorization": f"Bearer {workspace.secret_key}"}
    )
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


# --- group types ------------------------------------------------------------------


def test_group_types_lists_the_workspaces_types(api, workspace):
    body = api.get("group-types").json()
    assert body["count"] == 2
    assert body["results"] == [
        {
            "name": "company",
            "singular": "Company",
            "plural": "Companies",
            "position": 0,
            "is_default": True,
        },
        {"name": "team", "singular": "Team", "plural": "Teams", "position": 1, "is_default": False},
    ]


# --- groups -----------------------------------------------------------------------


def test_groups_of_a_type_with_their_current_member_count(api, product):
    rows = {row["key"]: row for row in results(api.get("groups/company"))}
    assert set(rows) == {"acme", "globex", "initech"}
    acme = rows["acme"]
    assert acme == {
        "type": "company",
        "key": "acme",
        "name": "Acme Inc",
        "properties": {"name": "Acme Inc", "plan": "enterprise"},
        "created_at": iso(3),
        "last_updated": iso(5),
        "member_count": 2,
    }
    assert rows["globex"]["member_count"] == 1
    assert rows["initech"]["member_count"] == 0  # only seen in an event's context


def test_groups_are_listed_by_last_update_then_key(api, send, product):
    send.batch(group_call("zeta", user="zoe", minutes=4), group_call("beta", user="zoe", minutes=4))
    # acme 5, then beta/globex/zeta at 4 by key, then initech (never grouped) last
    assert keys(api.get("groups/company")) == ["acme", "beta", "globex", "zeta", "initech"]


def test_member_count_leaves_out_people_who_left(api, send, product):
    send.batch(
        track_call("Account Removed User", user="dev", minutes=20, context={"groupId": "acme"})
    )
    acme = next(row for row in results(api.get("groups/company")) if row["key"] == "acme")
    assert acme["member_count"] == 1


def test_groups_of_another_type(api, product):
    assert keys(api.get("groups/team")) == ["growth"]


@pytest.mark.parametrize("text", ["ACME", "inc", "glob"])
def test_group_search_by_key_or_name_ignores_case(api, product, text):
    expected = {"ACME": ["acme"], "inc": ["acme"], "glob": ["globex"]}[text]
    assert keys(api.get("groups/company", search=text)) == expected


def test_unknown_group_type_is_404(api, product):
    response = api.get("groups/planet")
    assert response.status_code == 404
    assert response.json() == {
        "error": "not_found",
        "message": "no group type 'planet' in this workspace",
    }


@pytest.fixture
def seven_companies(send, company):
    send.batch(*(group_call(f"c{n}", user=f"u{n}", minutes=n) for n in range(7)))


def test_group_pages_link_to_each_other(api, seven_companies):
    first = api.get("groups/company", page_size=3).json()
    assert (first["count"], first["page"], first["page_size"]) == (7, 1, 3)
    assert [row["key"] for row in first["results"]] == ["c6", "c5", "c4"]
    assert first["previous"] is None
    second = api.follow(first["next"]).json()
    assert [row["key"] for row in second["results"]] == ["c3", "c2", "c1"]
    assert api.follow(second["previous"]).json() == first
    last = api.follow(second["next"]).json()
    assert [row["key"] for row in last["results"]] == ["c0"]
    assert (last["page"], last["next"]) == (3, None)


def test_next_links_keep_the_filters(api, seven_companies):
    body = api.get("groups/company", search="c", page_size=2).json()
    query = parse_qs(urlsplit(body["next"]).query)
    assert query == {"search": ["c"], "page_size": ["2"], "page": ["2"]}
    assert len(walk(api, api.get("groups/company", search="c", page_size=2))) == 7


def test_page_size_defaults_to_50_and_is_capped_at_500(api, seven_companies):
    assert api.get("groups/company").json()["page_size"] == 50
    assert api.get("groups/company", page_size=10_000).json()["page_size"] == 500


def test_a_page_that_does_not_exist_is_400(api, seven_companies):
    response = api.get("groups/company", page="4", page_size="3")
    assert response.status_code == 400
    assert response.json()["message"] == "page 4 does not exist; pages run from 1 to 3"


@pytest.mark.parametrize("page", ["abc", "0"])
def test_a_page_that_is_not_a_page_number_is_400(api, seven_companies, page):
    response = api.get("groups/company", page=page)
    assert response.status_code == 400
    assert f"page must be a positive whole number, not {page!r}" in response.json()["message"]


@pytest.mark.parametrize("page_size", ["0", "-1", "ten"])
def test_a_bad_page_size_is_400(api, seven_companies, page_size):
    response = api.get("groups/company", page_size=page_size)
    assert response.status_code == 400
    assert "page_size must be a positive whole number" in response.json()["message"]


def test_group_list_queries_do_not_grow_with_page_size(
    api, send, company, django_assert_num_queries
):
    send.batch(*(group_call(f"c{n}", user=f"u{n}", minutes=n) for n in range(25)))
    # wrong keys from the address, key, group type, count, page
    with django_assert_num_queries(5):
        assert len(results(api.get("groups/company", page_size=2))) == 2
    with django_assert_num_queries(5):
        assert len(results(api.get("groups/company", page_size=20))) == 20


# --- one group --------------------------------------------------------------------


@pytest.mark.both_stores
def test_group_profile_has_members_and_recent_events(api, product):
    body = api.get("groups/company/acme").json()
    assert (body["key"], body["name"], body["member_count"]) == ("acme", "Acme Inc", 2)
    members = body["members"]
    assert members["count"] == 2
    assert [(m["user_id"], m["joined_at"]) for m in members["results"]] == [
        ("dev", iso(5)),
        ("ann", iso(3)),
    ]
    ann = members["results"][1]
    assert ann["last_seen_at"] == iso(12)
    assert ann["email"] == "ann@acme.io"
    # acme's context: the group calls, then Ann's events (she is in acme alone)
    assert [(e["type"], e["name"], e["user_id"]) for e in body["recent_events"]] == [
        ("page", "Pricing", "ann"),
        ("track", "Report Viewed", "ann"),
        ("group", "", "dev"),
        ("group", "", "ann"),
    ]
    assert body["recent_events"][0]["groups"] == {"company": "acme", "team": "growth"}


def test_group_profile_lists_current_members_only(api, send, product):
    send.batch(
        track_call("Account Removed User", user="dev", minutes=20, context={"groupId": "acme"})
    )
    members = api.get("groups/company/acme").json()["members"]
    assert [m["user_id"] for m in members["results"]] == ["ann"]


@pytest.mark.both_stores
def test_group_profile_shows_the_latest_20_events_and_links_to_all(api, send, product):
    send.batch(*(track_call(f"E{n}", user="ann", minutes=100 + n) for n in range(25)))
    body = api.get("groups/company/acme").json()
    assert [e["name"] for e in body["recent_events"]] == [f"E{n}" for n in range(24, 4, -1)]
    assert parse_qs(urlsplit(body["events_url"]).query) == {"group": ["company:acme"]}
    everything = walk(api, api.follow(body["events_url"]))
    assert len(everything) == 25 + 4


def test_group_members_are_paginated(api, send, company):
    send.batch(*(group_call("acme", user=f"u{n}", minutes=n) for n in range(5)))
    body = api.get("groups/company/acme", page_size=2, members_page=2).json()
    members = body["members"]
    assert (members["count"], members["page"]) == (5, 2)
    assert [m["user_id"] for m in members["results"]] == ["u2", "u1"]
    assert parse_qs(urlsplit(members["next"]).query)["members_page"] == ["3"]
    assert body["key"] == "acme"


def test_group_key_may_contain_slashes(api, send, company):
    send.batch(group_call("org/42/eu", user="ann", minutes=0))
    body = api.get("groups/company/" + quote("org/42/eu", safe="")).json()
    assert body["key"] == "org/42/eu"
    assert body["member_count"] == 1


def test_unknown_group_is_404(api, product):
    response = api.get("groups/company/nope")
    assert response.status_code == 404
    assert response.json()["message"] == "no group company:nope in this workspace"


# --- people -----------------------------------------------------------------------


@pytest.mark.both_stores
def test_people_list_shows_who_they_are(api, product):
    rows = {row["user_id"]: row for row in results(api.get("people"))}
    assert set(rows) == {"ann", "bob", "dev"}
    assert rows["ann"] == {
        "user_id": "ann",
        "anonymous_ids": ["a-ann"],
        "email": "ann@acme.io",
        "name": "Ann",
        "traits": {"email": "ann@acme.io", "name": "Ann", "plan": "pro"},
        "created_at": iso(0),
        "last_seen_at": iso(12),
        "event_count": 5,
    }


def test_people_are_listed_by_last_seen(api, product):
    assert [row["user_id"] for row in results(api.get("people"))] == ["bob", "ann", "dev"]


def test_people_list_includes_anonymous_visitors(api, send, product):
    send.batch({"type": "page", "anonymousId": "visitor-1", "timestamp": at(30)})
    first = results(api.get("people"))[0]
    assert (first["user_id"], first["anonymous_ids"]) == (None, ["visitor-1"])


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"search": "ANN"}, ["ann"]),
        ({"search": "globex"}, ["bob"]),
        ({"email_domain": "groupsite.dev"}, ["dev"]),
        ({"email_domain": "@GroupSite.dev"}, ["dev"]),
        ({"email_domain": "site.dev"}, []),
        ({"search": "o", "email_domain": "globex.com"}, ["bob"]),
    ],
)
def test_people_search_and_email_domain(api, product, params, expected):
    assert [row["user_id"] for row in results(api.get("people", **params))] == expected


def test_people_list_queries_do_not_grow_with_page_size(api, send, django_assert_num_queries):
    send.batch(
        *(
            {
                "type": "identify",
                "userId": f"u{n}",
                "anonymousId": f"a{n}",
                "traits": {"email": f"u{n}@x.io"},
            }
            for n in range(25)
        )
    )
    # wrong keys from the address, key, count, page, identities
    with django_assert_num_queries(5):
        assert len(results(api.get("people", page_size=2))) == 2
    with django_assert_num_queries(5):
        rows = results(api.get("people", page_size=20))
    assert len(rows) == 20
    assert all(row["anonymous_ids"] == ["a" + row["user_id"][1:]] for row in rows)


# --- one person -------------------------------------------------------------------


def test_person_profile_has_memberships_past_and_current(api, send, product):
    send.batch(
        track_call("Account Removed User", user="ann", minutes=20, context={"groupId": "acme"})
    )
    body = api.get("people/ann").json()
    assert (body["user_id"], body["email"], body["traits"]["plan"]) == ("ann", "ann@acme.io", "pro")
    assert body["memberships"] == [
        {"type": "team", "key": "growth", "started_at": iso(6), "ended_at": None},
        {"type": "company", "key": "acme", "started_at": iso(3), "ended_at": iso(20)},
    ]


@pytest.mark.both_stores
def test_person_profile_shows_the_latest_20_events_and_links_to_all(api, send, product):
    send.batch(*(track_call(f"E{n}", user="ann", minutes=100 + n) for n in range(25)))
    body = api.get("people/ann").json()
    assert [e["name"] for e in body["recent_events"]] == [f"E{n}" for n in range(24, 4, -1)]
    assert body["recent_events"][0]["groups"] == {"company": "acme", "team": "growth"}
    everything = walk(api, api.follow(body["events_url"]))
    assert len(everything) == 25 + 5
    assert {event["user_id"] for event in everything} == {"ann"}


def test_person_is_found_by_an_earlier_user_id(api, send):
    send.batch({"type": "track", "userId": "old-id", "event": "A"})
    send.batch({"type": "alias", "previousId": "old-id", "userId": "new-id"})
    assert api.get("people/old-id").json()["user_id"] == "new-id"


def test_user_id_may_contain_slashes_and_at_signs(api, send):
    send.batch(identify_call("org/7/ann@acme.io"))
    response = api.get("people/" + quote("org/7/ann@acme.io", safe=""))
    assert response.json()["user_id"] == "org/7/ann@acme.io"


def test_unknown_person_is_404(api, product):
    response = api.get("people/nobody")
    assert response.status_code == 404
    assert response.json()["message"] == "no person with user id 'nobody' in this workspace"


# --- events -----------------------------------------------------------------------


@pytest.mark.both_stores
def test_events_newest_first_with_their_groups(api, product):
    rows = results(api.get("events"))
    assert [(e["type"], e["name"], e["user_id"]) for e in rows[:3]] == [
        ("track", "Invoice Sent", "bob"),
        ("page", "Pricing", "ann"),
        ("track", "Report Viewed", "bob"),
    ]
    invoice = rows[0]
    assert invoice["groups"] == {"company": "initech"}
    assert set(invoice) == {
        "id",
        "type",
        "name",
        "message_id",
        "user_id",
        "anonymous_id",
        "timestamp",
        "received_at",
        "sent_at",
        "properties",
        "context",
        "groups",
    }
    assert invoice["timestamp"] == iso(13)
    assert invoice["context"] == {"groupId": "initech"}
    assert len(rows) == 11


@pytest.mark.both_stores
@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"person": "bob"}, ["Invoice Sent", "Report Viewed", "", "identify"]),
        ({"group": "company:globex"}, ["Report Viewed", ""]),
        ({"group": "team:growth"}, ["Pricing", "Report Viewed", ""]),
        ({"name": "Report Viewed"}, ["Report Viewed", "Report Viewed"]),
        ({"type": "group", "person": "ann"}, ["", ""]),
        ({"since": at(11), "until": at(13)}, ["Pricing", "Report Viewed"]),
        ({"since": "2026-01-05T09:11:00Z", "until": "2026-01-05T09:12:00"}, ["Report Viewed"]),
        ({"until": "2026-01-05"}, []),
    ],
)
def test_event_filters(api, product, params, expected):
    rows = results(api.get("events", **params))
    assert [e["name"] or ("identify" if e["type"] == "identify" else "") for e in rows] == expected


@pytest.mark.both_stores
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"type": "click"}, "type must be track, page, screen, identify, group or alias, not 'click'"),
        ({"since": "yesterday"}, "since is not an ISO-8601 date or time: 'yesterday'"),
        ({"until": "2026-01-05T10:00:00 02:00"}, "write a '+' in a time zone offset as %2B"),
        ({"group": "acme"}, "group must be <type>:<key>"),
        ({"group": "planet:mars"}, "unknown group type 'planet'"),
        ({"cursor": "not-a-cursor"}, "cursor is not one that a link of Groupsite gave"),
        ({"limit": "0"}, "limit must be a positive whole number"),
    ],
)
def test_bad_event_filters_are_400(api, product, params, message):
    response = api.get("events", **params)
    assert response.status_code == 400
    assert message in response.json()["message"]


@pytest.mark.both_stores
@pytest.mark.parametrize("params", [{"person": "nobody"}, {"group": "company:nope"}])
def test_events_of_an_unknown_person_or_group_are_404(api, product, params):
    assert api.get("events", **params).status_code == 404


@pytest.mark.both_stores
def test_event_cursor_walks_every_event_once_even_at_equal_timestamps(api, send, product):
    # Seven events in the same millisecond: the cursor must break ties by id.
    send.batch(*(track_call(f"Same {n}", user="ann", minutes=50) for n in range(7)))
    everything = results(api.get("events", limit=500))
    first = api.get("events", limit=3).json()
    assert first["limit"] == 3
    walked = walk(api, api.get("events", limit=3))
    assert [e["id"] for e in walked] == [e["id"] for e in everything]
    assert len(walked) == 18


@pytest.mark.both_stores
def test_new_events_do_not_shift_the_next_page(api, send, product):
    first = api.get("events", limit=4).json()
    send.batch(track_call("Arrived meanwhile", user="ann", minutes=500))
    second = api.follow(first["next"]).json()
    seen = [e["id"] for e in first["results"]] + [e["id"] for e in second["results"]]
    assert len(set(seen)) == 8
    assert "Arrived meanwhile" not in [e["name"] for e in second["results"]]


@pytest.mark.both_stores
def test_cursor_links_keep_the_filters(api, send, product):
    send.batch(*(track_call("Report Viewed", user="ann", minutes=60 + n) for n in range(5)))
    walked = walk(api, api.get("events", name="Report Viewed", limit=2))
    assert len(walked) == 7
    assert {e["name"] for e in walked} == {"Report Viewed"}


@pytest.mark.both_stores
def test_event_limit_defaults_to_50_and_is_capped_at_500(api, product):
    assert api.get("events").json()["limit"] == 50
    assert api.get("events", limit=9999).json()["limit"] == 500


def test_event_list_queries_do_not_grow_with_the_limit(
    api, send, company, team, django_assert_num_queries
):
    send.batch(
        *(
            track_call(
                f"E{n}",
                user=f"u{n % 5}",
                minutes=n,
                context={"groups": {"company": f"c{n % 4}", "team": f"t{n % 3}"}},
            )
            for n in range(30)
        )
    )
    # wrong keys from the address, key, events, their groups
    with django_assert_num_queries(4):
        rows = results(api.get("events", limit=2))
    assert rows[0]["groups"] == {"company": "c1", "team": "t2"}  # E29
    with django_assert_num_queries(4):
        rows = results(api.get("events", limit=25))
    assert len(rows) == 25
    assert all(len(row["groups"]) == 2 for row in rows)


# --- ingestion problems -----------------------------------------------------------


@pytest.fixture
def problems(send, company):
    # One refused request standing for three calls (too large), one refused call, one warning.
    padding = "x" * 200_000
    too_large = [{"type": "track", "userId": "u", "event": "E", "properties": {"pad": padding}}] * 3
    assert send.post("batch", {"batch": too_large}).status_code == 413
    response = send.batch(
        {"type": "track", "userId": "u"},
        {"type": "group", "userId": "u", "groupId": "x", "context": {"groupType": "planet"}},
    )
    assert response.status_code == 400


def test_ingestion_problems_with_totals(api, problems):
    body = api.get("ingestion-problems").json()
    assert body["totals"] == {"rejected_calls": 4, "warnings": 1}
    assert body["count"] == 3
    levels = [(p["level"], p["call_count"]) for p in body["results"]]
    assert sorted(levels) == [("rejected", 1), ("rejected", 3), ("warning", 1)]
    refused = next(p for p in body["results"] if p["call_type"] == "track")
    assert refused["reason"] == "missing 'event'"
    assert set(refused) == {
        "id",
        "level",
        "received_at",
        "call_type",
        "message_id",
        "reason",
        "call_count",
        "payload",
    }


def test_ingestion_problems_by_level(api, problems):
    body = api.get("ingestion-problems", level="warning").json()
    assert [p["level"] for p in body["results"]] == ["warning"]
    assert "group type 'planet' is not defined" in body["results"][0]["reason"]
    assert body["totals"] == {"rejected_calls": 4, "warnings": 1}


def test_unknown_problem_level_is_400(api, problems):
    response = api.get("ingestion-problems", level="error")
    assert response.status_code == 400
    assert "level must be rejected or warning" in response.json()["message"]


def test_ingestion_problem_queries_do_not_grow_with_page_size(api, send, django_assert_num_queries):
    send.batch(*({"type": "track", "userId": "u"} for _ in range(25)))
    # wrong keys from the address, key, totals, count, page
    with django_assert_num_queries(5):
        assert len(results(api.get("ingestion-problems", page_size=2))) == 2
    with django_assert_num_queries(5):
        assert len(results(api.get("ingestion-problems", page_size=20))) == 20


# --- one workspace never sees another's ---------------------------------------------


@pytest.fixture
def charlies_data(charlie_send):
    charlie_send.batch(
        identify_call("carl", email="carl@acme.io"),
        group_call("acme", user="carl", minutes=1, traits={"name": "Charlie's Acme"}),
        track_call("Carl Clicked", user="carl", minutes=2),
        {"type": "track", "userId": "carl"},  # refused: no event name
    )


@pytest.mark.both_stores
@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("people/carl", {}),
        ("events", {"person": "carl"}),
        ("groups/company/acme", {}),
    ],
)
def test_alices_key_does_not_reach_charlies_objects(api, workspace, charlies_data, path, params):
    response = api.get(path, **params)
    assert response.status_code == 404


@pytest.mark.both_stores
@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("people/ann", {}),
        ("events", {"person": "ann"}),
        ("groups/team", {}),
        ("groups/team/growth", {}),
    ],
)
def test_charlies_key_does_not_reach_alices_objects(
    charlie_api, product, charlies_data, path, params
):
    response = charlie_api.get(path, **params)
    assert response.status_code == 404


@pytest.mark.both_stores
def test_lists_show_only_the_keys_workspace(api, charlie_api, product, charlies_data):
    assert [row["user_id"] for row in results(charlie_api.get("people"))] == ["carl"]
    assert [e["name"] for e in results(charlie_api.get("events"))] == ["Carl Clicked", "", ""]
    assert keys(charlie_api.get("groups/company")) == ["acme"]
    assert [t["name"] for t in results(charlie_api.get("group-types"))] == ["company"]
    charlie_acme = charlie_api.get("groups/company/acme").json()
    assert (charlie_acme["name"], charlie_acme["member_count"]) == ("Charlie's Acme", 1)
    assert api.get("ingestion-problems").json()["count"] == 0
    assert charlie_api.get("ingestion-problems").json()["count"] == 1
    assert "carl" not in json.dumps(api.get("events", limit=500).json())
