"""Logging in is refused for a while after repeated failures, per account and per address."""

import re
from datetime import timedelta
from io import StringIO

from axes.models import AccessAttempt
from django.conf import settings
from django.core.management import call_command
from django.db.models import F
from django.utils import timezone

from conftest import make_user

ATTACKER = "203.0.113.9"
ELSEWHERE = "198.51.100.7"


def log_in(client, email, password, address=ATTACKER):
    return client.post("/login/", {"username": email, "password": password}, REMOTE_ADDR=address)


def fail(client, email, times, address=ATTACKER):
    return [log_in(client, email, "wrong-guess", address) for _ in range(times)]


def is_logged_in(response):
    return response.status_code == 302 and response["Location"] == "/"


def move_time_forward(delta):
    """As if ``delta`` had passed since every failure."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - delta)


def test_failures_up_to_the_limit_only_say_the_password_is_wrong(client, alice):
    *_, last = fail(client, alice.email, settings.AXES_FAILURE_LIMIT - 1)
    assert last.status_code == 200
    assert "do not match an account" in last.content.decode()
    assert is_logged_in(log_in(client, alice.email, "alice-password-1"))


def test_the_failure_at_the_limit_locks_with_a_message_saying_until_when(client, alice):
    started = timezone.now()
    *earlier, locked = fail(client, alice.email, settings.AXES_FAILURE_LIMIT)
    assert {response.status_code for response in earlier} == {200}
    assert locked.status_code == 429
    page = locked.content.decode()
    until = started + settings.AXES_COOLOFF_TIME
    assert "Too many failed logins for this account or from this address." in page
    assert re.search(r"refused until (\d\d:\d\d) UTC \(in 1[45]\xa0minutes\)", page).group(1) in {
        f"{until:%H:%M}", f"{until + timedelta(minutes=1):%H:%M}"
    }
    assert "do not match an account" not in page
    assert 14 * 60 <= int(locked["Retry-After"]) <= 15 * 60
    # Still the login form, to try again later.
    assert 'name="password"' in page


def test_the_right_password_is_refused_while_locked(client, alice):
    fail(client, alice.email, settings.AXES_FAILURE_LIMIT)
    response = log_in(client, alice.email, "alice-password-1")
    assert response.status_code == 429
    assert "even with the right password" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_attempts_while_locked_do_not_move_the_end(client, alice):
    fail(client, alice.email, settings.AXES_FAILURE_LIMIT)
    first = int(log_in(client, alice.email, "wrong-again")["Retry-After"])
    move_time_forward(timedelta(minutes=5))
    assert int(log_in(client, alice.email, "wrong-again")["Retry-After"]) <= first - 5 * 60


def test_login_opens_again_after_the_cool_off(client, alice):
    fail(client, alice.email, settings.AXES_FAILURE_LIMIT)
    move_time_forward(settings.AXES_COOLOFF_TIME - timedelta(seconds=30))
    assert log_in(client, alice.email, "alice-password-1").status_code == 429
    move_time_forward(timedelta(seconds=31))
    assert is_logged_in(log_in(client, alice.email, "alice-password-1"))


def test_an_admin_unlocks_an_account_or_an_address_at_once(client, alice, bob):
    fail(client, alice.email.upper(), settings.AXES_FAILURE_LIMIT, address=ELSEWHERE)
    call_command("axes_reset_username", alice.email, stdout=StringIO())
    assert is_logged_in(log_in(client, alice.email, "alice-password-1"))
    client.logout()
    for n in range(settings.AXES_FAILURE_LIMIT):
        fail(client, f"someone{n}@example.com", 1)
    assert log_in(client, bob.email, "bob-password-1").status_code == 429
    call_command("axes_reset_ip", ATTACKER, stdout=StringIO())
    assert is_logged_in(log_in(client, bob.email, "bob-password-1"))


def test_another_account_from_another_address_is_unaffected(client, alice, bob):
    fail(client, alice.email, settings.AXES_FAILURE_LIMIT)
    assert is_logged_in(log_in(client, bob.email, "bob-password-1", address=ELSEWHERE))


def test_a_locked_account_is_locked_from_every_address(client, alice):
    fail(client, alice.email, settings.AXES_FAILURE_LIMIT)
    assert log_in(client, alice.email, "alice-password-1", address=ELSEWHERE).status_code == 429


def test_an_address_guessing_many_accounts_is_locked_for_all_of_them(client, alice, bob, charlie):
    victims = [make_user(f"user{n}").email for n in range(settings.AXES_FAILURE_LIMIT)]
    for email in victims:
        fail(client, email, 1)
    assert log_in(client, bob.email, "bob-password-1").status_code == 429
    # The accounts themselves are open from elsewhere: one failure each.
    assert is_logged_in(log_in(client, charlie.email, "charlie-password-1", address=ELSEWHERE))


def test_the_case_of_the_email_does_not_make_another_account(client, alice):
    spellings = [alice.email.upper(), alice.email.title(), f" {alice.email} "]
    for n in range(settings.AXES_FAILURE_LIMIT):
        log_in(client, spellings[n % 3], "wrong-guess", address=f"192.0.2.{n + 1}")
    assert log_in(client, alice.email, "alice-password-1", address=ELSEWHERE).status_code == 429


def test_an_email_too_long_for_any_account_is_a_failed_login_like_another(client, alice):
    # django-axes keeps at most 255 characters of it: a longer one failed the request.
    response = log_in(client, "a" * 300 + "@example.com", "wrong-guess")
    assert response.status_code == 200
    assert "do not match an account" in response.content.decode()
    assert AccessAttempt.objects.get().failures_since_start == 1


def test_the_limit_comes_from_the_settings(client, alice, settings):
    settings.AXES_FAILURE_LIMIT = 3
    assert [r.status_code for r in fail(client, alice.email, 3)] == [200, 200, 429]
