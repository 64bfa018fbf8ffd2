"""Logging in and out, changing one's password, and the error pages."""

import re


def test_log_in_opens_the_overview_of_the_current_workspace(client, alice, workspace):
    response = client.post("/login/", {"username": alice.email, "password": "alice-password-1"}, follow=True)
    assert response.redirect_chain[-1][0] == "/"
    assert response.context["section"] == "overview"
    assert response.context["request"].workspace == workspace


def test_wrong_password_is_refused_with_a_message(client, alice, workspace):
    response = client.post("/login/", {"username": alice.email, "password": "nope"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "This e-mail address and password do not match an account." in page
    # The field is the account's e-mail: the text a person reads says nothing of a username.
    text = re.sub(r"<[^>]*>", " ", page).lower()
    assert "username" not in text and "user name" not in text


def test_log_out(client, alice, workspace):
    client.force_login(alice)
    client.post("/logout/")
    assert client.get("/groups/company").status_code == 302


def test_change_password(client, alice, workspace):
    client.force_login(alice)
    assert "Change your password" in client.get("/account/password").content.decode()
    response = client.post(
        "/account/password",
        {"old_password": "alice-password-1", "new_password1": "a-new-long-phrase-42",
         "new_password2": "a-new-long-phrase-42"},
    )
    assert response["Location"] == "/account/password/done"
    alice.refresh_from_db()
    assert alice.check_password("a-new-long-phrase-42")


def test_someone_in_no_workspace_gets_a_clear_404(client, charlie):
    client.force_login(charlie)
    response = client.get("/groups")
    assert response.status_code == 404
    assert "You are not a member of any workspace yet." in response.content.decode()


def test_member_gets_a_readable_403(client, bob, workspace):
    client.force_login(bob)
    response = client.get("/settings/group-types")
    assert response.status_code == 403
    assert "Not allowed" in response.content.decode()


WORKSPACE_BLOCK = '<div class="switcher"><label>Workspace</label><div class="current">Acme Analytics</div></div>'


def test_password_pages_show_the_sidebar_of_every_page(client, alice, workspace):
    client.force_login(alice)
    assert WORKSPACE_BLOCK in client.get("/groups/company").content.decode()
    assert WORKSPACE_BLOCK in client.get("/account/password").content.decode()
    assert WORKSPACE_BLOCK in client.get("/account/password/done").content.decode()


def test_password_page_offers_the_switcher_to_someone_in_two_workspaces(
    client, charlie, workspace, other_workspace
):
    workspace.add_member(charlie, "member")
    client.force_login(charlie)
    page = client.get("/account/password").content.decode()
    assert '<select id="workspace-switch"' in page
    assert ">Acme Analytics</option>" in page and ">Charlie&#x27;s</option>" in page


def test_someone_in_no_workspace_can_change_their_password(client, charlie):
    client.force_login(charlie)
    response = client.get("/account/password")
    assert response.status_code == 200 and "Change your password" in response.content.decode()
    assert 'class="switcher"' not in response.content.decode()


def test_pages_link_the_favicon_and_favicon_ico_leads_to_it(client, alice, workspace):
    client.force_login(alice)
    for path in ("/groups/company", "/login/", "/account/password"):
        page = client.get(path, follow=True).content.decode()
        assert '<link rel="icon" href="/static/groupsite/favicon.svg" type="image/svg+xml">' in page
    response = client.get("/favicon.ico")
    assert response.status_code == 302
    assert response["Location"] == "/static/groupsite/favicon.svg"
