"""Who may open and use the workspace settings: owners everything, admins the API keys and
a read-only members list, members 403, everyone else 404."""

import pytest

from analytics.models import Workspace

PAGES = {
    # path: status for (owner, admin, member)
    "/settings": (302, 302, 403),
    "/settings/general": (200, 403, 403),
    "/settings/group-types": (200, 403, 403),
    "/settings/group-types/team": (200, 403, 403),
    "/settings/group-types/team/delete": (200, 403, 403),
    "/settings/members": (200, 200, 403),
    "/settings/api-keys": (200, 200, 403),
    "/settings/api-keys/secret-key": (200, 200, 403),
    "/settings/api-keys/write-key": (200, 200, 403),
    "/settings/ingestion-problems": (200, 200, 403),
}

# What each action posts; {member} is bob's membership.
ACTIONS = {
    "save general": (
        "/settings/general", {"name": "Renamed", "time_zone": "UTC", "internal_domains": "acme.com"}
    ),
    "add type": ("/settings/group-types", {"name": "project"}),
    "rename type": ("/settings/group-types/team", {"singular": "Squad", "plural": "Squads"}),
    "move type": ("/settings/group-types/team/move", {"direction": "up"}),
    "make default": ("/settings/group-types/team/default", {}),
    "delete type": ("/settings/group-types/team/delete", {}),
    "invite": ("/settings/members", {"email": "erin@example.com", "role": "member"}),
    "change role": ("/settings/members/{member}/role", {"role": "admin"}),
    "remove member": ("/settings/members/{member}/remove", {}),
    "rotate secret key": ("/settings/api-keys/secret-key", {}),
    "rotate write key": ("/settings/api-keys/write-key", {}),
}
ADMIN_ACTIONS = {"rotate secret key", "rotate write key"}


def state(workspace):
    """Everything the settings can change, to compare before and after a refused POST."""
    workspace = Workspace.objects.get(pk=workspace.pk)
    return (
        (
            workspace.name,
            workspace.internal_domains,
            workspace.write_key,
            workspace.secret_key_hash,
        ),
        list(
            workspace.group_types.values_list(
                "name", "singular", "plural", "position", "is_default"
            )
        ),
        sorted(workspace.members.values_list("user__email", "role")),
    )


def post_action(client, workspace, bob, action):
    path, data = ACTIONS[action]
    member = workspace.members.get(user=bob)
    return client.post(path.format(member=member.pk), {"workspace": workspace.slug, **data})


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.parametrize("role", ["owner", "admin", "member"])
def test_pages_by_role(client, alice, bob, dana, path, role):
    user = {"owner": alice, "admin": dana, "member": bob}[role]
    client.force_login(user)
    expected = PAGES[path][["owner", "admin", "member"].index(role)]
    assert client.get(path).status_code == expected


def test_settings_opens_general_for_owners_and_api_keys_for_admins(client, alice, dana):
    client.force_login(alice)
    assert client.get("/settings")["Location"] == "/settings/general"
    client.force_login(dana)
    assert client.get("/settings")["Location"] == "/settings/api-keys"


@pytest.mark.parametrize("path", PAGES)
def test_outsider_gets_404(client, charlie, workspace, path):
    client.force_login(charlie)
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("path", PAGES)
def test_logged_out_visitor_is_sent_to_log_in(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


@pytest.mark.parametrize("action", ACTIONS)
def test_member_cannot_change_anything(client, bob, workspace, action):
    before = state(workspace)
    client.force_login(bob)
    assert post_action(client, workspace, bob, action).status_code == 403
    assert state(workspace) == before


@pytest.mark.parametrize("action", sorted(set(ACTIONS) - ADMIN_ACTIONS))
def test_admin_cannot_change_types_members_or_general_settings(
    client, bob, dana, workspace, action
):
    before = state(workspace)
    client.force_login(dana)
    assert post_action(client, workspace, bob, action).status_code == 403
    assert state(workspace) == before


@pytest.mark.parametrize("action", sorted(ADMIN_ACTIONS))
def test_admin_can_rotate_keys(client, bob, dana, workspace, action):
    before = state(workspace)
    client.force_login(dana)
    assert post_action(client, workspace, bob, action).status_code in (200, 302)
    assert state(workspace) != before


@pytest.mark.parametrize("action", ACTIONS)
def test_owner_can_do_everything(client, alice, bob, workspace, action):
    before = state(workspace)
    client.force_login(alice)
    assert post_action(client, workspace, bob, action).status_code in (200, 302)
    assert state(workspace) != before


@pytest.mark.parametrize("action", ACTIONS)
def test_outsider_cannot_change_anything(client, bob, charlie, workspace, action):
    before = state(workspace)
    client.force_login(charlie)
    assert post_action(client, workspace, bob, action).status_code == 404
    assert state(workspace) == before


def test_owner_of_another_workspace_cannot_reach_alices_members(
    client, bob, charlie, workspace, other_workspace
):
    before = state(workspace)
    client.force_login(charlie)
    member = workspace.members.get(user=bob)
    for path in (f"/settings/members/{member.pk}/role", f"/settings/members/{member.pk}/remove"):
        assert (
            client.post(path, {"workspace": other_workspace.slug, "role": "owner"}).status_code
            == 404
        )
    assert client.get("/settings/group-types/team").status_code == 404  # alice's type only
    assert state(workspace) == before


def test_a_form_left_open_for_another_workspace_changes_nothing(client, alice, workspace):
    second, _ = Workspace.create(name="Beta", owner=alice, group_types=("account",))
    client.force_login(alice)
    client.post("/workspace", {"workspace": workspace.slug})
    before = state(workspace)
    # The form was shown for Beta; another tab has switched to Acme since.
    response = client.post("/settings/api-keys/write-key", {"workspace": second.slug}, follow=True)
    assert state(workspace) == before
    assert "Nothing was changed" in response.content.decode()


def test_settings_link_for_owners_and_admins_only(client, alice, bob, dana):
    for user, shown in ((alice, True), (dana, True), (bob, False)):
        client.force_login(user)
        page = client.get("/groups/company").content.decode()
        assert ('href="/settings"' in page) is shown


def test_settings_link_is_current_in_settings(client, alice, workspace):
    client.force_login(alice)
    page = client.get("/settings/general").content.decode()
    assert '<a href="/settings" aria-current="page">Settings</a>' in page


def test_admin_sees_only_the_tabs_they_may_open(client, dana):
    client.force_login(dana)
    page = client.get("/settings/api-keys").content.decode()
    assert 'href="/settings/members"' in page and 'href="/settings/api-keys"' in page
    assert 'href="/settings/ingestion-problems"' in page
    assert 'href="/settings/general"' not in page and 'href="/settings/group-types"' not in page
