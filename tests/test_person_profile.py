"""The person profile: traits, groups with dates, recent events, and the delete action."""

import pytest

from analytics.deletion import start_deletion
from analytics.models import Person
from analytics.timeline import PAGE_SIZE


@pytest.fixture
def ann(send, company, team):
    send.batch(
        {"type": "identify", "userId": "ann", "timestamp": "2026-02-01T09:00:00Z",
         "traits": {"name": "Ann Archer", "email": "ann@acme.io", "title": "CTO"}},
        {"type": "group", "userId": "ann", "groupId": "acme", "timestamp": "2026-02-01T10:00:00Z",
         "traits": {"name": "Acme Inc"}},
        {"type": "group", "userId": "ann", "groupId": "growth", "timestamp": "2026-02-02T10:00:00Z",
         "context": {"groupType": "team"}},
        {"type": "group", "userId": "ann", "groupId": "initech", "timestamp": "2026-02-03T10:00:00Z"},
        {"type": "track", "userId": "ann", "event": "Account Removed User", "timestamp": "2026-02-04T10:00:00Z",
         "context": {"groupId": "initech"}},
        {"type": "track", "userId": "ann", "event": "Report Viewed", "timestamp": "2026-02-05T10:00:00Z",
         "properties": {"report": "Churn"}},
    )
    return Person.objects.by_user_id("ann")


def test_profile_shows_traits(alice_client, ann):
    page = alice_client.get(f"/people/{ann.pk}").content.decode()
    assert "<h1>Ann Archer" in page
    assert '<span class="mono">ann</span>' in page and "ann@acme.io" in page
    for name, value in (("name", "Ann Archer"), ("email", "ann@acme.io"), ("title", "CTO")):
        assert f"<dt>{name}</dt><dd>{value}</dd>" in page


def test_profile_lists_groups_with_joined_and_left_dates(alice_client, ann):
    page = alice_client.get(f"/people/{ann.pk}").content.decode()
    groups = page.split('id="groups-title"')[1].split("</section>")[0]
    acme = groups.split('href="/groups/company/acme"')[1].split("</tr>")[0]
    assert "Acme Inc" in acme and 'title="Sun, Feb 1, 2026, 10:00:00 UTC"' in acme and "current" in acme
    initech = groups.split('href="/groups/company/initech"')[1].split("</tr>")[0]
    assert 'title="Tue, Feb 3, 2026, 10:00:00 UTC"' in initech
    assert 'title="Wed, Feb 4, 2026, 10:00:00 UTC"' in initech and "current" not in initech
    assert 'href="/groups/team/growth"' in groups


@pytest.mark.both_stores
def test_profile_shows_recent_events_newest_first(alice_client, ann):
    page = alice_client.get(f"/people/{ann.pk}").content.decode()
    events = page.split('id="events-title"')[1]
    assert events.index("Report Viewed") < events.index("Account Removed User")
    assert "report: Churn" in events


@pytest.mark.both_stores
def test_load_more_events(alice_client, ann, send):
    send.batch(*(
        {"type": "track", "userId": "ann", "event": f"Step {n:02d}", "timestamp": f"2026-03-01T10:{n:02d}:00Z"}
        for n in range(PAGE_SIZE + 3)
    ))
    first = alice_client.get(f"/people/{ann.pk}").content.decode()
    cursor = first.split('hx-get="?before=')[1].split('"')[0]
    more = alice_client.get(
        f"/people/{ann.pk}", {"before": cursor}, headers={"HX-Request": "true", "HX-Target": "timeline-more"}
    ).content.decode()
    assert "<html" not in more and "Step 00" in more and "Report Viewed" in more


def test_internal_person_is_badged(alice_client, ann, workspace):
    workspace.internal_domains = ["acme.io"]
    workspace.save()
    assert '<span class="badge warn">internal</span>' in alice_client.get(f"/people/{ann.pk}").content.decode()


def test_breadcrumb_leads_back_to_people(alice_client, ann):
    assert '<a href="/people">People</a>' in alice_client.get(f"/people/{ann.pk}").content.decode()


def test_admins_see_the_delete_action(client, alice, dana, ann):
    for user in (alice, dana):
        client.force_login(user)
        assert f'href="/people/{ann.pk}/delete"' in client.get(f"/people/{ann.pk}").content.decode()


def test_members_do_not_see_the_delete_action(client, bob, ann):
    client.force_login(bob)
    page = client.get(f"/people/{ann.pk}").content.decode()
    assert "<h1>Ann Archer" in page and "/delete" not in page


def test_a_person_being_deleted_links_to_the_progress(
    alice_client, alice, ann, workspace, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # queues its task
        deletion = start_deletion(workspace=workspace, requested_by=alice, person=ann)
    page = alice_client.get(f"/people/{ann.pk}").content.decode()
    assert "This user is being deleted" in page and f'href="/deletions/{deletion.pk}"' in page
    assert f'href="/people/{ann.pk}/delete"' not in page


def test_outsider_cannot_open_the_profile(client, charlie, other_workspace, ann):
    client.force_login(charlie)
    assert client.get(f"/people/{ann.pk}").status_code == 404


def test_profile_takes_eight_queries_however_many_groups_or_events(
    alice_client, ann, send, django_assert_num_queries
):
    def check_queries():
        # The session, the user, the membership with its workspace, the person, the
        # events, the groups the events link to, a deletion under way, the memberships.
        with django_assert_num_queries(8):
            assert alice_client.get(f"/people/{ann.pk}").status_code == 200

    check_queries()
    send.batch(
        *({"type": "group", "userId": "ann", "groupId": f"co-{n}"} for n in range(10)),
        *({"type": "track", "userId": "ann", "event": "E", "context": {"groups": {"company": f"co-{n}", "team": f"t{n}"}}}
          for n in range(10)),
    )
    check_queries()


@pytest.mark.both_stores
def test_events_show_their_groups_by_name_with_the_key_on_hover(alice_client, ann):
    events = alice_client.get(f"/people/{ann.pk}").content.decode().split('id="events-title"')[1]
    removed = events.split("Account Removed User")[1].split("</li>")[0]
    assert (
        '<a class="badge" href="/groups/company/initech" title="Company initech · key initech">'
        '<span class="chip-type">Company</span> initech</a>'
    ) in removed  # no name: the key
    assert 'title="Company Acme Inc · key acme"><span class="chip-type">Company</span> Acme Inc</a>' in events


@pytest.mark.both_stores
def test_subtitle_counts_events_with_thousands_separators(alice_client, ann, send):
    send.batch(*({"type": "track", "userId": "ann", "event": "E"} for _ in range(995)))
    subtitle = alice_client.get(f"/people/{ann.pk}").content.decode().split('class="subtitle"')[1].split("</p>")[0]
    assert "1,001 events" in subtitle
