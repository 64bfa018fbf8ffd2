"""Group calls, group types on the wire, memberships and the group context of events."""

from datetime import timedelta

import pytest
from calls import T0, at, group_call, track_call
from conftest import groups_of

from analytics.group_types import remove_group_type
from analytics.models import Event, Group, GroupType, IngestionProblem, Membership, Person


def test_group_call_creates_the_group_and_a_membership(send, workspace, company):
    send.batch(group_call("acme", traits={"name": "Acme"}))
    acme = Group.objects.get(workspace=workspace, group_type=company, key="acme")
    assert acme.properties == {"name": "Acme"}
    assert acme.last_updated == T0
    membership = Membership.objects.get(group=acme)
    assert membership.person.user_id == "u1"
    assert (membership.started_at, membership.ended_at) == (T0, None)


def test_group_call_updates_last_updated(send, company):
    send.batch(group_call("acme", minutes=0))
    send.batch(group_call("acme", user="u2", minutes=30))
    assert Group.objects.get(key="acme").last_updated == T0 + timedelta(minutes=30)


def test_group_call_of_a_member_keeps_one_membership(send, company):
    send.batch(group_call("acme", minutes=0), group_call("acme", minutes=10))
    send.batch(group_call("acme", minutes=20))
    assert Membership.objects.count() == 1


def test_group_type_from_context(send, team):
    send.batch(group_call("growth", context={"groupType": "team"}))
    assert Group.objects.get(key="growth").group_type == team


@pytest.mark.parametrize(
    "traits",
    [
        {"groupType": "team"},
        {"group_type": "team"},
        {"GroupType": "team"},
        {"group-type": "Team"},
        {"groupType": "team", "group_type": "team"},
        {"groupType": "", "group_type": "team"},
    ],
)
def test_group_type_from_a_trait_is_not_stored_as_a_property(send, team, traits):
    send.batch(group_call("growth", traits={**traits, "name": "Growth"}))
    growth = Group.objects.get(key="growth")
    assert growth.group_type == team
    assert growth.properties == {"name": "Growth"}


def test_untyped_group_id_is_the_default_type(send, company):
    send.batch(group_call("acme"))
    assert Group.objects.get(key="acme").group_type == company


def test_unknown_group_type_is_not_invented(send, workspace):
    response = send.batch(group_call("x", context={"groupType": "region"}), track_call())
    body = response.json()
    assert response.status_code == 200
    assert body["stored"] == 2
    assert "group type 'region' is not defined" in body["warnings"][0]["warning"]
    assert not GroupType.objects.filter(name="region").exists()
    assert not Group.objects.exists()
    warning = IngestionProblem.objects.get(level=IngestionProblem.Level.WARNING)
    assert "region" in warning.reason


def test_track_context_group_id_is_the_default_type(send, company):
    send.batch(track_call(context={"groupId": "acme"}))
    assert groups_of(Event.objects.get()) == {"company": "acme"}


def test_track_context_groups_carry_one_key_per_type(send, company, team):
    send.batch(track_call(context={"groups": {"company": "acme", "team": "growth"}}))
    assert groups_of(Event.objects.get()) == {"company": "acme", "team": "growth"}
    assert Group.objects.get(key="growth").last_updated is None  # seen, never grouped


def test_unknown_type_in_track_context_is_refused_and_the_event_kept(send, company):
    response = send.batch(track_call(context={"groups": {"company": "acme", "planet": "mars"}}))
    assert response.json()["warnings"][0]["warning"].startswith("group type 'planet' is not defined")
    assert groups_of(Event.objects.get()) == {"company": "acme"}


def test_event_takes_the_one_company_its_user_is_in(send, company):
    send.batch(group_call("acme", minutes=0), track_call(minutes=5))
    track_event = Event.objects.get(type="track")
    assert groups_of(track_event) == {"company": "acme"}


def test_event_of_a_user_in_several_companies_stays_without_company(send, company):
    send.batch(
        group_call("acme", minutes=0), group_call("globex", minutes=1), track_call(minutes=5)
    )
    assert groups_of(Event.objects.get(type="track")) == {}


def test_explicit_context_wins_for_a_user_in_several_companies(send, company):
    send.batch(
        group_call("acme"),
        group_call("globex"),
        track_call(minutes=5, context={"groupId": "globex"}),
    )
    assert groups_of(Event.objects.get(type="track")) == {"company": "globex"}


def test_implicit_context_is_per_type(send, company, team):
    send.batch(
        group_call("acme"),
        group_call("globex"),
        group_call("growth", context={"groupType": "team"}),
        track_call(minutes=5),
    )
    assert groups_of(Event.objects.get(type="track")) == {"team": "growth"}


def test_event_before_the_group_call_gets_no_group(send, company):
    send.batch(
        track_call("Early", minutes=0),
        group_call("acme", minutes=10),
        track_call("Late", minutes=20),
    )
    assert groups_of(Event.objects.get(name="Early")) == {}
    assert groups_of(Event.objects.get(name="Late")) == {"company": "acme"}


def test_group_context_is_never_backfilled(send, company):
    send.batch(track_call("Before", minutes=0))
    send.batch(group_call("acme", minutes=10))
    send.batch(track_call("Late import of an early event", minutes=5))
    assert groups_of(Event.objects.get(name="Before")) == {}
    assert groups_of(Event.objects.get(name="Late import of an early event")) == {}


def test_implicit_context_uses_memberships_from_earlier_batches(send, company):
    send.batch(group_call("acme", minutes=0))
    send.batch(track_call(minutes=5))
    assert groups_of(Event.objects.get(type="track")) == {"company": "acme"}


def test_account_removed_user_ends_the_membership(send, company):
    send.batch(group_call("acme", minutes=0))
    send.batch(track_call("Account Removed User", minutes=30, context={"groupId": "acme"}))
    membership = Membership.objects.get()
    assert membership.ended_at == T0 + timedelta(minutes=30)
    send.batch(track_call("After", minutes=40))
    assert groups_of(Event.objects.get(name="After")) == {}


def test_account_removed_user_leaves_other_groups(send, company):
    send.batch(group_call("acme"), group_call("globex"))
    send.batch(track_call("Account Removed User", minutes=30, context={"groupId": "globex"}))
    send.batch(track_call("After", minutes=40))
    open_keys = set(Membership.objects.filter(ended_at=None).values_list("group__key", flat=True))
    assert open_keys == {"acme"}
    assert groups_of(Event.objects.get(name="After")) == {"company": "acme"}


def test_account_removed_user_without_group_warns(send, company):
    send.batch(group_call("acme"))
    body = send.batch(track_call("Account Removed User", minutes=30)).json()
    assert "no membership was ended" in body["warnings"][0]["warning"]
    assert Membership.objects.get().ended_at is None


def test_rejoining_after_removal_is_a_new_membership(send, company):
    send.batch(group_call("acme", minutes=0))
    send.batch(track_call("Account Removed User", minutes=10, context={"groupId": "acme"}))
    send.batch(group_call("acme", minutes=20))
    spans = list(Membership.objects.order_by("started_at").values_list("started_at", "ended_at"))
    assert spans == [(T0, T0 + timedelta(minutes=10)), (T0 + timedelta(minutes=20), None)]


def test_group_call_is_in_its_own_groups_context(send, team):
    send.batch(group_call("growth", context={"groupType": "team"}))
    assert groups_of(Event.objects.get()) == {"team": "growth"}


def test_group_key_is_unique_per_type(send, company, team):
    send.batch(group_call("x"), group_call("x", context={"groupType": "team"}))
    assert Group.objects.filter(key="x").count() == 2
    assert Person.objects.get().memberships.count() == 2


def test_workspace_may_have_ten_group_types(workspace):
    for n in range(8):
        GroupType.create(workspace=workspace, name=f"type{n}")
    assert workspace.group_types.count() == 10
    assert sorted(workspace.group_types.values_list("slot", flat=True)) == list(range(10))


def test_member_count_follows_joins_and_removals(send, company):
    send.batch(
        group_call("acme", user="u1"),
        group_call("acme", user="u2"),
        group_call("acme", user="u2", minutes=3),
    )
    assert Group.objects.get(key="acme").member_count == 2
    send.batch(
        track_call("Account Removed User", user="u2", minutes=10, context={"groupId": "acme"})
    )
    assert Group.objects.get(key="acme").member_count == 1
    send.batch(group_call("acme", user="u2", minutes=20))
    assert Group.objects.get(key="acme").member_count == 2


def test_member_count_when_an_anonymous_member_identifies_as_a_member(send, company):
    send.batch(group_call("acme", user="u1"))
    send.batch({"type": "group", "anonymousId": "a1", "groupId": "acme", "timestamp": at(1)})
    assert Group.objects.get(key="acme").member_count == 2
    send.batch({"type": "identify", "userId": "u1", "anonymousId": "a1"})
    assert Group.objects.get(key="acme").member_count == 1
    assert Membership.objects.get().started_at == T0


def test_person_is_flagged_when_an_event_names_none_of_their_several_groups(send, company, team):
    send.batch(group_call("acme"), track_call("Alone", minutes=1))
    assert Person.objects.get().several_without == 0  # one company: the event took it
    send.batch(
        group_call("globex", minutes=2),
        track_call("Explicit", minutes=3, context={"groupId": "acme"}),
    )
    assert Person.objects.get().several_without == 0  # it named its company
    send.batch(track_call("Ambiguous", minutes=4))
    assert Person.objects.get().several_without == 1 << company.slot


def test_flag_goes_with_a_deleted_type(send, company, team, workspace):
    send.batch(group_call("acme"), group_call("globex"), track_call(minutes=5))
    remove_group_type(company, new_default=team)
    assert Person.objects.get().several_without == 0


def test_flags_follow_a_merge(send, company):
    send.batch({"type": "identify", "userId": "u1"})
    send.batch(
        {"type": "group", "anonymousId": "a1", "groupId": "acme", "timestamp": at(0)},
        {"type": "group", "anonymousId": "a1", "groupId": "globex", "timestamp": at(0)},
        {"type": "track", "anonymousId": "a1", "event": "E", "timestamp": at(1)},
    )
    send.batch({"type": "identify", "userId": "u1", "anonymousId": "a1"})
    assert Person.objects.get().several_without == 1 << company.slot
