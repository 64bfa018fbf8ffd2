"""The dashboard's error pages: the sidebar of every page for a signed-in user, and what
is missing said in the product's words, in the names of the workspace's group types."""

import pytest
from django.test import Client

from analytics.models import Person

SIDEBAR = '<aside class="sidebar">'
WORKSPACE_BLOCK = '<div class="switcher"><label>Workspace</label><div class="current">Acme Analytics</div></div>'


@pytest.fixture
def ann(send, company, team):
    send.batch(
        {"type": "identify", "userId": "ann", "traits": {"email": "ann@acme.io", "name": "Ann"}},
        {"type": "group", "userId": "ann", "groupId": "acme", "traits": {"name": "Acme"}},
        {"type": "group", "userId": "ann", "groupId": "growth", "context": {"groupType": "team"}},
    )
    return Person.objects.get(user_id="ann")


def not_found(client, path):
    response = client.get(path)
    assert response.status_code == 404
    page = response.content.decode()
    assert "matches the given query" not in page
    return page


@pytest.mark.parametrize(
    "path, message",
    [
        ("/groups/company/ghost", "No company with the key “ghost” in this workspace."),
        ("/groups/team/ghost", "No team with the key “ghost” in this workspace."),
        ("/groups/projects/acme", "No group type “projects” in this workspace."),
        ("/groups/projects", "No group type “projects” in this workspace."),
        ("/people/987654", "No person with the id 987654 in this workspace."),
        ("/people/987654/delete", "No person with the id 987654 in this workspace."),
        ("/deletions/987654", "No deletion with the id 987654 in this workspace."),
        ("/settings/group-types/projects", "No group type “projects” in this workspace."),
        ("/nothing-here", "There is nothing at /nothing-here"),
    ],
)
def test_a_missing_thing_is_named_in_the_products_words(alice_client, ann, path, message):
    assert f'<p class="subtitle">{message}</p>' in not_found(alice_client, path)


def test_only_a_missing_object_may_be_in_another_workspace(alice_client, ann):
    hint = "It may belong to a workspace you are not a member of."
    assert hint in not_found(alice_client, "/groups/company/ghost")
    assert hint not in not_found(alice_client, "/nothing-here")  # no address of ours


def test_a_parameter_named_first_keeps_its_spelling(alice_client, ann):
    page = alice_client.get("/people?per_page=500").content.decode()
    assert '<p class="subtitle">per_page must be' in page


def test_a_renamed_type_is_named_as_renamed(alice_client, ann, team):
    team.singular, team.plural = "Squad", "Squads"
    team.save()
    assert "No squad with the key “ghost” in this workspace." in not_found(
        alice_client, "/groups/team/ghost"
    )


def test_another_workspaces_group_is_not_found_either(client, charlie, other_workspace, ann):
    client.force_login(charlie)
    assert "No group type “team” in this workspace." in not_found(client, "/groups/team/growth")
    assert "No company with the key “acme”" in not_found(client, "/groups/company/acme")


def test_a_signed_in_users_404_keeps_the_sidebar(alice_client, ann):
    page = not_found(alice_client, "/groups/company/ghost")
    assert SIDEBAR in page and WORKSPACE_BLOCK in page
    assert 'href="/people"' in page and "alice@example.com · owner" in page
    assert "<h1>Not found</h1>" in page


def test_someone_in_no_workspace_keeps_the_sidebar_without_a_workspace(client, charlie):
    client.force_login(charlie)
    page = not_found(client, "/groups")
    assert SIDEBAR in page and 'class="switcher"' not in page
    assert "You are not a member of any workspace yet." in page


def test_a_visitor_not_logged_in_gets_the_page_without_the_sidebar(client, db):
    page = not_found(client, "/nothing-here")
    assert SIDEBAR not in page and '<div class="auth">' in page
    assert "<h1>Not found</h1>" in page


def test_a_403_keeps_the_sidebar(client, bob, workspace):
    client.force_login(bob)
    response = client.get("/settings/group-types")
    assert response.status_code == 403
    assert SIDEBAR in response.content.decode()


def test_a_server_error_keeps_the_sidebar(transactional_db, alice, ann, workspace, refuse_inserts):
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    refuse_inserts("analytics_deletion")
    response = client.post(f"/people/{ann.pk}/delete", {"workspace": workspace.slug})
    assert response.status_code == 500
    page = response.content.decode()
    assert "<h1>Something went wrong</h1>" in page and SIDEBAR in page and WORKSPACE_BLOCK in page
    assert "refused by the test" not in page
