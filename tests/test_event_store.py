"""Every write to events goes through analytics.event_store: storing calls, merging a
visitor into a known user, deleting people and removing a group type."""

from conftest import writes_to

from analytics.deletion import delete_person
from analytics.group_types import remove_group_type
from analytics.models import Event, Person


def test_only_the_event_store_writes_events(send, workspace, company, team):
    with writes_to("analytics_event") as writes:
        send.batch(
            {
                "type": "track",
                "anonymousId": "a1",
                "event": "Viewed",
                "context": {"groups": {"company": "acme", "team": "growth"}},
            },
            {"type": "track", "userId": "u1", "event": "Clicked", "context": {"groupId": "acme"}},
            {"type": "track", "userId": "u2", "event": "Clicked", "context": {"groupId": "acme"}},
        )
        stored = len(writes)
        send.batch({"type": "identify", "userId": "u1", "anonymousId": "a1"})
        merged = len(writes)
        delete_person(Person.objects.get(workspace=workspace, user_id="u2"))
        deleted = len(writes)
        remove_group_type(team)
    u1 = Person.objects.get(workspace=workspace, user_id="u1")
    assert Event.objects.filter(workspace=workspace).count() == 3
    assert Event.objects.filter(person=u1).count() == 3  # the visitor's came along
    assert not Event.objects.filter(workspace=workspace, user_id="u2").exists()
    assert not Event.objects.filter(workspace=workspace, **{f"group_{team.slot}__isnull": False})
    # Each step wrote to events itself: the database's own rules (cascades) had
    # nothing left to do, and the check below has something to check.
    kinds = [sql.split()[0] for sql, _ in writes]
    assert stored and kinds[0] in ("COPY", "INSERT")
    assert "UPDATE" in kinds[stored:merged]
    assert "DELETE" in kinds[merged:deleted]
    assert kinds[deleted:] == ["UPDATE"]
    assert [sql for sql, modules in writes if "event_store.py" not in modules] == []
