import pytest
from segment.analytics import Client
from segment.analytics import request as segment_request

from analytics.models import Event, Group, Membership, Person


@pytest.fixture
def segment(live_server, workspace, transactional_db):
    client = Client(workspace.write_key, host=live_server.url, sync_mode=True, max_retries=0)
    yield client
    # The library keeps one HTTP session open; close it so the server thread (and its
    # database connection) ends with the test.
    segment_request._session.close()


def test_unmodified_segment_client_calls_are_stored(segment, workspace):
    segment.identify("u1", {"email": "Ann@Example.com", "name": "Ann"})
    segment.group("u1", "acme", {"name": "Acme Inc", "plan": "pro"})
    segment.track("u1", "Report Viewed", {"report": "weekly"})
    person = Person.objects.get(workspace=workspace, user_id="u1")
    assert person.email == "ann@example.com"
    group = Group.objects.get(workspace=workspace, key="acme")
    assert group.properties == {"name": "Acme Inc", "plan": "pro"}
    assert Membership.objects.filter(person=person, group=group, ended_at=None).exists()
    track = Event.objects.get(workspace=workspace, type="track")
    assert track.name == "Report Viewed"
    assert track.group_0_id == group.pk
