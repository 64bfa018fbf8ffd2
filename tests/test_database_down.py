"""When the database cannot be reached, requests are answered 503 with Retry-After (JSON on
the API, a page on the dashboard), never 500: the same request may succeed in a moment.

The database really is out of reach: the connection is pointed at a port where nothing
listens, or the server ends the connection's backend."""

import socket

import pytest
from django.db import connection, connections
from django.test import Client

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="SQLite is a file opened in the process: there is no server to lose",
)


@pytest.fixture
def logged_in(transactional_db, alice, workspace):
    """A client with alice's session, answering exceptions as the server would."""
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    yield client
    # Whatever the test did to it, the next test gets a working connection.
    connection.close()


@pytest.fixture
def server_gone(logged_in):
    """From here on, connecting finds no server: a port where nothing listens."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    saved = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = port
    yield
    connection.close()
    connection.settings_dict["PORT"] = saved


@pytest.fixture
def connection_ended(logged_in):
    """The server ends the open connection's backend, as when it restarts."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    with connections["progress"].cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    connections["progress"].close()


def assert_unavailable(response):
    assert response.status_code == 503, response.content[:300]
    assert int(response["Retry-After"]) > 0


@pytest.mark.parametrize("path", ["/people", "/groups/company", "/settings/general", "/"])
def test_a_dashboard_page_is_503_when_the_server_is_gone(logged_in, server_gone, path):
    response = logged_in.get(path)
    assert_unavailable(response)
    page = response.content.decode()
    assert "<h1>Groupsite is unavailable for a moment</h1>" in page
    assert "the database cannot be reached" in page.lower()


def test_the_api_is_json_503_when_the_server_is_gone(logged_in, workspace, server_gone):
    response = logged_in.get(
        "/api/v1/people", headers={"Authorization": f"Bearer {workspace.secret_key}"}
    )
    assert_unavailable(response)
    assert response.json()["error"] == "unavailable"
    assert "retry" in response.json()["message"]


def test_a_posted_form_is_503_when_the_server_is_gone(logged_in, workspace, server_gone):
    response = logged_in.post("/people/delete", {"domain": "acme.io", "workspace": workspace.slug})
    assert_unavailable(response)


# The other connection to the database ends this one's backend.
ENDS_A_CONNECTION = pytest.mark.django_db(transaction=True, databases=["default", "progress"])


@ENDS_A_CONNECTION
def test_a_page_is_503_when_the_server_ended_the_connection(logged_in, connection_ended):
    assert_unavailable(logged_in.get("/people"))


@ENDS_A_CONNECTION
def test_the_api_is_503_when_the_server_ended_the_connection(logged_in, workspace, connection_ended):
    response = logged_in.delete(
        "/api/v1/people/ann", headers={"Authorization": f"Bearer {workspace.secret_key}"}
    )
    assert_unavailable(response)
    assert response.json()["error"] == "unavailable"
