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
from django.db import connection

BASE_DIR = Path(__file__).resolve().parent.parent
SETTINGS_VARIABLES = {
    "DATABASE_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS",
    "DATABASE_WORK_MEM", "SECURE_COOKIES", "STATIC_ROOT", "LOG_LEVEL", "DJANGO_SETTINGS_MODULE",
    "SSL_REDIRECT", "HSTS_SECONDS", "HSTS_INCLUDE_SUBDOMAINS", "HSTS_PRELOAD", "PROXY_SSL_HEADER",
    "CLIENT_IP_HEADER", "TRUSTED_PROXIES", "LOGIN_FAILURE_LIMIT", "LOGIN_COOLOFF_MINUTES",
    "WRONG_KEY_LIMIT", "WRONG_KEY_WINDOW_MINUTES", "INGEST_CALLS_PER_MINUTE", "CLICKHOUSE_URL",
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
    "SECURE_SSL_REDIRECT": settings.SECURE_SSL_REDIRECT,
    "SECURE_HSTS_SECONDS": settings.SECURE_HSTS_SECONDS,
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": settings.SECURE_HSTS_INCLUDE_SUBDOMAINS,
    "SECURE_HSTS_PRELOAD": settings.SECURE_HSTS_PRELOAD,
    "SECURE_PROXY_SSL_HEADER": settings.SECURE_PROXY_SSL_HEADER,
    "CLIENT_IP_HEADER": settings.CLIENT_IP_HEADER,
    "TRUSTED_PROXIES": settings.TRUSTED_PROXIES,
    "AXES_ENABLED": settings.AXES_ENABLED,
    "AXES_FAILURE_LIMIT": settings.AXES_FAILURE_LIMIT,
    "AXES_COOLOFF_TIME": settings.AXES_COOLOFF_TIME.total_seconds(),
    "WRONG_KEY_BUDGET": settings.WRONG_KEY_BUDGET,
    "WRONG_KEY_WINDOW": settings.WRONG_KEY_WINDOW.total_seconds(),
    "INGEST_CALL_BUDGET": settings.INGEST_CALL_BUDGET,
    "INGEST_BUDGET_WINDOW": settings.INGEST_BUDGET_WINDOW.total_seconds(),
    "CLICKHOUSE": settings.CLICKHOUSE,
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


@pytest.mark.parametrize(("asked", "option"), [("64MB", "-c work_mem=64MB"), ("", None)])
def test_reports_memory_for_sorts_comes_from_the_environment(asked, option):
    database = settings_with(
        SECRET_KEY="s", DATABASE_URL="postgres://g:s@db/a", DATABASE_WORK_MEM=asked
    )["DATABASES"]["default"]
    options = database["OPTIONS"]["options"].split(" -c ")
    assert [o for o in options if "work_mem" in o] == ([option.removeprefix("-c ")] if option else [])
    assert "jit=off" in options[0]


def test_options_in_the_database_url_win_and_a_size_with_a_space_is_refused():
    database = settings_with(
        SECRET_KEY="s", DATABASE_URL="postgres://g:s@db/a?options=-c%20work_mem%3D256MB"
    )["DATABASES"]["default"]
    assert database["OPTIONS"]["options"].startswith("-c jit=off -c work_mem=64MB ")
    assert database["OPTIONS"]["options"].endswith(" -c work_mem=256MB")  # the last one counts
    process = load_settings(SECRET_KEY="s", DATABASE_URL="postgres://g:s@db/a", DATABASE_WORK_MEM="64 MB")
    assert process.returncode != 0
    assert "DATABASE_WORK_MEM takes a size without spaces, such as 64MB; not '64 MB'." in process.stderr


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
    assert database["OPTIONS"]["options"] == (
        "-c jit=off -c work_mem=64MB "
        "-c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=3"
    )
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


@pytest.mark.parametrize("value", ["0", "false", "no", "off", "", " Off "])
def test_debug_stays_off_with_a_no_or_nothing(value):
    assert settings_with(SECRET_KEY="s", DEBUG=value)["DEBUG"] is False


@pytest.mark.parametrize(
    "name", ["DEBUG", "SECURE_COOKIES", "SSL_REDIRECT", "HSTS_INCLUDE_SUBDOMAINS", "HSTS_PRELOAD"]
)
@pytest.mark.parametrize("value", ["ture", "2", "enabled"])
def test_a_yes_or_no_setting_refuses_anything_else(name, value):
    process = load_settings(SECRET_KEY="s", **{name: value})
    assert process.returncode != 0
    assert process.stderr.strip().splitlines()[-1] == (
        f"django.core.exceptions.ImproperlyConfigured: {name}={value!r} is neither on "
        "(1, true, yes, on) nor off (0, false, no, off)."
    )


@pytest.mark.parametrize(
    ("name", "value", "minimum"),
    [("HSTS_SECONDS", "a year", 0), ("LOGIN_FAILURE_LIMIT", "-1", 0),
     ("LOGIN_COOLOFF_MINUTES", "0", 1), ("WRONG_KEY_WINDOW_MINUTES", "0", 1),
     ("INGEST_CALLS_PER_MINUTE", "1e6", 0), ("TRUSTED_PROXIES", "0", 1)],
)
def test_a_number_setting_refuses_anything_else(name, value, minimum):
    process = load_settings(SECRET_KEY="s", **{name: value})
    assert process.returncode != 0
    assert process.stderr.strip().splitlines()[-1] == (
        f"django.core.exceptions.ImproperlyConfigured: {name}={value!r} must be a whole "
        f"number of {minimum} or more."
    )


def test_without_a_clickhouse_url_events_stay_in_the_database():
    assert settings_with(SECRET_KEY="s")["CLICKHOUSE"] is None
    assert settings_with(SECRET_KEY="s", CLICKHOUSE_URL=" ")["CLICKHOUSE"] is None


@pytest.mark.parametrize(
    ("url", "config"),
    [
        ("clickhouse://reports:p%40ss%2Fword@ch.internal/analytics",
         {"interface": "http", "host": "ch.internal", "port": 8123, "username": "reports",
          "password": "p@ss/word", "database": "analytics"}),
        ("clickhouses://ch.example.com:8444",
         {"interface": "https", "host": "ch.example.com", "port": 8444, "username": "default",
          "password": "", "database": "groupsite"}),
        ("chdb:///var/lib/groupsite/chdb?database=big_workspaces",
         {"interface": "chdb", "path": "/var/lib/groupsite/chdb", "database": "big_workspaces"}),
        ("chdb:///tmp/chdb%20data", {"interface": "chdb", "path": "/tmp/chdb data", "database": "groupsite"}),
        ("clickhouses://ch.example.com",
         {"interface": "https", "host": "ch.example.com", "port": 8443, "username": "default",
          "password": "", "database": "groupsite"}),
    ],
)
def test_a_clickhouse_url_names_the_server_or_the_embedded_engine(url, config):
    assert settings_with(SECRET_KEY="s", CLICKHOUSE_URL=url)["CLICKHOUSE"] == config


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("mysql://user:secret@host/db", "CLICKHOUSE_URL must start with clickhouse:// (HTTP), "
         "clickhouses:// (HTTPS) or chdb:/// (the embedded engine); not 'mysql://'."),
        ("user:secret@ch.internal:8123", "CLICKHOUSE_URL must start with clickhouse:// (HTTP), "
         "clickhouses:// (HTTPS) or chdb:/// (the embedded engine); it has no ://."),
        ("chdb://relative/path", "CLICKHOUSE_URL=chdb:///… takes the absolute path of the "
         "embedded engine's directory after three slashes, such as chdb:///var/lib/groupsite/chdb."),
        ("clickhouse://user:secret@host:eighty/db", "CLICKHOUSE_URL has a port that is not a number."),
        ("clickhouse://user:secret@/db", "CLICKHOUSE_URL names no host: "
         "clickhouse://user:password@host:8123/database."),
        ("clickhouse://user:secret@host/events;drop", "CLICKHOUSE_URL's database must be "
         "letters, digits and underscores; not 'events;drop'."),
    ],
)
def test_a_wrong_clickhouse_url_stops_the_server_without_showing_the_password(url, error):
    process = load_settings(SECRET_KEY="s", CLICKHOUSE_URL=url)
    assert process.returncode != 0
    assert process.stderr.strip().splitlines()[-1] == f"django.core.exceptions.ImproperlyConfigured: {error}"
    assert "secret" not in process.stderr


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


def test_https_is_off_by_default_for_development_over_http():
    settings = settings_with(SECRET_KEY="s")
    assert settings["SECURE_SSL_REDIRECT"] is False
    assert settings["SECURE_HSTS_SECONDS"] == 0
    assert settings["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is False
    assert settings["SECURE_HSTS_PRELOAD"] is False
    assert settings["SECURE_PROXY_SSL_HEADER"] is None


def test_https_settings_come_from_the_environment():
    settings = settings_with(
        SECRET_KEY="s", SSL_REDIRECT="1", HSTS_SECONDS="31536000", HSTS_INCLUDE_SUBDOMAINS="yes",
        HSTS_PRELOAD="true", PROXY_SSL_HEADER="X-Forwarded-Proto",
    )
    assert settings["SECURE_SSL_REDIRECT"] is True
    assert settings["SECURE_HSTS_SECONDS"] == 31536000
    assert settings["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert settings["SECURE_HSTS_PRELOAD"] is True
    assert settings["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


def test_limits_default_to_the_documented_values():
    settings = settings_with(SECRET_KEY="s")
    assert settings["AXES_ENABLED"] is True
    assert settings["AXES_FAILURE_LIMIT"] == 10
    assert settings["AXES_COOLOFF_TIME"] == 15 * 60
    assert settings["WRONG_KEY_BUDGET"] == 30
    assert settings["WRONG_KEY_WINDOW"] == 10 * 60
    assert settings["INGEST_CALL_BUDGET"] == 60_000
    assert settings["INGEST_BUDGET_WINDOW"] == 60
    assert settings["CLIENT_IP_HEADER"] == ""


def test_limits_come_from_the_environment():
    settings = settings_with(
        SECRET_KEY="s", LOGIN_FAILURE_LIMIT="5", LOGIN_COOLOFF_MINUTES="60", WRONG_KEY_LIMIT="100",
        WRONG_KEY_WINDOW_MINUTES="1", INGEST_CALLS_PER_MINUTE="0",
        CLIENT_IP_HEADER="X-Forwarded-For", TRUSTED_PROXIES="2",
    )
    assert (settings["AXES_FAILURE_LIMIT"], settings["AXES_COOLOFF_TIME"]) == (5, 3600)
    assert (settings["WRONG_KEY_BUDGET"], settings["WRONG_KEY_WINDOW"]) == (100, 60)
    assert settings["INGEST_CALL_BUDGET"] == 0
    assert (settings["CLIENT_IP_HEADER"], settings["TRUSTED_PROXIES"]) == ("X-Forwarded-For", 2)


def test_a_login_failure_limit_of_zero_turns_the_lockout_off():
    assert settings_with(SECRET_KEY="s", LOGIN_FAILURE_LIMIT="0")["AXES_ENABLED"] is False


def production_environment():
    """The export lines of the README's production set-up ("Running it for real")."""
    readme = (BASE_DIR / "README.md").read_text()
    section = readme.split("## Running it for real", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.startswith("export ")]


def check_deploy(exports):
    """``manage.py check --deploy`` in a shell that ran ``exports`` and nothing else, with
    the test database standing for the README's PostgreSQL server."""
    database = connection.settings_dict
    postgres = "postgres://{USER}@{HOST}:{PORT}/{NAME}".format(**database)
    script = "\n".join([
        "set -e", *exports, f"export DATABASE_URL={postgres}",
        f"exec {sys.executable} manage.py check --deploy --database default --fail-level WARNING",
    ])
    return subprocess.run(
        ["bash", "-c", script], cwd=BASE_DIR, capture_output=True, text=True, timeout=120,
        env={"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")},
    )


postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the production set-up runs on PostgreSQL"
)


@postgresql_only
def test_the_readme_production_environment_passes_the_deployment_checks(db):
    exports = production_environment()
    assert any("SSL_REDIRECT=1" in line for line in exports)
    process = check_deploy(exports)
    assert process.returncode == 0, process.stdout + process.stderr
    assert process.stdout.strip() == "System check identified no issues (0 silenced)."


@postgresql_only
def test_the_deployment_checks_see_a_production_environment_without_https(db):
    exports = [line for line in production_environment() if "SSL_REDIRECT" not in line]
    process = check_deploy(exports)
    assert process.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in process.stderr
