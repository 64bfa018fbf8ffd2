"""The unmodified Segment library for Python, pointed at a live Groupsite server."""

import pytest
from segment.analytics import Client
from segment.analytics import request as segment_request

from analytics.models import Event, Group, Membership, Person, SuppressedUser


@pytest.fixture
def connect(live_server, transactional_db):
    clients = []

    def connect(workspace, **options):
        client = Client(workspace.write_key, host=live_server.url, max_retries=0, **options)
        clients.append(client)
        return client

    yield connect
    for client in clients:
        if not client.sync_mode:
            client.shutdown()
    # The library keeps one HTTP session open; close it so the server thread (and its
    # database connection) ends with the test.
    segment_request._session.close()


def test_identify_group_track_in_sync_mode(connect, workspace):
    segment = connect(workspace, sync_mode=True)
    segment.identify("u1", {"email": "Ann@Example.com", "name": "Ann"})
    segment.group("u1", "acme", {"name": "Acme Inc", "plan": "pro"})
    segment.track("u1", "Report Viewed", {"report": "weekly"})
    person = Person.objects.get(workspace=workspace, user_id="u1")
    assert person.email == "ann@example.com"
    acme = Group.objects.get(workspace=workspace, key="acme")
    assert acme.properties == {"name": "Acme Inc", "plan": "pro"}
    assert Membership.objects.filter(person=person, group=acme, ended_at=None).exists()
    viewed = Event.objects.get(workspace=workspace, type="track")
    assert (viewed.name, viewed.properties, viewed.group_0) == ("Report Viewed", {"report": "weekly"}, acme)
    assert viewed.context["library"]["name"] == "analytics-python"


def test_queued_gzip_batches_are_all_stored(connect, workspace):
    segment = connect(workspace, gzip=True, upload_size=100)
    for n in range(250):
        segment.track(f"user-{n % 7}", "Feature Used", {"n": n}, anonymous_id=None)
    segment.page("user-1", "Docs", "Quickstart")
    segment.screen("user-2", "Mobile", "Home")
    segment.alias("user-1", "user-1-new")
    segment.flush()
    assert Event.objects.filter(workspace=workspace, type="track").count() == 250
    assert set(Event.objects.exclude(type="track").values_list("type", flat=True)) == {"page", "screen", "alias"}
    assert sorted(Event.objects.filter(type="track").values_list("properties__n", flat=True)) == list(range(250))


def test_group_id_in_track_context_as_the_help_article_shows(connect, workspace):
    segment = connect(workspace, sync_mode=True)
    segment.track(user_id="019mr8mf4r", event="Created Account", properties={"plan": "Pro"}, context={"groupId": "56"})
    assert Event.objects.get(name="Created Account").group_0.key == "56"


def test_refusal_reaches_the_library_as_an_error(connect, workspace):
    SuppressedUser.objects.create(workspace=workspace, user_id="staff-1")
    errors = []
    segment = connect(workspace, sync_mode=True, on_error=lambda error, batch: errors.append(error))
    with pytest.raises(Exception) as raised:
        segment.track("staff-1", "Impersonated")
    assert raised.value.status == 400
    assert "was deleted and is blocked" in raised.value.message
    assert not Event.objects.exists()
