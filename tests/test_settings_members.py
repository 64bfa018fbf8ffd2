"""Members in the settings: add an account or create one, change roles, remove, and never
leave a workspace without an owner."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from analytics.models import Role, User
from conftest import logs_in, post


def roles(workspace):
    return dict(workspace.members.values_list("user__email", "role"))


def member_pk(workspace, user):
    return workspace.members.get(user=user).pk


def row(page, email):
    """The members table's row of this account."""
    rows = page.split("<tbody>")[1].split("</tbody>")[0].split("</tr>")
    return next(row for row in rows if email in row)


def test_page_lists_accounts_with_roles_owners_first(alice_client, workspace, dana):
    page = alice_client.get("/settings/members").content.decode()
    rows = page.split("<tbody>")[1].split("</tr>")
    assert "alice@example.com" in rows[0] and '<option value="owner" selected>' in rows[0]
    assert "dana@example.com" in rows[1] and '<option value="admin" selected>' in rows[1]
    assert "bob@example.com" in rows[2] and '<option value="member" selected>' in rows[2]
    assert "3 accounts" in page


def test_add_an_existing_account(alice_client, workspace, charlie):
    response = post(
        alice_client, "/settings/members", workspace, email="Charlie@Example.com ", role="admin"
    )
    assert response.status_code == 302 and response["Location"] == "/settings/members"
    assert roles(workspace)["charlie@example.com"] == Role.ADMIN
    assert User.objects.filter(email__iexact="charlie@example.com").count() == 1
    assert (
        "Added charlie@example.com as admin."
        in alice_client.get("/settings/members").content.decode()
    )


def test_new_account_gets_a_password_shown_once(alice_client, client, workspace):
    response = post(
        alice_client, "/settings/members", workspace, email="Erin@Example.com", role="member"
    )
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    password = response.context["created"]["password"]
    assert password in response.content.decode()
    assert roles(workspace)["erin@example.com"] == Role.MEMBER
    assert password not in alice_client.get("/settings/members").content.decode()
    assert not any(password in str(value) for value in alice_client.session.values())
    client.logout()
    assert logs_in(client, "erin@example.com", password)
    assert client.get("/groups").status_code == 302  # in, and sent to the first group type


def test_new_account_with_a_chosen_password(alice_client, client, workspace):
    response = post(
        alice_client,
        "/settings/members",
        workspace,
        email="erin@example.com",
        role="admin",
        password="a long chosen passphrase",
    )
    assert response.status_code == 302
    assert "a long chosen passphrase" not in alice_client.get("/settings/members").content.decode()
    client.logout()
    assert logs_in(client, "erin@example.com", "a long chosen passphrase")


def test_a_weak_chosen_password_is_refused(alice_client, workspace):
    response = post(
        alice_client,
        "/settings/members",
        workspace,
        email="erin@example.com",
        role="member",
        password="short",
    )
    assert (
        response.status_code == 200 and "This password is too short." in response.content.decode()
    )
    assert not User.objects.filter(email="erin@example.com").exists()


def test_a_password_for_an_existing_account_is_refused(alice_client, workspace, charlie):
    response = post(
        alice_client,
        "/settings/members",
        workspace,
        email="charlie@example.com",
        role="member",
        password="a long chosen passphrase",
    )
    assert "already has an account with its own password" in response.content.decode()
    assert "charlie@example.com" not in roles(workspace)
    assert charlie.check_password("charlie-password-1")


def test_adding_a_member_twice_is_refused(alice_client, workspace):
    response = post(
        alice_client, "/settings/members", workspace, email="bob@example.com", role="owner"
    )
    assert "bob@example.com is already a member of Acme Analytics." in response.content.decode()
    assert roles(workspace)["bob@example.com"] == Role.MEMBER


def test_invalid_email_is_refused_inline(alice_client, workspace):
    response = post(
        alice_client, "/settings/members", workspace, email="not an email", role="member"
    )
    assert (
        response.status_code == 200 and "Enter a valid email address." in response.content.decode()
    )


def test_change_a_role(alice_client, workspace, bob):
    response = post(
        alice_client, f"/settings/members/{member_pk(workspace, bob)}/role", workspace, role="admin"
    )
    assert response["Location"] == "/settings/members"
    assert roles(workspace)["bob@example.com"] == Role.ADMIN
    assert "bob@example.com is now admin." in alice_client.get("/settings/members").content.decode()


def test_an_unknown_role_changes_nothing(alice_client, workspace, bob):
    post(alice_client, f"/settings/members/{member_pk(workspace, bob)}/role", workspace, role="god")
    assert roles(workspace)["bob@example.com"] == Role.MEMBER


def test_remove_a_member(alice_client, client, workspace, bob):
    response = post(
        alice_client, f"/settings/members/{member_pk(workspace, bob)}/remove", workspace
    )
    assert response["Location"] == "/settings/members"
    assert "bob@example.com" not in roles(workspace)
    assert User.objects.filter(pk=bob.pk).exists()  # the account stays, outside the workspace
    client.force_login(bob)
    assert client.get("/groups/company").status_code == 404


def test_the_last_owner_cannot_be_demoted(alice_client, workspace, alice):
    response = post(
        alice_client,
        f"/settings/members/{member_pk(workspace, alice)}/role",
        workspace,
        role="admin",
    )
    assert response["Location"] == "/settings/members"
    assert roles(workspace)["alice@example.com"] == Role.OWNER
    page = alice_client.get("/settings/members").content.decode()
    assert "A workspace needs at least one owner: make someone else an owner first." in page


def test_the_last_owner_cannot_be_removed(alice_client, workspace, alice):
    post(alice_client, f"/settings/members/{member_pk(workspace, alice)}/remove", workspace)
    assert roles(workspace)["alice@example.com"] == Role.OWNER
    page = alice_client.get("/settings/members").content.decode()
    assert "A workspace needs at least one owner" in page
    assert "Only owner" in row(page, "alice@example.com")


def test_an_owner_may_step_down_when_another_owner_remains(alice_client, workspace, alice, bob):
    post(
        alice_client, f"/settings/members/{member_pk(workspace, bob)}/role", workspace, role="owner"
    )
    response = post(
        alice_client,
        f"/settings/members/{member_pk(workspace, alice)}/role",
        workspace,
        role="member",
    )
    assert response["Location"] == "/"
    assert roles(workspace) == {"alice@example.com": Role.MEMBER, "bob@example.com": Role.OWNER}
    assert alice_client.get("/settings/members").status_code == 403


def test_an_owner_may_leave_when_another_owner_remains(alice_client, workspace, alice, bob):
    post(
        alice_client, f"/settings/members/{member_pk(workspace, bob)}/role", workspace, role="owner"
    )
    page = alice_client.get("/settings/members").content.decode()
    assert ">Leave</button>" in row(page, "alice@example.com")
    response = post(
        alice_client, f"/settings/members/{member_pk(workspace, alice)}/remove", workspace
    )
    assert response["Location"] == "/"
    assert roles(workspace) == {"bob@example.com": Role.OWNER}


def test_admins_see_the_members_read_only(client, workspace, dana):
    client.force_login(dana)
    page = client.get("/settings/members").content.decode()
    assert "alice@example.com" in page and "bob@example.com" in page
    assert "only owners change members" in page
    assert "/role" not in page and "/remove" not in page and 'name="email"' not in page


def test_members_page_queries_do_not_grow_with_members(alice_client, workspace):
    def queries():
        with CaptureQueriesContext(connection) as captured:
            assert alice_client.get("/settings/members").status_code == 200
        return len(captured)

    few = queries()
    for n in range(5):
        post(
            alice_client,
            "/settings/members",
            workspace,
            email=f"extra{n}@example.com",
            role="member",
        )
    assert queries() == few
