"""The browser tracker's pages: the demo page's access, the settings snippet, the script."""

import base64
import html
import re
from urllib.parse import quote

import pytest

from analytics.models import Deletion, Event, Membership, Person, Role, SuppressedUser
from conftest import API_READS


@pytest.fixture
def dana_client(client, dana):
    client.force_login(dana)
    return client


def snippet(page):
    """The browser snippet of the API keys page, as a person copies it."""
    code = re.search(r'<code id="snippet-browser">(.*?)</code>', page, re.DOTALL).group(1)
    return html.unescape(code)


def test_owner_opens_the_demo_page_with_the_write_key_and_this_server(client, alice, workspace):
    client.force_login(alice)
    response = client.get("/tracker-demo")
    assert response.status_code == 200
    page = response.content.decode()
    assert f'data-write-key="{workspace.write_key}"' in page
    assert 'data-host="http://testserver"' in page
    assert '<script src="/static/groupsite/tracker.js"' in page
    assert '<option value="team">' in page


@pytest.mark.parametrize("role, status", [(Role.ADMIN, 403), (Role.MEMBER, 403)])
def test_only_owners_open_the_demo_page(client, workspace, bob, role, status):
    workspace.members.filter(user=bob).update(role=role)
    client.force_login(bob)
    assert client.get("/tracker-demo").status_code == status


def test_outsider_cannot_open_the_demo_page(client, charlie, workspace):
    client.force_login(charlie)
    assert client.get("/tracker-demo").status_code == 404


def test_outsider_with_a_workspace_gets_only_their_own_write_key(
    client, charlie, other_workspace, workspace
):
    client.force_login(charlie)
    page = client.get("/tracker-demo").content.decode()
    assert other_workspace.write_key in page
    assert workspace.write_key not in page


def test_demo_page_asks_to_log_in(client, workspace):
    response = client.get("/tracker-demo")
    assert response.status_code == 302
    assert response.url == "/login/?next=/tracker-demo"


def test_members_open_the_demo_page_in_development(client, bob, workspace, settings):
    settings.DEBUG = True
    client.force_login(bob)
    assert client.get("/tracker-demo").status_code == 200


def test_settings_show_the_browser_snippet_with_the_write_key_and_this_server(
    client, alice, workspace
):
    client.force_login(alice)
    page = client.get("/settings/api-keys").content.decode()
    code = snippet(page)
    assert '<script src="http://testserver/static/groupsite/tracker.js"></script>' in code
    assert (
        f'Groupsite.init({{ writeKey: "{workspace.write_key}", host: "http://testserver" }})'
        in code
    )
    assert 'data-copy="snippet-browser"' in page
    assert 'href="/tracker-demo"' in page


def test_admins_get_the_snippet_without_the_demo_link(dana_client, workspace):
    page = dana_client.get("/settings/api-keys").content.decode()
    assert workspace.write_key in snippet(page)
    assert 'href="/tracker-demo"' not in page


def test_the_tracker_is_served_to_any_origin(client):
    response = client.get("/static/groupsite/tracker.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Access-Control-Allow-Origin"] == "*"
    assert b"window.Groupsite" in b"".join(response.streaming_content)


def test_browsers_may_post_batches_from_any_origin(client):
    """The tracker posts text/plain (no preflight); a preflight for JSON is answered too."""
    preflight = client.options(
        "/v1/batch",
        headers={
            "Origin": "http://customer.test",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert preflight["Access-Control-Allow-Origin"] == "*"
    assert "POST" in preflight["Access-Control-Allow-Methods"]
    assert "Content-Type" in preflight["Access-Control-Allow-Headers"]


def stored(workspace):
    """What the write key must not be able to change, read straight from the database."""
    workspace.refresh_from_db()
    return {
        "people": Person.objects.filter(workspace=workspace).count(),
        "events": Event.objects.filter(workspace=workspace).count(),
        "memberships": Membership.objects.filter(workspace=workspace).count(),
        "deletions": Deletion.objects.filter(workspace=workspace).count(),
        "suppressed": SuppressedUser.objects.filter(workspace=workspace).count(),
        "keys": (workspace.write_key, workspace.secret_key_hash),
    }


API_DELETES = [("people/ann", {}), ("people", {"email_domain": "acme.io"})]


def test_the_write_key_opens_nothing_but_ingestion(client, workspace, send, api, company):
    assert send.batch(
        {"type": "identify", "userId": "ann", "traits": {"email": "ann@acme.io"}},
        {"type": "group", "userId": "ann", "groupId": "acme"},
        {"type": "track", "userId": "ann", "event": "Report Viewed"},
    ).status_code == 200
    # Every endpoint answers the secret key, so a 401 below comes from the key alone.
    for path in API_READS:
        assert api.get(path).status_code == 200, path
    for path, params in API_DELETES:
        assert api.delete(path, dry_run="1", **params).status_code == 200, path
    before = stored(workspace)
    assert before["people"] == 1 and before["events"] == 3 and before["memberships"] == 1

    auth = {"Authorization": f"Bearer {workspace.write_key}"}
    for path in API_READS:
        response = client.get(f"/api/v1/{path}", headers=auth)
        assert response.status_code == 401, path
        assert response.json()["error"] == "unauthorized"
        assert "write key" in response.json()["message"]
    for path, params in API_DELETES:
        response = client.delete(f"/api/v1/{path}", query_params=params, headers=auth)
        assert response.status_code == 401, path
        assert "write key" in response.json()["message"]
    assert stored(workspace) == before
    # It still sends events.
    assert send.post("track", {"userId": "ann", "event": "Still Sending"}).status_code == 200


@pytest.mark.parametrize("scheme", ["Basic", "Bearer"])
def test_the_write_key_opens_no_dashboard_page(client, workspace, send, company, scheme):
    send.batch({"type": "identify", "userId": "ann", "traits": {"email": "ann@acme.io"}},
               {"type": "group", "userId": "ann", "groupId": "acme"})
    ann = Person.objects.get(workspace=workspace, user_id="ann")
    key = workspace.write_key
    credentials = base64.b64encode(f"{key}:".encode()).decode() if scheme == "Basic" else key
    auth = {"Authorization": f"{scheme} {credentials}"}
    before = stored(workspace)
    assert not client.cookies  # no session: only the header could let the request in
    pages = [
        "/", "/groups", "/groups/company", "/groups/company/acme", "/people", f"/people/{ann.pk}",
        "/people/delete?domain=acme.io", "/settings", "/settings/general", "/settings/members",
        "/settings/api-keys", "/settings/ingestion-problems", "/tracker-demo",
    ]
    for page in pages:
        response = client.get(page, headers=auth)
        assert response.status_code == 302, page
        assert response["Location"] == f"/login/?next={quote(page)}", page
    forms = [
        (f"/people/{ann.pk}/delete", {}),
        ("/people/delete", {"domain": "acme.io"}),
        ("/settings/api-keys/secret-key", {}),
        ("/settings/api-keys/write-key", {}),
    ]
    for page, data in forms:
        response = client.post(page, data, headers=auth)
        assert response.status_code == 302, page
        assert response["Location"] == f"/login/?next={quote(page)}", page
    assert stored(workspace) == before
