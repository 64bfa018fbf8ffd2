"""The management commands' promises to an operator: create_workspace."""

import base64
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from analytics.models import GROUP_SLOTS, Event, GroupType, Role, User, Workspace
from conftest import logs_in


def create_workspace(*args, **options):
    """Run create_workspace; returns the one JSON object it prints, and asserts it is one."""
    out = StringIO()
    call_command("create_workspace", *args, stdout=out, **options)
    return json.loads(out.getvalue())  # fails on anything printed besides the object


def refusal(*args, **options):
    """Run create_workspace expecting a refusal; returns its message."""
    out = StringIO()
    with pytest.raises(CommandError) as refused:
        call_command("create_workspace", *args, stdout=out, **options)
    assert out.getvalue() == ""  # no keys printed for a workspace that was not created
    return str(refused.value)


def test_prints_one_json_object_with_the_new_workspace_and_keys(db):
    result = create_workspace("Initech", owner="erin@initech.io")
    workspace = Workspace.objects.get(slug="initech")
    assert set(result) == {
        "name", "slug", "write_key", "secret_key", "owner", "group_types", "password"
    }
    assert result["name"] == "Initech" and result["slug"] == "initech"
    assert result["write_key"] == workspace.write_key
    assert result["secret_key"].startswith("sk_")
    assert workspace.secret_key_hint == result["secret_key"][-4:]
    assert result["owner"] == "erin@initech.io"
    assert result["group_types"] == ["company"]


def test_new_owner_gets_an_account_with_the_printed_password(db, client):
    result = create_workspace("Initech", owner="Erin@Initech.io ")
    erin = User.objects.get(username="erin@initech.io")
    assert erin.email == "erin@initech.io"
    assert len(result["password"]) >= 12
    assert Workspace.objects.get(slug="initech").role_of(erin) == Role.OWNER
    assert logs_in(client, "erin@initech.io", result["password"])


def test_new_owner_gets_the_password_given_and_it_is_not_printed(db, client):
    out = StringIO()
    call_command(
        "create_workspace", "Initech",
        owner="erin@initech.io", password="a-long-passphrase", stdout=out,
    )
    assert "password" not in json.loads(out.getvalue())
    assert "a-long-passphrase" not in out.getvalue()
    assert logs_in(client, "erin@initech.io", "a-long-passphrase")


def test_the_secret_key_opens_the_api_of_the_new_workspace(db, client):
    result = create_workspace("Initech", owner="erin@initech.io", group_types="account,team")
    auth = {"Authorization": f"Bearer {result['secret_key']}"}
    response = client.get("/api/v1/group-types", headers=auth)
    assert response.status_code == 200
    assert [(t["name"], t["is_default"]) for t in response.json()["results"]] == [
        ("account", True), ("team", False)
    ]


def test_the_write_key_sends_events_to_the_new_workspace(db, client):
    result = create_workspace("Initech", owner="erin@initech.io")
    auth = base64.b64encode(f"{result['write_key']}:".encode()).decode()
    response = client.post(
        "/v1/track",
        data=json.dumps({"userId": "u1", "event": "Signed Up", "messageId": "first"}),
        content_type="application/json",
        headers={"Authorization": f"Basic {auth}"},
    )
    assert response.status_code == 200
    assert Event.objects.get(message_id="first").workspace.slug == result["slug"]


def test_existing_account_becomes_owner_without_a_new_password(alice, client):
    accounts = User.objects.count()
    result = create_workspace("Second", owner="ALICE@example.com")
    assert "password" not in result
    assert result["owner"] == "alice@example.com"
    assert User.objects.count() == accounts
    assert Workspace.objects.get(slug=result["slug"]).role_of(alice) == Role.OWNER
    assert logs_in(client, "alice@example.com", "alice-password-1")


def test_slug_is_the_one_given_or_a_free_one_from_the_name(workspace):
    assert workspace.slug == "acme-analytics"
    erin = "erin@initech.io"
    assert create_workspace("Acme Analytics", owner=erin)["slug"] == "acme-analytics-2"
    assert create_workspace("Acme Analytics", owner=erin, slug="acme-eu")["slug"] == "acme-eu"
    assert set(Workspace.objects.values_list("slug", flat=True)) == {
        "acme-analytics", "acme-analytics-2", "acme-eu"
    }


def test_group_types_in_order_the_first_the_default(db):
    result = create_workspace(
        "Initech", owner="erin@initech.io", group_types=" account, team ,project,"
    )
    assert result["group_types"] == ["account", "team", "project"]
    types = GroupType.objects.filter(workspace__slug="initech")
    assert [(t.name, t.is_default) for t in types] == [
        ("account", True), ("team", False), ("project", False)
    ]


def test_owner_must_be_an_email_address(db):
    assert refusal("Initech", owner="erin") == "--owner must be an email address, not 'erin'"
    assert not Workspace.objects.exists() and not User.objects.exists()


def test_owner_is_required(db):
    assert "the following arguments are required: --owner" in refusal("Initech")


def test_a_taken_slug_is_refused_and_nothing_is_created(workspace):
    accounts = User.objects.count()
    message = refusal("Another", owner="erin@initech.io", slug="acme-analytics")
    assert message == "a workspace with the slug 'acme-analytics' already exists"
    assert Workspace.objects.count() == 1
    assert User.objects.count() == accounts


def test_a_password_for_an_existing_account_is_refused(alice, client):
    message = refusal("Second", owner="alice@example.com", password="another-passphrase")
    assert message == (
        "alice@example.com already has an account with its own password; "
        "a password is only for a new account."
    )
    assert not Workspace.objects.exists()
    assert logs_in(client, "alice@example.com", "alice-password-1")


@pytest.mark.parametrize(
    "options, message",
    [
        ({"slug": "Not A Slug"}, "Enter a valid “slug”"),
        ({"group_types": "company,company"}, "The group type 'company' already exists."),
        (
            {"group_types": ",".join(f"type{n}" for n in range(GROUP_SLOTS + 1))},
            f"A workspace can have at most {GROUP_SLOTS} group types.",
        ),
    ],
)
def test_an_invalid_workspace_is_refused_with_the_reason(alice, options, message):
    assert message in refusal("Second", owner="alice@example.com", **options)
    assert not Workspace.objects.exists()
    assert not GroupType.objects.exists()


def test_a_refused_workspace_leaves_no_new_account(db):
    refusal("Initech", owner="erin@initech.io", group_types="company,company")
    assert not User.objects.filter(username="erin@initech.io").exists()


def test_a_group_type_that_is_not_a_slug_is_refused(db):
    message = refusal("Initech", owner="erin@initech.io", group_types="big accounts")
    assert "'big accounts' cannot name a group type" in message
    assert not Workspace.objects.exists()
    assert not User.objects.filter(username="erin@initech.io").exists()
