"""Group keys and user ids are any text a client sent: every stored one is listed, has a
URL that reaches it (in a browser too: no dot segments, no literal slashes), and opens the
right object on the dashboard and in the API."""

import re
from html import unescape
from urllib.parse import parse_qs, quote, urljoin, urlsplit

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics.models import Event, Group, Identity, Membership, Person

# Data stored before ingestion refused control characters, and keys that only look odd.
ODD_IDS = [
    "a\nb",
    "a/b",
    ".",
    "..",
    "...",
    "a?b#c",
    "100%",
    " spaced ",
    "ünï",
    "~x",
    "~2F",
    "a/../b",
    "a//b/",
    "/lead",
    "tab\there",
    "x/" * 127,
]


@pytest.fixture
def odd(workspace, company):
    """{id: (group, person)}: for each odd id a company and a person with that key and
    user id, the person a member of the company with one event in it, inserted directly."""
    now = timezone.now()
    made = {}
    for n, value in enumerate(ODD_IDS):
        group = Group.objects.create(
            workspace=workspace, group_type=company, key=value,
            properties={"plan": f"plan-{n}"}, member_count=1, last_updated=now,
        )
        person = Person.objects.create(workspace=workspace, user_id=value, last_seen_at=now)
        Identity.objects.create(
            workspace=workspace, person=person, kind=Identity.Kind.USER, value=value
        )
        Membership.objects.create(
            workspace=workspace, person=person, group=group, group_type=company, started_at=now
        )
        Event.objects.create(
            workspace=workspace, person=person, type="track", name=f"Event {n}",
            timestamp=now, received_at=now, message_id=f"m-{n}", user_id=value,
            **{company.slot_field: group},
        )
        made[value] = (group, person)
    return made


# Ids a client cannot send just percent-encoded: a browser or HTTP library resolves dot
# segments, and "~2F" reads as the escape of "/".
NEEDS_ESCAPES = {".", "..", "...", "~2F"}


def path_segment(value):
    """An id written in a path as the README tells API clients: ``~`` as ``~7E``, ``/``
    as ``~2F`` (or percent-encoded), a key of dots only as ``~2E`` for each, the rest
    percent-encoded."""
    if set(value) == {"."}:
        return "~2E" * len(value)
    return quote(value.replace("~", "~7E").replace("/", "~2F"), safe="")


def hrefs(html, pattern):
    """The unescaped targets of the links matching ``pattern`` (a regex with one group)."""
    return [unescape(href) for href in re.findall(pattern, html)]


def assert_browser_keeps(path):
    """A browser resolves dot segments and merges nothing else: the path must not change."""
    assert urljoin("http://testserver/groups/company", path) == "http://testserver" + path, path


def test_groups_list_links_every_key_to_its_profile(alice_client, odd):
    response = alice_client.get("/groups/company")
    assert response.status_code == 200
    links = hrefs(response.content.decode(), r'<td class="key"><a href="([^"]+)"')
    assert len(links) == len(ODD_IDS)
    opened = set()
    for link in links:
        assert_browser_keeps(link)
        page = alice_client.get(link)
        assert page.status_code == 200, link
        opened.add(page.context["group"].key)
        assert f"plan-{ODD_IDS.index(page.context['group'].key)}" in page.content.decode()
    assert opened == set(ODD_IDS)


@pytest.mark.parametrize("key", ODD_IDS)
def test_group_profile_opens_by_its_reversed_url(alice_client, odd, key):
    url = reverse("group", args=["company", key])
    assert_browser_keeps(url)
    response = alice_client.get(url)
    assert response.status_code == 200
    assert response.context["group"] == odd[key][0]
    # The timeline's switch asks this same group again.
    switch = hrefs(response.content.decode(), r'<form method="get" class="checkbox" hx-get="([^"]+)"')
    assert alice_client.get(switch[0], {"unassigned": "1"}).context["group"] == odd[key][0]


def test_people_list_links_every_persons_company(alice_client, odd):
    response = alice_client.get("/people")
    assert response.status_code == 200
    html = response.content.decode()
    chips = hrefs(html, r'<a class="badge" href="([^"]+)"')
    assert len(chips) == len(ODD_IDS)
    for link in chips:
        assert_browser_keeps(link)
        assert alice_client.get(link).status_code == 200, link
    for value in ODD_IDS:
        person = odd[value][1]
        assert f'href="/people/{person.pk}"' in html


@pytest.mark.parametrize("user_id", ODD_IDS)
def test_person_profile_links_to_their_company(alice_client, odd, user_id):
    group, person = odd[user_id]
    response = alice_client.get(f"/people/{person.pk}")
    assert response.status_code == 200
    links = hrefs(response.content.decode(), r'<td><a href="(/groups/company/[^"]+)"')
    assert len(links) == 1
    assert_browser_keeps(links[0])
    assert alice_client.get(links[0]).context["group"] == group


def test_the_converter_writes_slashes_tildes_and_dots_as_escapes():
    assert reverse("group", args=["company", "a/b"]) == "/groups/company/a~2Fb"
    assert reverse("group", args=["company", "~x"]) == "/groups/company/~7Ex"
    assert reverse("group", args=["company", "."]) == "/groups/company/~2E"
    assert reverse("group", args=["company", ".."]) == "/groups/company/~2E~2E"
    assert reverse("group", args=["company", "a.b"]) == "/groups/company/a.b"
    assert reverse("group", args=["company", "a\nb c"]) == "/groups/company/a%0Ab%20c"
    assert reverse("api-person", args=["a?b#c"]) == "/api/v1/people/a%3Fb%23c"


def test_literal_slashes_still_open_a_group(alice_client, odd):
    assert alice_client.get("/groups/company/a/b").context["group"].key == "a/b"


# --- the API ----------------------------------------------------------------------


@pytest.mark.parametrize("key", [key for key in ODD_IDS if key not in NEEDS_ESCAPES])
def test_api_reads_a_group_by_its_percent_encoded_key(api, odd, key):
    response = api.get("groups/company/" + quote(key, safe=""))
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["key"] == key
    assert [m["user_id"] for m in body["members"]["results"]] == [key]
    assert [e["name"] for e in body["recent_events"]] == [f"Event {ODD_IDS.index(key)}"]
    events = api.follow(body["events_url"])
    assert [e["groups"] for e in events.json()["results"]] == [{"company": key}]


@pytest.mark.parametrize("key", ODD_IDS)
def test_api_reads_a_group_by_its_escaped_key(api, odd, key):
    response = api.get("groups/company/" + path_segment(key))
    assert response.status_code == 200
    assert response.json()["key"] == key
    # The server writes the same URL, however it percent-encodes.
    assert api.follow(reverse("api-group", args=["company", key])).json()["key"] == key


def test_api_reads_keys_with_literal_slashes(api, odd):
    assert api.get("groups/company/a/b").json()["key"] == "a/b"
    assert api.get("people/a/b").json()["user_id"] == "a/b"


@pytest.mark.parametrize("user_id", [value for value in ODD_IDS if value not in NEEDS_ESCAPES])
def test_api_deletes_a_person_by_their_percent_encoded_user_id(api, odd, user_id):
    response = api.delete("people/" + quote(user_id, safe=""), dry_run="true")
    assert response.status_code == 200, response.json()
    assert response.json()["user_ids"] == [user_id]


@pytest.mark.parametrize("user_id", ODD_IDS)
def test_api_reads_a_person_and_follows_their_events_url(api, odd, user_id):
    response = api.get("people/" + path_segment(user_id))
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["user_id"] == user_id
    assert [m["key"] for m in body["memberships"]] == [user_id]
    events = api.follow(body["events_url"]).json()["results"]
    assert [e["user_id"] for e in events] == [user_id]


@pytest.mark.parametrize("user_id", ODD_IDS)
def test_api_deletes_a_person_by_their_user_id(api, odd, user_id):
    response = api.delete("people/" + path_segment(user_id))
    assert response.status_code == 200, response.json()
    assert response.json()["user_ids"] == [user_id]
    assert not Person.objects.filter(pk=odd[user_id][1].pk).exists()
    assert Person.objects.count() == len(ODD_IDS) - 1


@pytest.mark.parametrize("key", ODD_IDS)
def test_api_next_and_previous_links_keep_the_group(api, odd, key, workspace, company):
    group = odd[key][0]
    now = timezone.now()
    for n in range(2):
        person = Person.objects.create(workspace=workspace, user_id=f"member-{n}")
        Membership.objects.create(
            workspace=workspace, person=person, group=group, group_type=company, started_at=now
        )
    first = api.get("groups/company/" + path_segment(key), page_size=2).json()
    assert first["key"] == key
    following = api.follow(first["members"]["next"])
    assert following.status_code == 200
    assert following.json()["key"] == key
    assert following.json()["members"]["page"] == 2
    back = api.follow(following.json()["members"]["previous"]).json()
    assert back["key"] == key and back["members"]["page"] == 1
    assert parse_qs(urlsplit(first["members"]["next"]).query) == {
        "page_size": ["2"], "members_page": ["2"]
    }
