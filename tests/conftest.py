import base64
import json

import pytest
from django.test import override_settings

from analytics.models import GroupType, Role, User, Workspace


@pytest.fixture(autouse=True, scope="session")
def fast_password_hashing():
    # The real hasher is slow on purpose; tests create many accounts.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


def make_user(name):
    email = f"{name}@example.com"
    return User.objects.create_user(username=email, email=email, password=f"{name}-password-1")


@pytest.fixture
def alice(db):
    return make_user("alice")


@pytest.fixture
def bob(db):
    return make_user("bob")


@pytest.fixture
def charlie(db):
    return make_user("charlie")


@pytest.fixture
def workspace(alice, bob):
    """Alice's workspace (group types company, the default, and team); bob is a member.

    The secret key is readable as ``workspace.secret_key`` for the tests' API calls.
    """
    workspace, secret_key = Workspace.create(
        name="Acme Analytics", owner=alice, group_types=("company", "team")
    )
    workspace.add_member(bob, Role.MEMBER)
    workspace.secret_key = secret_key
    return workspace


@pytest.fixture
def other_workspace(charlie):
    workspace, secret_key = Workspace.create(name="Charlie's", owner=charlie)
    workspace.secret_key = secret_key
    return workspace


@pytest.fixture
def company(workspace):
    return GroupType.objects.get(workspace=workspace, name="company")


@pytest.fixture
def team(workspace):
    return GroupType.objects.get(workspace=workspace, name="team")


class Sender:
    """Posts to the tracking API of a workspace through Django's test client."""

    def __init__(self, client, workspace):
        self.client = client
        self.workspace = workspace

    def post(self, endpoint, payload, *, key=None, **headers):
        key = self.workspace.write_key if key is None else key
        auth = base64.b64encode(f"{key}:".encode()).decode()
        return self.client.post(
            f"/v1/{endpoint}",
            data=payload if isinstance(payload, bytes) else json.dumps(payload),
            content_type="application/json",
            headers={"Authorization": f"Basic {auth}", **headers},
        )

    def batch(self, *calls, **extra):
        return self.post("batch", {"batch": list(calls), **extra})


@pytest.fixture
def send(client, workspace):
    return Sender(client, workspace)


class Api:
    """Calls the read and delete API (/api/v1/...) with a workspace's secret key."""

    def __init__(self, client, key):
        self.client = client
        self.key = key

    def get(self, path, **params):
        return self.client.get(f"/api/v1/{path}", query_params=params, headers=self._auth())

    def delete(self, path, **params):
        return self.client.delete(f"/api/v1/{path}", query_params=params, headers=self._auth())

    def follow(self, url):
        """GET a URL the API returned (a next, previous or events link)."""
        return self.client.get(url, headers=self._auth())

    def _auth(self):
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture
def api(client, workspace):
    """The API as alice's workspace sees it."""
    return Api(client, workspace.secret_key)


@pytest.fixture
def charlie_api(client, other_workspace):
    """The API as charlie's workspace (the outsider's) sees it."""
    return Api(client, other_workspace.secret_key)


@pytest.fixture
def charlie_send(client, other_workspace):
    return Sender(client, other_workspace)
