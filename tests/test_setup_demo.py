"""setup_demo, which `make run` calls: the demo workspace, and all it takes to use it."""

import re
from io import StringIO

import pytest
from django.core.management import call_command

from analytics.models import Workspace
from conftest import logs_in


def setup_demo():
    out = StringIO()
    call_command("setup_demo", events=300, url="http://127.0.0.1:8123", stdout=out)
    return out.getvalue()


def printed(output, label):
    return re.search(rf"^  {label} +(\S+)", output, re.MULTILINE).group(1)


@pytest.fixture
def demo(db):
    output = setup_demo()
    return Workspace.objects.get(slug="demo"), output


def test_prints_the_login_that_opens_the_dashboard(demo, client):
    _, output = demo
    assert logs_in(client, printed(output, "log in as"), printed(output, "password"))


def test_prints_the_write_key_and_the_secret_key_that_open_the_apis(demo, client):
    workspace, output = demo
    assert printed(output, "write key") == workspace.write_key
    secret_key = printed(output, "secret key")
    response = client.get(
        "/api/v1/groups/company", headers={"Authorization": f"Bearer {secret_key}"}
    )
    assert response.status_code == 200 and response.json()["count"] > 0
    # The read example it prints works as printed.
    assert f"SK={secret_key}" in output
    assert '"Authorization: Bearer $SK" "$GROUPSITE/api/v1/groups/company"' in output


def test_says_where_the_keys_are_kept_and_rotated(demo):
    _, output = demo
    where = "Both keys are under Settings → API keys (http://127.0.0.1:8123/settings/api-keys)"
    assert where in output


def test_every_run_prints_the_same_secret_key(demo):
    workspace, output = demo
    again = setup_demo()
    assert printed(again, "secret key") == printed(output, "secret key")
    assert Workspace.objects.filter(slug="demo").count() == 1


def test_after_a_rotation_the_old_key_is_not_printed_as_if_it_worked(demo, client):
    workspace, output = demo
    new_key = workspace.rotate_secret_key()
    again = setup_demo()
    assert printed(output, "secret key") not in again
    assert f"sk_…{new_key[-4:]} (rotated" in again
