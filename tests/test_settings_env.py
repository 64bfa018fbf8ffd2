"""groupsite/settings.py reads its configuration from the environment.

Each test loads the settings in a fresh Python process with an environment of its own, as
a server starts, and reads back what they resolved to.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
SETTINGS_VARIABLES = {
    "DATABASE_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS",
    "SECURE_COOKIES", "STATIC_ROOT", "LOG_LEVEL", "DJANGO_SETTINGS_MODULE",
    # pytest's own marker, which lets the test suite run without a SECRET_KEY.
    "PYTEST_VERSION",
}
READ_SETTINGS = """
import json

import django
from django.conf import settings

print(json.dumps({
    "DEBUG": settings.DEBUG,
    "SECRET_KEY": settings.SECRET_KEY,
    "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
    "CSRF_TRUSTED_ORIGINS": settings.CSRF_TRUSTED_ORIGINS,
    "SESSION_COOKIE_SECURE": settings.SESSION_COOKIE_SECURE,
    "CSRF_COOKIE_SECURE": settings.CSRF_COOKIE_SECURE,
    "DATABASES": settings.DATABASES,
}, default=str))
"""


def load_settings(**env):
    """The process that loads the settings with only ``env`` of the settings' variables set."""
    environment = {
        name: value for name, value in os.environ.items() if name not in SETTINGS_VARIABLES
    }
    environment.update(env, DJANGO_SETTINGS_MODULE="groupsite.settings")
    return subprocess.run(
        [sys.executable, "-c", READ_SETTINGS],
        cwd=BASE_DIR, env=environment, capture_output=True, text=True, timeout=60,
    )


def settings_with(**env):
    """The settings resolved with only ``env`` of the settings' variables set."""
    process = load_settings(**env)
    assert process.returncode == 0, process.stderr
    return json.loads(process.stdout)


def test_defaults_are_sqlite_in_the_project_folder_no_debug_and_local_hosts():
    settings = settings_with(SECRET_KEY="a-production-secret")
    assert settings["SECRET_KEY"] == "a-production-secret"
    assert settings["DEBUG"] is False
    assert settings["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1", "[::1]"]
    assert settings["CSRF_TRUSTED_ORIGINS"] == []
    assert settings["SESSION_COOKIE_SECURE"] is False and settings["CSRF_COOKIE_SECURE"] is False
    database = settings["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == str(BASE_DIR / "db.sqlite3")
    assert database["CONN_MAX_AGE"] == 0
    assert database["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_an_empty_database_url_is_the_default_sqlite_database():
    database = settings_with(SECRET_KEY="s", DATABASE_URL="")["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == str(BASE_DIR / "db.sqlite3")


def test_sqlite_database_url_names_the_file(tmp_path):
    path = tmp_path / "groupsite.sqlite3"
    settings = settings_with(SECRET_KEY="s", DATABASE_URL=f"sqlite:///{path}")
    database = settings["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert database["NAME"] == str(path)


def test_postgres_database_url_is_parsed_into_its_parts():
    databases = settings_with(
        SECRET_KEY="s", DATABASE_URL="postgres://groupsite:s3cret@db.internal:6543/analytics"
    )["DATABASES"]
    database = databases["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"
    assert (database["NAME"], database["USER"], database["PASSWORD"]) == (
        "analytics", "groupsite", "s3cret"
    )
    assert (database["HOST"], database["PORT"]) == ("db.internal", 6543)
    assert database["CONN_MAX_AGE"] == 60
    assert database["OPTIONS"]["options"] == "-c jit=off"
    # Deletion progress goes through a second connection to the same database.
    progress = databases["progress"]
    assert {key: progress[key] for key in ("ENGINE", "NAME", "USER", "HOST", "PORT")} == {
        "ENGINE": "django.db.backends.postgresql", "NAME": "analytics", "USER": "groupsite",
        "HOST": "db.internal", "PORT": 6543,
    }


@pytest.mark.parametrize("secret_key", [None, ""])
def test_a_missing_secret_key_without_debug_stops_the_server(secret_key):
    env = {} if secret_key is None else {"SECRET_KEY": secret_key}
    process = load_settings(**env)
    assert process.returncode != 0
    assert process.stdout == ""
    assert process.stderr.strip().splitlines()[-1] == (
        "django.core.exceptions.ImproperlyConfigured: "
        "Set SECRET_KEY in the environment (or DEBUG=1 for development)."
    )


@pytest.mark.parametrize("debug", ["0", "false", "no", "off", ""])
def test_debug_off_in_any_spelling_still_needs_a_secret_key(debug):
    process = load_settings(DEBUG=debug)
    assert process.returncode != 0
    assert "Set SECRET_KEY in the environment" in process.stderr


def test_debug_runs_without_a_secret_key_on_a_development_key():
    settings = settings_with(DEBUG="1")
    assert settings["DEBUG"] is True
    assert settings["SECRET_KEY"] == "development-only-key-never-use-in-production"


def test_the_test_suite_runs_without_a_secret_key():
    settings = settings_with(PYTEST_VERSION="9.0.0")
    assert settings["DEBUG"] is False
    assert settings["SECRET_KEY"] == "development-only-key-never-use-in-production"


def test_a_secret_key_given_is_used_in_debug_too():
    assert settings_with(DEBUG="1", SECRET_KEY="mine")["SECRET_KEY"] == "mine"


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "yes", "on", " True "])
def test_debug_turns_on_with_a_yes(value):
    assert settings_with(SECRET_KEY="s", DEBUG=value)["DEBUG"] is True


@pytest.mark.parametrize("value", ["0", "false", "no", "off", "", "2"])
def test_debug_stays_off_otherwise(value):
    assert settings_with(SECRET_KEY="s", DEBUG=value)["DEBUG"] is False


def test_allowed_hosts_and_trusted_origins_are_comma_separated():
    settings = settings_with(
        SECRET_KEY="s",
        ALLOWED_HOSTS="analytics.example.com, .groupsite.example ,,",
        CSRF_TRUSTED_ORIGINS="https://analytics.example.com,https://*.groupsite.example",
    )
    assert settings["ALLOWED_HOSTS"] == ["analytics.example.com", ".groupsite.example"]
    assert settings["CSRF_TRUSTED_ORIGINS"] == [
        "https://analytics.example.com", "https://*.groupsite.example"
    ]


def test_secure_cookies_makes_session_and_csrf_cookies_https_only():
    settings = settings_with(SECRET_KEY="s", SECURE_COOKIES="1")
    assert settings["SESSION_COOKIE_SECURE"] is True and settings["CSRF_COOKIE_SECURE"] is True
    settings = settings_with(SECRET_KEY="s", SECURE_COOKIES="0")
    assert settings["SESSION_COOKIE_SECURE"] is False and settings["CSRF_COOKIE_SECURE"] is False
