"""Group types in the settings: add, rename, reorder, choose the default, delete."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.models import Event, Group, GroupType, Membership
from conftest import post


def order(workspace):
    return list(workspace.group_types.values_list("name", flat=True))


def team_activity(send):
    """Two teams with members, and events in team and company context."""
    send.batch(
        {"type": "group", "userId": "u1", "groupId": "growth", "context": {"groupType": "team"}},
        {"type": "group", "userId": "u2", "groupId": "growth", "context": {"groupType": "team"}},
        {"type": "group", "userId": "u2", "groupId": "infra", "context": {"groupType": "team"}},
        {
            "type": "track",
            "userId": "u1",
            "event": "Report Viewed",
            "context": {"groups": {"team": "growth", "company": "acme"}},
        },
    )


def test_page_lists_types_with_wire_names_counts_and_default(alice_client, send):
    team_activity(send)
    page = alice_client.get("/settings/group-types").content.decode()
    companies, teams = page.split("<tbody>")[1].split("</tr>")[:2]
    assert (
        "Companies" in companies and "<code>company</code>" in companies and "Default" in companies
    )
    assert '<a href="/groups/company">1</a>' in companies
    assert "Teams" in teams and "<code>team</code>" in teams and "Default" not in teams
    assert '<a href="/groups/team">2</a>' in teams
    assert "2 of 10 used" in page


def test_add_a_type(alice_client, workspace):
    response = post(alice_client, "/settings/group-types", workspace, name="  Project ")
    assert response.status_code == 302 and response["Location"] == "/settings/group-types"
    project = workspace.group_types.get(name="project")
    assert (project.singular, project.plural, project.is_default) == ("Project", "Projects", False)
    assert order(workspace) == ["company", "team", "project"]
    assert (
        "Added the group type project."
        in alice_client.get("/settings/group-types").content.decode()
    )


def test_add_a_type_with_display_names(alice_client, workspace):
    post(
        alice_client,
        "/settings/group-types",
        workspace,
        name="org",
        singular="Organisation",
        plural="Organisations",
    )
    org = workspace.group_types.get(name="org")
    assert (org.singular, org.plural) == ("Organisation", "Organisations")


def test_wire_name_must_be_a_slug(alice_client, workspace):
    response = post(alice_client, "/settings/group-types", workspace, name="big accounts")
    assert response.status_code == 200
    assert "letters, numbers, underscores or hyphens" in response.content.decode()
    assert order(workspace) == ["company", "team"]


def test_wire_names_are_unique(alice_client, workspace):
    response = post(alice_client, "/settings/group-types", workspace, name="Team")
    assert "The group type &#x27;team&#x27; already exists." in response.content.decode()
    assert order(workspace) == ["company", "team"]


def test_an_eleventh_type_is_refused_with_the_limit(alice_client, workspace):
    for n in range(8):
        GroupType.create(workspace=workspace, name=f"type{n}")
    response = post(alice_client, "/settings/group-types", workspace, name="one-too-many")
    assert response.status_code == 200
    assert "A workspace can have at most 10 group types." in response.content.decode()
    assert workspace.group_types.count() == 10
    assert "The limit of 10 is reached" in response.content.decode()


def test_rename_changes_display_names_not_the_wire_name(alice_client, workspace, team, send):
    response = post(
        alice_client, "/settings/group-types/team", workspace, singular="Squad", plural="Squads"
    )
    assert response["Location"] == "/settings/group-types"
    team.refresh_from_db()
    assert (team.name, team.singular, team.plural) == ("team", "Squad", "Squads")
    send.batch(
        {"type": "group", "userId": "u1", "groupId": "growth", "context": {"groupType": "team"}}
    )
    assert (
        'aria-selected="false">Squads <span class="n">1</span>'
        in alice_client.get("/groups/company").content.decode()
    )


def test_rename_needs_both_names(alice_client, workspace, team):
    response = post(
        alice_client, "/settings/group-types/team", workspace, singular="", plural="Squads"
    )
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    team.refresh_from_db()
    assert team.plural == "Teams"


def test_rename_page_shows_the_wire_name_as_fixed(alice_client):
    page = alice_client.get("/settings/group-types/team").content.decode()
    assert "It cannot change" in page and 'name="name"' not in page


def test_move_swaps_with_the_neighbour(alice_client, workspace):
    GroupType.create(workspace=workspace, name="project")
    post(alice_client, "/settings/group-types/project/move", workspace, direction="up")
    assert order(workspace) == ["company", "project", "team"]
    post(alice_client, "/settings/group-types/company/move", workspace, direction="down")
    assert order(workspace) == ["project", "company", "team"]
    page = alice_client.get("/settings/group-types").content.decode()
    assert (
        page.index("<code>project</code>")
        < page.index("<code>company</code>")
        < page.index("<code>team</code>")
    )


def test_moving_past_either_end_changes_nothing(alice_client, workspace):
    post(alice_client, "/settings/group-types/company/move", workspace, direction="up")
    post(alice_client, "/settings/group-types/team/move", workspace, direction="down")
    assert order(workspace) == ["company", "team"]


def test_untyped_group_ids_go_to_the_new_default(alice_client, workspace, company, team, send):
    response = post(alice_client, "/settings/group-types/team/default", workspace)
    assert response["Location"] == "/settings/group-types"
    assert list(workspace.group_types.filter(is_default=True)) == [team]
    send.batch(
        {"type": "group", "userId": "u1", "groupId": "growth"},
        {"type": "track", "userId": "u1", "event": "Clicked", "context": {"groupId": "growth"}},
    )
    growth = Group.objects.get(key="growth")
    assert growth.group_type == team
    assert Event.objects.get(name="Clicked").group_ids() == {team.slot: growth.pk}


def test_making_the_default_default_again_keeps_one_default(alice_client, workspace, company):
    post(alice_client, "/settings/group-types/company/default", workspace)
    assert list(workspace.group_types.filter(is_default=True)) == [company]


def test_delete_confirmation_says_what_goes(alice_client, send):
    team_activity(send)
    page = alice_client.get("/settings/group-types/team/delete").content.decode()
    assert "<b>2</b> teams" in page
    assert "<b>3</b> memberships" in page
    assert "<b>4</b> events will lose their team context" in page
    assert "events themselves are kept" in page


def test_delete_removes_groups_and_memberships_and_keeps_events(
    alice_client, workspace, team, send
):
    team_activity(send)
    events = Event.objects.count()
    response = post(alice_client, "/settings/group-types/team/delete", workspace)
    assert response["Location"] == "/settings/group-types"
    assert order(workspace) == ["company"]
    assert not Group.objects.filter(key__in=["growth", "infra"]).exists()
    assert not Membership.objects.filter(group__key__in=["growth", "infra"]).exists()
    assert Event.objects.count() == events
    viewed = Event.objects.get(name="Report Viewed")
    assert getattr(viewed, team.slot_field) is None
    assert viewed.group_ids() == {0: Group.objects.get(key="acme").pk}  # company keeps its context
    assert alice_client.get("/groups/team").status_code == 404


def test_a_type_added_in_a_freed_slot_starts_clean(alice_client, workspace, team, send):
    team_activity(send)
    post(alice_client, "/settings/group-types/team/delete", workspace)
    post(alice_client, "/settings/group-types", workspace, name="project")
    project = workspace.group_types.get(name="project")
    assert project.slot == team.slot
    assert not Event.objects.filter(**{f"{project.slot_field}__isnull": False}).exists()
    assert order(workspace) == ["company", "project"]


def test_the_get_of_the_delete_page_deletes_nothing(alice_client, workspace):
    alice_client.get("/settings/group-types/team/delete")
    assert order(workspace) == ["company", "team"]


def test_deleting_the_default_asks_which_type_takes_its_place(alice_client, workspace, team):
    page = alice_client.get("/settings/group-types/company/delete").content.decode()
    assert "Companies is the default type" in page and f'<option value="{team.pk}"' in page
    response = post(alice_client, "/settings/group-types/company/delete", workspace, new_default="")
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    assert order(workspace) == ["company", "team"]
    post(alice_client, "/settings/group-types/company/delete", workspace, new_default=team.pk)
    assert order(workspace) == ["team"]
    team.refresh_from_db()
    assert team.is_default


def test_the_only_type_can_be_deleted(alice_client, workspace, team):
    post(alice_client, "/settings/group-types/team/delete", workspace)
    page = alice_client.get("/settings/group-types/company/delete").content.decode()
    assert "default and only type" in page
    post(alice_client, "/settings/group-types/company/delete", workspace)
    assert order(workspace) == []
    post(alice_client, "/settings/group-types", workspace, name="account")
    assert workspace.group_types.get(name="account").is_default  # the first type is the default


def test_deleting_a_type_of_the_same_name_elsewhere_is_untouched(
    alice_client, workspace, other_workspace
):
    post(
        alice_client,
        "/settings/group-types/company/delete",
        workspace,
        new_default=workspace.group_types.get(name="team").pk,
    )
    assert other_workspace.group_types.filter(name="company").exists()


def test_page_queries_do_not_grow_with_types(alice_client, workspace, send):
    team_activity(send)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert alice_client.get("/settings/group-types").status_code == 200
        return len(captured)

    few = queries()
    for n in range(5):
        GroupType.create(workspace=workspace, name=f"type{n}")
    assert queries() == few


def test_rename_hints_speak_of_the_type_itself(alice_client, workspace, team):
    page = alice_client.get("/settings/group-types/team").content.decode()
    assert "As in “1 team”." in page
    assert "As in the tabs of the Groups page: “Teams”." in page
    assert "compan" not in page.split('<form class="card settings-form')[1].lower()


def test_rename_hints_keep_the_saved_names_when_a_rename_is_refused(alice_client, workspace, team):
    page = post(
        alice_client, "/settings/group-types/team", workspace, singular="", plural="Squads"
    ).content.decode()
    assert "As in “1 team”." in page and "“Teams”" in page
