"""The browser tracker's pages: the demo page's access, the settings snippet, the script."""

import html
import re

import pytest

from analytics.models import Role


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


def test_the_write_key_opens_nothing_but_ingestion(client, workspace):
    auth = {"Authorization": f"Bearer {workspace.write_key}"}
    assert client.get("/api/v1/people", headers=auth).status_code == 401
    client.cookies.clear()
    assert client.get("/tracker-demo", headers=auth).status_code == 302
    assert client.get("/settings/api-keys", headers=auth).status_code == 302
