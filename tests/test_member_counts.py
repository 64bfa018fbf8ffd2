"""A group's member count is the number of its open memberships, whatever opened,
closed, merged or deleted them; and only analytics.memberships writes either."""

from django.db.models import Count, Q

from analytics.deletion import delete_people_by_email_domain, delete_person
from analytics.models import Group, Person
from conftest import writes_to


def joined(user, key, **ids):
    return {"type": "group", "userId": user, "groupId": key, **ids}


def visitor_joined(anonymous_id, key):
    return {"type": "group", "anonymousId": anonymous_id, "groupId": key}


def left(user, key):
    return {
        "type": "track",
        "userId": user,
        "event": "Account Removed User",
        "context": {"groupId": key},
    }


def counts(workspace):
    """{key: (member_count, open memberships)} of every group of the workspace."""
    groups = Group.objects.filter(workspace=workspace).annotate(
        open=Count("memberships", filter=Q(memberships__ended_at__isnull=True))
    )
    return {group.key: (group.member_count, group.open) for group in groups}


def steps(send, workspace):
    """Joins, a leave, merges of visitors who share a group (identify and alias) and
    deletions, one at a time; yields each step's name and the counts it should leave."""
    send.batch(
        joined("u1", "acme"), joined("u2", "acme"), joined("u3", "globex"), joined("u1", "globex")
    )
    yield "joins", {"acme": (2, 2), "globex": (2, 2)}
    send.batch(visitor_joined("a1", "acme"), visitor_joined("a1", "initech"))
    yield "a visitor joins", {"acme": (3, 3), "globex": (2, 2), "initech": (1, 1)}
    send.batch(left("u2", "acme"))
    yield "a leave", {"acme": (2, 2), "globex": (2, 2), "initech": (1, 1)}
    send.batch(
        {
            "type": "identify",
            "userId": "u1",
            "anonymousId": "a1",
            "traits": {"email": "u1@example.com"},
        }
    )
    yield (
        "identify merges a visitor in the same group",
        {"acme": (1, 1), "globex": (2, 2), "initech": (1, 1)},
    )
    send.batch(visitor_joined("a2", "globex"), visitor_joined("a2", "acme"))
    send.batch({"type": "alias", "previousId": "a2", "userId": "u3"})
    yield (
        "alias merges a visitor in the same group",
        {"acme": (2, 2), "globex": (2, 2), "initech": (1, 1)},
    )
    send.batch(
        joined("u2", "acme"),
        {"type": "identify", "userId": "u2", "traits": {"email": "u2@example.com"}},
    )
    yield "a rejoin", {"acme": (3, 3), "globex": (2, 2), "initech": (1, 1)}
    delete_person(Person.objects.get(workspace=workspace, user_id="u3"))
    yield "a deletion", {"acme": (2, 2), "globex": (1, 1), "initech": (1, 1)}
    delete_people_by_email_domain(workspace, "example.com")
    yield "a deletion of several", {"acme": (0, 0), "globex": (0, 0), "initech": (0, 0)}


def test_member_count_is_the_number_of_open_memberships_after_every_change(send, workspace):
    for step, expected in steps(send, workspace):
        assert counts(workspace) == expected, step


def test_only_the_memberships_module_writes_memberships_and_member_counts(send, workspace):
    with writes_to("analytics_membership") as memberships, writes_to("analytics_group") as groups:
        for _ in steps(send, workspace):
            pass
    counted = [(sql, m) for sql, m in groups if sql.startswith("UPDATE") and "member_count" in sql]
    # Every kind of write happened, so the check below has something to check.
    assert {sql.split()[0] for sql, _ in memberships} == {"INSERT", "UPDATE", "DELETE"}
    assert counted
    elsewhere = [sql for sql, modules in memberships + counted if "memberships.py" not in modules]
    assert elsewhere == []
