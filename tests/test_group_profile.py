"""The group profile: properties, current members, and events in the group's context."""

import pytest

from analytics.timeline import PAGE_SIZE


@pytest.fixture
def acme(send, company):
    send.batch(
        {"type": "identify", "userId": "ann", "traits": {"name": "Ann", "email": "ann@acme.io"},
         "timestamp": "2026-02-01T09:00:00Z"},
        {"type": "group", "userId": "ann", "groupId": "acme", "timestamp": "2026-02-01T10:00:00Z",
         "traits": {"name": "Acme Inc", "plan": "enterprise", "seats": 120}},
        {"type": "group", "userId": "bo", "groupId": "acme", "timestamp": "2026-02-03T10:00:00Z"},
        {"type": "group", "userId": "bo", "groupId": "globex", "timestamp": "2026-02-03T11:00:00Z"},
        {"type": "track", "userId": "ann", "event": "Report Viewed", "timestamp": "2026-02-05T10:00:00Z"},
        {"type": "track", "userId": "bo", "event": "Invite Sent", "timestamp": "2026-02-06T10:00:00Z"},
        {"type": "track", "userId": "bo", "event": "Dashboard Created", "timestamp": "2026-02-07T10:00:00Z",
         "context": {"groupId": "acme"}},
    )


def test_profile_shows_all_properties(alice_client, acme):
    page = alice_client.get("/groups/company/acme").content.decode()
    assert "<h1>Acme Inc</h1>" in page
    # The way back names the group too, not its key.
    assert 'Companies</a> / Acme Inc</div>' in page
    for name, value in (("name", "Acme Inc"), ("plan", "enterprise"), ("seats", "120")):
        assert f"<dt>{name}</dt><dd>{value}</dd>" in page


def test_profile_lists_current_members_with_joined_and_last_seen(alice_client, acme, send):
    send.batch({"type": "track", "userId": "bo", "event": "Account Removed User",
                "timestamp": "2026-02-08T10:00:00Z", "context": {"groupId": "acme"}})
    page = alice_client.get("/groups/company/acme").content.decode()
    members = page.split('id="members-table"')[1].split("</table>")[0]
    assert ">Ann</a>" in members and "ann@acme.io" in members
    assert 'title="Sun, Feb 1, 2026, 10:00:00 UTC"' in members  # joined
    assert 'title="Thu, Feb 5, 2026, 10:00:00 UTC"' in members  # last seen
    assert ">bo</a>" not in members  # left the account


def test_timeline_shows_events_in_the_groups_context(alice_client, acme):
    page = alice_client.get("/groups/company/acme").content.decode()
    timeline = page.split('id="timeline"')[1]
    assert "Report Viewed" in timeline  # ann is only in acme: the event took acme
    assert "Dashboard Created" in timeline  # explicit context
    assert "Invite Sent" not in timeline  # bo is in two companies: no company


def test_switch_adds_members_events_without_a_company_marked(alice_client, acme):
    page = alice_client.get("/groups/company/acme", {"unassigned": "1"}).content.decode()
    timeline = page.split('id="timeline"')[1]
    invite = timeline.split("Invite Sent")[1].split("</li>")[0]
    assert "no company" in invite
    report = timeline.split("Report Viewed")[1].split("</li>")[0]
    assert "no company" not in report
    assert timeline.index("Dashboard Created") < timeline.index("Invite Sent") < timeline.index("Report Viewed")


def test_load_more_pages_through_events(alice_client, acme, send):
    send.batch(*(
        {"type": "track", "userId": "ann", "event": f"Step {n:02d}", "timestamp": f"2026-03-01T10:{n:02d}:00Z"}
        for n in range(PAGE_SIZE + 5)
    ))
    first = alice_client.get("/groups/company/acme").content.decode()
    assert f"Step {PAGE_SIZE + 4:02d}" in first and "Step 04" not in first
    cursor = first.split('hx-get="?before=')[1].split('"')[0]
    more = alice_client.get(
        "/groups/company/acme", {"before": cursor}, headers={"HX-Request": "true", "HX-Target": "timeline-more"}
    ).content.decode()
    assert "<html" not in more
    assert "Step 04" in more and "Step 00" in more and "Report Viewed" in more
    assert f"Step {PAGE_SIZE + 4:02d}" not in more


def test_outsider_cannot_open_group_profile(client, charlie, acme):
    client.force_login(charlie)
    assert client.get("/groups/company/acme").status_code == 404


def test_keys_with_slashes_open(alice_client, send, company):
    send.batch({"type": "group", "userId": "u", "groupId": "org/eu/1", "traits": {"name": "EU"}})
    assert "<h1>EU</h1>" in alice_client.get("/groups/company/org/eu/1").content.decode()


def test_profile_takes_eleven_or_twelve_queries_however_many_members_or_events(
    alice_client, acme, send, django_assert_num_queries
):
    def check_queries(other_groups):
        # The session, the user, the membership with its workspace, the group, its
        # activity by week, its top events, its active members, the members' count, the
        # events, the other groups the events link to (if any), the people who sent them,
        # the page of members; with unassigned events one more: the members whose events
        # those are.
        for params, expected in (({}, 11 + other_groups), ({"unassigned": "1"}, 12 + other_groups)):
            with django_assert_num_queries(expected, info=str(params)):
                assert alice_client.get("/groups/company/acme", params).status_code == 200

    check_queries(other_groups=False)
    send.batch(*(
        {"type": "identify", "userId": f"m{n}", "traits": {"name": f"Member {n}"}} for n in range(20)
    ), *(
        {"type": "group", "userId": f"m{n}", "groupId": "acme"} for n in range(20)
    ), *(
        {"type": "group", "userId": f"m{n}", "groupId": f"t{n}", "context": {"groupType": "team"},
         "traits": {"name": f"Team {n}"}} for n in range(20)
    ), *(
        {"type": "track", "userId": f"m{n}", "event": "E", "context": {"groups": {"company": "acme", "team": f"t{n}"}}}
        for n in range(20)
    ))
    check_queries(other_groups=True)


def test_events_name_who_sent_them_with_the_id_on_hover(alice_client, acme, send):
    send.batch({"type": "track", "anonymousId": "visitor-7", "event": "Pricing Viewed",
                "timestamp": "2026-02-08T10:00:00Z", "context": {"groupId": "acme"}})
    timeline = alice_client.get("/groups/company/acme").content.decode().split('id="timeline"')[1]
    report = timeline.split("Report Viewed")[1].split("</li>")[0]
    assert '" title="User id: ann">Ann</a>' in report  # the name, not the user id
    dashboard = timeline.split("Dashboard Created")[1].split("</li>")[0]
    assert '" title="User id: bo">bo</a>' in dashboard  # no name, no email: the id it is
    pricing = timeline.split("Pricing Viewed")[1].split("</li>")[0]
    assert '" title="Anonymous id: visitor-7">Anonymous ' in pricing


def test_events_show_their_other_groups_by_name_with_the_key_on_hover(alice_client, acme, send, team):
    send.batch(
        {"type": "group", "userId": "ann", "groupId": "growth-7f3a", "context": {"groupType": "team"},
         "traits": {"name": "Growth"}},
        {"type": "track", "userId": "ann", "event": "Chart Shared", "timestamp": "2026-02-09T10:00:00Z",
         "context": {"groups": {"company": "acme", "team": "growth-7f3a"}}},
    )
    timeline = alice_client.get("/groups/company/acme").content.decode().split('id="timeline"')[1]
    shared = timeline.split("Chart Shared")[1].split("</li>")[0]
    assert (
        '<a class="badge" href="/groups/team/growth-7f3a" title="Team Growth · key growth-7f3a">'
        '<span class="chip-type">Team</span> Growth</a>'
    ) in shared
    assert "/groups/company/acme" not in shared  # the group whose page this is


def test_dates_in_properties_show_as_dates_with_what_was_sent_on_hover(alice_client, send, company):
    send.batch({"type": "group", "userId": "u", "groupId": "acme",
                "traits": {"name": "Acme", "createdAt": "2019-05-04T08:30:00.000Z", "plan": "pro"}})
    page = alice_client.get("/groups/company/acme").content.decode()
    assert (
        '<dt>createdAt</dt><dd><time datetime="2019-05-04T08:30:00+00:00" '
        'title="2019-05-04T08:30:00.000Z">May 4, 2019</time></dd>'
    ) in page
    table = alice_client.get("/groups/company").content.decode().split('id="groups-table"')[1]
    assert '<b>createdAt</b> <time datetime="2019-05-04T08:30:00+00:00" title="2019-05-04T08:30:00.000Z">May 4, 2019</time>' in table


def test_member_count_has_thousands_separators(alice_client, acme):
    from analytics.models import Group

    Group.objects.filter(key="acme").update(member_count=1234)
    page = alice_client.get("/groups/company/acme").content.decode()
    assert "1,234 members" in page.split('class="subtitle"')[1].split("</p>")[0]
