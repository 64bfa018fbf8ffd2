"""API keys in the settings: the write key shown, the secret key shown once, both rotated."""

from conftest import Api, Sender, post

from analytics.models import Workspace, hash_key


def test_page_shows_the_write_key_and_only_the_end_of_the_secret_key(alice_client, workspace):
    page = alice_client.get("/settings/api-keys").content.decode()
    assert f'<div class="secret" id="write-key">{workspace.write_key}</div>' in page
    assert 'data-copy="write-key"' in page
    assert workspace.secret_key not in page
    assert workspace.secret_key[-4:] in page


def test_page_shows_how_to_send_data_to_this_server(alice_client, workspace):
    page = alice_client.get("/settings/api-keys").content.decode()
    assert 'analytics.host = "http://testserver"' in page
    assert f'analytics.write_key = "{workspace.write_key}"' in page
    assert f"curl http://testserver/v1/track -u '{workspace.write_key}:'" in page


def test_rotating_the_secret_key_asks_first(alice_client, workspace):
    page = alice_client.get("/settings/api-keys/secret-key").content.decode()
    assert "stops working immediately" in page
    assert Workspace.objects.get(pk=workspace.pk).secret_key_hash == hash_key(workspace.secret_key)


def test_rotated_secret_key_replaces_the_old_one_at_once(alice_client, client, workspace):
    response = post(alice_client, "/settings/api-keys/secret-key", workspace)
    assert response.status_code == 200
    new_key = response.context["new_secret_key"]
    assert new_key.startswith("sk_") and new_key in response.content.decode()
    assert "The old secret key stopped working immediately" in response.content.decode()
    assert Api(client, workspace.secret_key).get("group-types").status_code == 401
    assert Api(client, new_key).get("group-types").status_code == 200


def test_only_a_hash_of_the_secret_key_is_stored(alice_client, workspace):
    new_key = post(alice_client, "/settings/api-keys/secret-key", workspace).context[
        "new_secret_key"
    ]
    stored = Workspace.objects.filter(pk=workspace.pk).values().get()
    assert stored["secret_key_hash"] == hash_key(new_key)
    assert stored["secret_key_hint"] == new_key[-4:]
    assert not any(new_key in str(value) for value in stored.values())


def test_new_secret_key_is_shown_once(alice_client, workspace):
    response = post(alice_client, "/settings/api-keys/secret-key", workspace)
    new_key = response.context["new_secret_key"]
    assert "no-store" in response["Cache-Control"]
    again = alice_client.get("/settings/api-keys").content.decode()
    assert new_key not in again and new_key[-4:] in again
    assert not any(new_key in str(value) for value in alice_client.session.values())
    assert not any(new_key in cookie.value for cookie in alice_client.cookies.values())


def test_rotating_the_write_key_asks_first(alice_client, workspace):
    page = alice_client.get("/settings/api-keys/write-key").content.decode()
    assert "stops working immediately" in page and workspace.write_key in page
    assert Workspace.objects.get(pk=workspace.pk).write_key == workspace.write_key


def test_rotated_write_key_replaces_the_old_one_at_once(alice_client, client, workspace):
    old_key = workspace.write_key
    response = post(alice_client, "/settings/api-keys/write-key", workspace)
    assert response.status_code == 302 and response["Location"] == "/settings/api-keys"
    workspace.refresh_from_db()
    assert workspace.write_key != old_key
    send = Sender(client, workspace)
    track = {"userId": "u1", "event": "Signed Up"}
    assert send.post("track", track, key=old_key).status_code == 401
    assert send.post("track", track).status_code == 200
    page = alice_client.get("/settings/api-keys").content.decode()
    assert "update your clients" in page and workspace.write_key in page and old_key not in page


def test_admin_rotates_the_secret_key(client, dana, workspace):
    client.force_login(dana)
    new_key = post(client, "/settings/api-keys/secret-key", workspace).context["new_secret_key"]
    assert Workspace.objects.get(pk=workspace.pk).secret_key_hash == hash_key(new_key)


def test_rotating_keys_of_one_workspace_leaves_others_alone(
    alice_client, client, workspace, other_workspace
):
    post(alice_client, "/settings/api-keys/secret-key", workspace)
    post(alice_client, "/settings/api-keys/write-key", workspace)
    other = Workspace.objects.get(pk=other_workspace.pk)
    assert other.write_key == other_workspace.write_key
    assert Api(client, other_workspace.secret_key).get("group-types").status_code == 200
