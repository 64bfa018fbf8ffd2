"""Ingestion problems in the settings: what the tracking API refused or stored with a
warning, for admins and owners, newest first, by kind."""

import re

import pytest
from django.test.utils import CaptureQueriesContext
from django.db import connection

from analytics.models import IngestionProblem


@pytest.fixture
def problems(send, workspace, other_workspace, charlie_send):
    """A refused call, a stored call with a warning, and a refused batch of 30 calls."""
    response = send.batch(
        {"type": "track", "userId": "ann", "messageId": "m-1"},  # no event name
        {"type": "track", "userId": "bo", "event": "E", "context": {"groups": {"region": "emea"}}},
    )
    assert response.status_code == 400
    big = [{"type": "track", "userId": "cy", "event": "E", "properties": {"blob": "x" * 20_000}}] * 30
    assert send.batch(*big).status_code == 413
    # Another workspace's problem, never shown here.
    charlie_send.batch({"type": "track", "userId": "outsider", "messageId": "theirs"})


def rows(page):
    return re.findall(r"<tr>\s*<td class=\"date\">.*?</tr>", page, re.S)


def test_admins_see_every_problem_with_its_reason(client, dana, problems):
    client.force_login(dana)
    page = client.get("/settings/ingestion-problems").content.decode()
    assert "31 calls refused · 1 warning" in page
    shown = rows(page)
    assert len(shown) == 3
    assert "500 KB" in shown[0] and "30 calls" in shown[0]  # newest first
    missing_event = next(row for row in shown if "m-1" in row)
    assert "missing &#x27;event&#x27;" in missing_event and "ann" in missing_event
    assert "Refused" in missing_event and "What was sent" in missing_event
    warning = next(row for row in shown if "region" in row)
    assert "Warning" in warning and "bo" in warning
    assert "outsider" not in page and "theirs" not in page


def test_filtered_by_kind(client, alice, problems):
    client.force_login(alice)
    warnings = rows(client.get("/settings/ingestion-problems", {"level": "warning"}).content.decode())
    assert len(warnings) == 1 and "region" in warnings[0]
    refused = rows(client.get("/settings/ingestion-problems", {"level": "rejected"}).content.decode())
    assert len(refused) == 2 and not any("region" in row for row in refused)
    # An unknown kind shows everything rather than an error.
    assert len(rows(client.get("/settings/ingestion-problems", {"level": "x"}).content.decode())) == 3


def test_a_clean_workspace_says_so(client, alice, workspace):
    client.force_login(alice)
    page = client.get("/settings/ingestion-problems").content.decode()
    assert "No problems" in page and "Every call sent to this workspace was stored" in page
    assert "<table" not in page


def test_a_blocked_users_calls_show_without_their_content(client, alice, send, api):
    send.batch({"type": "identify", "userId": "gone", "traits": {"email": "gone@example.com"}})
    assert api.delete("people/gone", suppress="true").status_code == 200
    send.batch({"type": "track", "userId": "gone", "event": "Secret Plans"})
    client.force_login(alice)
    page = client.get("/settings/ingestion-problems").content.decode()
    assert "was deleted and is blocked" in page and "Secret Plans" not in page


def test_pages_of_fifty_in_a_fixed_number_of_queries(client, alice, workspace):
    IngestionProblem.objects.bulk_create(
        IngestionProblem(workspace=workspace, level="rejected", reason=f"reason {n}") for n in range(60)
    )
    client.force_login(alice)
    with CaptureQueriesContext(connection) as first:
        page = client.get("/settings/ingestion-problems").content.decode()
    assert len(rows(page)) == 50 and "1–50 of 60" in page
    with CaptureQueriesContext(connection) as second:
        page = client.get("/settings/ingestion-problems", {"page": 2}).content.decode()
    assert len(rows(page)) == 10
    assert len(first) == len(second)


def test_htmx_gets_the_table_alone(client, alice, problems):
    client.force_login(alice)
    html = client.get(
        "/settings/ingestion-problems",
        {"level": "warning"},
        headers={"HX-Request": "true", "HX-Target": "problems-table"},
    ).content.decode()
    assert html.lstrip().startswith('<div class="table-container" id="problems-table"')
    assert "<html" not in html and "region" in html


def test_members_get_403_and_others_see_only_their_own_workspace(client, bob, charlie, other_workspace, problems):
    client.force_login(bob)
    assert client.get("/settings/ingestion-problems").status_code == 403
    client.force_login(charlie)
    shown = rows(client.get("/settings/ingestion-problems").content.decode())
    # charlie sees his own workspace only (rows, not the page: a CSRF token may spell "ann")
    assert len(shown) == 1 and "outsider" in shown[0] and "ann" not in shown[0]
