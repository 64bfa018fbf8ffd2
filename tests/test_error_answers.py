"""Errors answer in the shape their client reads: JSON on the read/delete API
(``{"error", "message"}``) and on the tracking API (``{"success": false, "code",
"message"}``), a product page on the dashboard; and a NUL character anywhere in a request
is a 400, never a failed query."""

import pytest
from django.conf import settings
from django.test import Client

from analytics.models import Person

API_PATHS = [
    "/api/v1/group-types",
    "/api/v1/groups/company",
    "/api/v1/groups/company/acme",
    "/api/v1/people",
    "/api/v1/people/ann",
    "/api/v1/events",
    "/api/v1/ingestion-problems",
]


@pytest.fixture
def ann(send, company):
    response = send.batch(
        {"type": "identify", "userId": "ann", "traits": {"email": "ann@acme.io", "name": "Ann"}},
        {"type": "group", "userId": "ann", "groupId": "acme", "traits": {"name": "Acme"}},
    )
    assert response.status_code == 200
    return Person.objects.get(user_id="ann")


@pytest.fixture
def failing_client(db):
    """A client that gets the server's answer to an exception instead of the exception."""
    return Client(raise_request_exception=False)


def api_error(response, status, code):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"] == code
    assert body["message"]
    return body["message"]


def tracking_error(response, status, code):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["success"] is False and body["code"] == code and body["message"]
    return body["message"]


def error_page(response, status, heading):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert '<span class="brand-mark">G</span> Groupsite' in page
    assert f"<h1>{heading}</h1>" in page
    assert 'href="/static/groupsite/app.css"' in page
    return page


# --- NUL ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", API_PATHS)
def test_nul_in_an_api_query_string_is_400(client, ann, workspace, path):
    response = client.get(
        f"{path}?search=%00", headers={"Authorization": f"Bearer {workspace.secret_key}"}
    )
    assert "NUL" in api_error(response, 400, "invalid_request")


@pytest.mark.parametrize("path", ["/api/v1/people/a%00b", "/api/v1/groups/company/a%00b"])
def test_nul_in_an_api_path_is_400(client, ann, workspace, path):
    response = client.get(path, headers={"Authorization": f"Bearer {workspace.secret_key}"})
    assert "NUL" in api_error(response, 400, "invalid_request")


def test_nul_in_a_parameter_name_is_400(api, ann):
    assert "NUL" in api_error(api.get("people", **{"search\x00": "x"}), 400, "invalid_request")


def test_nul_in_a_delete_is_400_and_deletes_nothing(api, ann):
    response = api.delete("people", email_domain="acme.io\x00")
    api_error(response, 400, "invalid_request")
    assert Person.objects.filter(pk=ann.pk).exists()


@pytest.mark.parametrize(
    "path",
    [
        "/people?q=%00",
        "/people?domain=%00",
        "/groups/company?q=%00",
        "/people/delete?domain=%00",
        "/groups/company/acme%00",
        "/groups/company/acme?before=%00",
        "/settings/ingestion-problems?level=%00",
    ],
)
def test_nul_in_a_dashboard_address_is_a_400_page(alice_client, ann, path):
    page = error_page(alice_client.get(path), 400, "This request cannot be answered")
    assert "NUL" in page


def test_nul_in_a_posted_form_is_a_400_page(alice_client, ann, workspace):
    response = alice_client.post("/people/delete", {"domain": "acme.io\x00", "workspace": workspace.slug})
    error_page(response, 400, "This request cannot be answered")
    assert Person.objects.filter(pk=ann.pk).exists()


def test_nul_in_the_login_form_is_a_400_page(client, alice):
    response = client.post("/login/", {"username": "alice@example.com\x00", "password": "x"})
    error_page(response, 400, "This request cannot be answered")


def test_nul_in_a_header_is_400(client, workspace):
    response = client.get("/api/v1/people", headers={"Authorization": "Bearer wk_\x00"})
    assert "NUL" in api_error(response, 400, "invalid_request")


def test_nul_in_a_cookie_is_a_400_page(client, alice):
    client.cookies["sessionid"] = "abcdefgh\x00ijkl"
    error_page(client.get("/people"), 400, "This request cannot be answered")


def test_the_tracking_api_stores_a_call_whatever_its_query_string(send):
    response = send.post("track?from=%00", {"userId": "ann", "event": "Signed Up"})
    assert response.status_code == 200, response.json()
    assert Person.objects.filter(user_id="ann").exists()


# --- not found, method not allowed ----------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/nothing", "/api/v2/people", "/api/", "/api/v1/groups/"])
def test_unknown_api_paths_are_json_404(client, path):
    assert path in api_error(client.get(path), 404, "not_found")


@pytest.mark.parametrize("path", ["/v1/nothing", "/v1/track/more", "/v1/"])
def test_unknown_tracking_api_paths_are_json_404_in_its_shape(client, path):
    assert path in tracking_error(client.post(path, "{}", content_type="application/json"), 404, "not_found")


def test_an_unknown_dashboard_page_is_the_404_page(alice_client):
    error_page(alice_client.get("/nothing-here"), 404, "Not found")


def test_a_form_without_its_csrf_token_is_a_403_page(alice, workspace):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post("/settings/general", {"workspace": workspace.slug, "name": "Renamed"})
    error_page(response, 403, "Not allowed")
    assert "it was open for too long, or it came from another site" in response.content.decode()
    workspace.refresh_from_db()
    assert workspace.name == "Acme Analytics"


def test_head_is_answered_as_get_without_a_body(client, workspace, ann):
    response = client.head("/api/v1/people/ann", headers={"Authorization": f"Bearer {workspace.secret_key}"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.content == b""


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("post", "/api/v1/events", "GET, HEAD"),
        ("put", "/api/v1/group-types", "GET, HEAD"),
        ("post", "/api/v1/people", "GET, DELETE, HEAD"),
        ("patch", "/api/v1/people/ann", "GET, DELETE, HEAD"),
        ("delete", "/api/v1/groups/company/acme", "GET, HEAD"),
    ],
)
def test_other_methods_are_json_405_with_allow(client, workspace, ann, method, path, allowed):
    response = getattr(client, method)(path, headers={"Authorization": f"Bearer {workspace.secret_key}"})
    message = api_error(response, 405, "method_not_allowed")
    assert response["Allow"] == allowed
    assert method.upper() in message


def test_a_405_needs_no_key(client):
    response = client.post("/api/v1/events")
    api_error(response, 405, "method_not_allowed")


# --- Django's own 400s and 413s -------------------------------------------------


def test_a_host_the_server_does_not_serve_is_json_400_on_the_api(api):
    response = api.client.get(
        "/api/v1/people", headers={**api._auth(), "Host": "evil.example"}
    )
    assert "host" in api_error(response, 400, "invalid_request")


def test_a_host_the_server_does_not_serve_is_json_400_on_the_tracking_api(client):
    response = client.post("/v1/track", "{}", content_type="application/json", headers={"Host": "evil.example"})
    tracking_error(response, 400, "invalid_request")


def test_a_host_the_server_does_not_serve_is_a_400_page(client):
    error_page(client.get("/login/", headers={"Host": "evil.example"}), 400, "This request cannot be answered")


def test_too_many_parameters_is_json_400(api, ann):
    query = "&".join(f"f{n}=1" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    response = api.follow(f"/api/v1/people?{query}")
    assert "parameters" in api_error(response, 400, "invalid_request")


def test_too_many_parameters_is_a_400_page(alice_client):
    query = "&".join(f"f{n}=1" for n in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 1))
    error_page(alice_client.get(f"/people?{query}"), 400, "This request cannot be answered")


def too_large_form():
    return "x=" + "a" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def test_a_body_too_large_is_json_413_on_the_api(api):
    response = api.client.post(
        "/api/v1/people", too_large_form(), content_type="application/x-www-form-urlencoded",
        headers=api._auth(),
    )
    assert "MB" in api_error(response, 413, "too_large")


def test_a_body_too_large_is_a_413_page(alice_client):
    response = alice_client.post(
        "/people/delete", too_large_form(), content_type="application/x-www-form-urlencoded"
    )
    error_page(response, 413, "This request is too large")


# --- 500 ------------------------------------------------------------------------


def test_a_server_error_on_the_api_is_json_500(failing_client, workspace, ann, refuse_inserts):
    refuse_inserts("analytics_suppresseduser")
    response = failing_client.delete(
        "/api/v1/people/ann?suppress=true", headers={"Authorization": f"Bearer {workspace.secret_key}"}
    )
    message = api_error(response, 500, "server_error")
    assert "refused by the test" not in message  # nothing of the server's internals


def test_a_server_error_on_the_dashboard_is_the_500_page(
    transactional_db, failing_client, alice, ann, workspace, refuse_inserts
):
    # Outside a test transaction: the failed insert is in no atomic block of the view's.
    failing_client.force_login(alice)
    refuse_inserts("analytics_deletion")
    response = failing_client.post(f"/people/{ann.pk}/delete", {"workspace": workspace.slug})
    page = error_page(response, 500, "Something went wrong")
    assert "refused by the test" not in page

