"""An address that keeps sending wrong API keys is refused every key for a while."""

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from analytics.models import Event, RateCounter
from conftest import end_the_window

GUESSER = "203.0.113.9"
ELSEWHERE = "198.51.100.7"
TRACK = {"userId": "u1", "event": "Signed Up"}


def send_track(client, key, address=GUESSER):
    auth = base64.b64encode(f"{key}:".encode()).decode()
    return client.post(
        "/v1/track", json.dumps(TRACK), content_type="application/json",
        headers={"Authorization": f"Basic {auth}"}, REMOTE_ADDR=address,
    )


def read_api(client, key, address=GUESSER):
    return client.get(
        "/api/v1/group-types", headers={"Authorization": f"Bearer {key}"}, REMOTE_ADDR=address
    )


def guess(client, send_key, times, address=GUESSER):
    return [send_key(client, f"wk_guess{n}", address).status_code for n in range(times)]


def test_wrong_write_keys_up_to_the_limit_are_401(client, workspace):
    below = settings.WRONG_KEY_BUDGET - 1
    assert guess(client, send_track, below) == [401] * below
    assert send_track(client, workspace.write_key).status_code == 200
    assert guess(client, send_track, 1) == [401]


def test_past_the_limit_every_write_key_is_429_even_the_right_one(client, workspace):
    guess(client, send_track, settings.WRONG_KEY_BUDGET)
    for key in ("wk_one_more", workspace.write_key):
        response = send_track(client, key)
        assert response.status_code == 429
        assert response.json() == {
            "success": False,
            "code": "rate_limited",
            "message": "too many wrong keys from this address: every key is refused for "
            f"{response['Retry-After']} seconds (Retry-After)",
        }
        assert 0 < int(response["Retry-After"]) <= settings.WRONG_KEY_WINDOW.total_seconds()
        # Browsers may read it: the tracking API answers any origin.
        assert response["Access-Control-Allow-Origin"] == "*"
    assert not Event.objects.exists()


def test_wrong_secret_keys_past_the_limit_make_every_api_key_429(client, workspace):
    assert guess(client, read_api, settings.WRONG_KEY_BUDGET) == [401] * settings.WRONG_KEY_BUDGET
    response = read_api(client, workspace.secret_key)
    assert response.status_code == 429
    assert response.json()["error"] == "rate_limited"
    assert response.json()["message"].startswith("too many wrong keys from this address")
    assert int(response["Retry-After"]) > 0


def test_guesses_at_either_api_count_together(client, workspace):
    half = settings.WRONG_KEY_BUDGET // 2
    guess(client, send_track, half)
    guess(client, read_api, settings.WRONG_KEY_BUDGET - half)
    assert send_track(client, workspace.write_key).status_code == 429
    assert read_api(client, workspace.secret_key).status_code == 429


def test_another_address_is_unaffected(client, workspace):
    guess(client, send_track, settings.WRONG_KEY_BUDGET)
    assert send_track(client, workspace.write_key, address=ELSEWHERE).status_code == 200
    assert read_api(client, workspace.secret_key, address=ELSEWHERE).status_code == 200


def test_keys_are_let_in_again_when_the_window_ends(client, workspace):
    guess(client, send_track, settings.WRONG_KEY_BUDGET)
    assert send_track(client, workspace.write_key).status_code == 429
    end_the_window(settings.WRONG_KEY_WINDOW)
    assert send_track(client, workspace.write_key).status_code == 200
    assert read_api(client, workspace.secret_key).status_code == 200
    # And the count starts again from nothing.
    below = settings.WRONG_KEY_BUDGET - 1
    assert guess(client, send_track, below) == [401] * below


def test_right_keys_are_not_counted(client, workspace):
    for _ in range(settings.WRONG_KEY_BUDGET + 1):
        assert send_track(client, workspace.write_key).status_code == 200
        assert read_api(client, workspace.secret_key).status_code == 200


def test_a_missing_key_counts_as_a_wrong_one(client, workspace):
    for _ in range(settings.WRONG_KEY_BUDGET):
        client.get("/api/v1/group-types", REMOTE_ADDR=GUESSER)
    assert read_api(client, workspace.secret_key).status_code == 429


def test_an_ipv6_host_cannot_escape_by_changing_address_within_its_network(client, workspace):
    for n in range(settings.WRONG_KEY_BUDGET):
        send_track(client, "wk_guess", address=f"2001:db8:1:2::{n + 1:x}")
    same_network = "2001:db8:1:2:ffff::1"
    assert send_track(client, workspace.write_key, address=same_network).status_code == 429
    assert send_track(client, workspace.write_key, address="2001:db8:1:3::1").status_code == 200


def test_ended_windows_are_pruned_when_a_new_one_starts(client, workspace):
    guess(client, send_track, 1, address="192.0.2.1")
    end_the_window(settings.WRONG_KEY_WINDOW)
    guess(client, send_track, 2, address="192.0.2.2")
    assert list(RateCounter.objects.values_list("name", "spent")) == [("wrong-key:192.0.2.2", 2)]


def test_the_limit_comes_from_the_settings(client, workspace, settings):
    settings.WRONG_KEY_BUDGET = 2
    assert guess(client, send_track, 3) == [401, 401, 429]
    settings.WRONG_KEY_BUDGET = 0  # no limit
    assert send_track(client, workspace.write_key).status_code == 200


@pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="the SQLite test database lives in this process's memory, out of another's reach",
)
def test_wrong_keys_count_across_server_processes(client, workspace, transactional_db):
    """Guesses answered by another process count here too: the count is in the database."""
    half = settings.WRONG_KEY_BUDGET // 2
    other_process = f"""
import base64, django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
auth = "Basic " + base64.b64encode(b"wk_guess:").decode()
codes = {{Client().post("/v1/track", "{{}}", content_type="application/json",
    headers={{"Authorization": auth}}, REMOTE_ADDR="{GUESSER}").status_code for _ in range({half})}}
assert codes == {{401}}, codes
"""
    database = connection.settings_dict
    url = "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(**database)
    subprocess.run(
        [sys.executable, "-c", other_process],
        cwd=Path(__file__).resolve().parent.parent, check=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "DATABASE_URL": url, "SECRET_KEY": "s",
             "DJANGO_SETTINGS_MODULE": "groupsite.settings"},
    )
    rest = settings.WRONG_KEY_BUDGET - half
    assert guess(client, send_track, rest) == [401] * rest
    assert send_track(client, workspace.write_key).status_code == 429
