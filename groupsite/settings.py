"""Groupsite settings, all read from the environment.

DATABASE_URL   sqlite:///path or postgres://user@host:port/name (default: SQLite in db.sqlite3)
CLICKHOUSE_URL clickhouse://user:password@host:8123/database, or chdb:///path (default: none)
CLICKHOUSE_CLUSTER  the cluster's name, when that server is one of a cluster (default: none)
SECRET_KEY     required unless DEBUG is on
DEBUG          1/true/yes to turn on (default: off)
ALLOWED_HOSTS  comma-separated host names (default: localhost names only)

Limits (logins, API keys, ingestion) and HTTPS: the block "Limits and HTTPS" below, and
the README's table of variables.
"""

import os
import re
import tempfile
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    # A typo must not quietly mean "off" (DEBUG=ture, SSL_REDIRECT=yse).
    raise ImproperlyConfigured(
        f"{name}={os.environ[name]!r} is neither on (1, true, yes, on) nor off (0, false, no, off)."
    )


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < minimum:
        raise ImproperlyConfigured(f"{name}={value!r} must be a whole number of {minimum} or more.")
    return int(value)


def env_list(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if not value:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def clickhouse_config(url: str) -> dict | None:
    """The ClickHouse server (or embedded engine) that CLICKHOUSE_URL names, as the
    keyword arguments of ``clickhouse_connect.get_client`` and the database; None when
    unset. The password never appears in an error."""
    url = url.strip()
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme == "chdb":
        if parts.netloc or not parts.path.startswith("/"):
            raise ImproperlyConfigured(
                "CLICKHOUSE_URL=chdb:///… takes the absolute path of the embedded engine's "
                "directory after three slashes, such as chdb:///var/lib/groupsite/chdb."
            )
        database = parse_qs(parts.query).get("database", ["groupsite"])[0]
        config = {"interface": "chdb", "path": unquote(parts.path)}
    elif parts.scheme in ("clickhouse", "clickhouses"):
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured("CLICKHOUSE_URL has a port that is not a number.") from None
        if not parts.hostname:
            raise ImproperlyConfigured("CLICKHOUSE_URL names no host: clickhouse://user:password@host:8123/database.")
        secure = parts.scheme == "clickhouses"
        database = parts.path.strip("/") or "groupsite"
        config = {
            "interface": "https" if secure else "http",
            "host": parts.hostname,
            "port": port or (8443 if secure else 8123),
            "username": unquote(parts.username or "default"),
            "password": unquote(parts.password or ""),
        }
    else:
        raise ImproperlyConfigured(
            "CLICKHOUSE_URL must start with clickhouse:// (HTTP), clickhouses:// (HTTPS) or "
            "chdb:/// (the embedded engine); "
            # Only the scheme: what follows may hold a password.
            + (f"not {parts.scheme + '://'!r}." if "://" in url else "it has no ://.")
        )
    # The database's name goes into the schema's statements as it is.
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", database):
        raise ImproperlyConfigured(
            f"CLICKHOUSE_URL's database must be letters, digits and underscores; not {database!r}."
        )
    return {**config, "database": database}


DEBUG = env_bool("DEBUG")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    # pytest sets PYTEST_VERSION while it runs; anywhere else a missing key is an error.
    if not (DEBUG or "PYTEST_VERSION" in os.environ):
        raise ImproperlyConfigured("Set SECRET_KEY in the environment (or DEBUG=1 for development).")
    SECRET_KEY = "development-only-key-never-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "django_tables2",
    "django_tasks_db",
    "analytics",
]

MIDDLEWARE = [
    "analytics.middleware.ServerTimingMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "analytics.middleware.RefuseNulMiddleware",
]

ROOT_URLCONF = "groupsite.urls"
# A form refused by the CSRF check gets a page of the product, like every other error.
CSRF_FAILURE_VIEW = "analytics.errors.csrf_failure"
WSGI_APPLICATION = "groupsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=60,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        # Writers queue up instead of failing with "database is locked".
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # Tests use a database file of their own, not SQLite's in-memory database, which
    # Django shares among a live server's threads: two requests at once (the overview
    # loads two parts side by side) then ran on one connection at the same moment, and
    # now and then both waited for ever.
    DATABASES["default"]["TEST"] = {
        "NAME": os.path.join(tempfile.gettempdir(), f"groupsite-test-{os.getpid()}.sqlite3")
    }
else:
    # PostgreSQL's JIT compiles every query it estimates as costly; for the dashboard's
    # queries of a few dozen milliseconds compiling costs more than it saves (200 ms added
    # to the People list's banner on 1,000,000 events).
    options = DATABASES["default"].setdefault("OPTIONS", {})
    # The server notices within a minute that a client's machine or network went away
    # (not after the system's two hours), and ends its session: a task worker's advisory
    # lock, its proof of life, goes with it.
    keepalives = "-c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=3"
    # Reports sort and hash hundreds of thousands of rows (a day's groups, a funnel's
    # steps; 90 days' over-count on 10,000,000 events sorts 550,000 pairs of a day and a
    # group, some 50MB): with the server's default 4MB they spill to disk. A cap per sort or hash,
    # taken only by the queries that need it; DATABASE_WORK_MEM="" keeps the server's.
    # Given first, so that options in DATABASE_URL still win.
    work_mem = os.environ.get("DATABASE_WORK_MEM", "64MB").strip()
    if any(character.isspace() for character in work_mem):
        raise ImproperlyConfigured(f"DATABASE_WORK_MEM takes a size without spaces, such as 64MB; not {work_mem!r}.")
    parts = ["-c jit=off", f"-c work_mem={work_mem}" if work_mem else "", keepalives, options.get("options", "")]
    options["options"] = " ".join(part for part in parts if part)
# ClickHouse as the event store of big workspaces (README, "Running at scale"). Unset,
# events stay in the database above and nothing of ClickHouse is needed or installed.
# Work in progress: the reports are not yet as quick there as they must be.
CLICKHOUSE = clickhouse_config(os.environ.get("CLICKHOUSE_URL", ""))
# The cluster's name in the servers' remote_servers, when CLICKHOUSE_URL's server is one
# of a sharded, replicated cluster (its schema made with clickhouse_schema --cluster):
# changes to stored events go to every shard's table.
CLICKHOUSE_CLUSTER = os.environ.get("CLICKHOUSE_CLUSTER", "").strip() or None
if CLICKHOUSE_CLUSTER and not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}", CLICKHOUSE_CLUSTER):
    raise ImproperlyConfigured(
        f"CLICKHOUSE_CLUSTER takes a cluster's name (letters, digits, _ . -); not {CLICKHOUSE_CLUSTER!r}."
    )

# A second connection to the same database, always in autocommit: a long deletion writes
# its progress through it, so other requests see it while the deletion's own transaction
# is still open. Tests give it the default test database.
DATABASES["progress"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}

# Background work (django.tasks) is queued in the database (django-tasks-db) and run by
# worker processes beside the web server: `manage.py task_worker` (analytics/worker.py),
# which also takes back the work of a worker that died. Two queues, so that work someone
# waits for can have workers of its own (README, "Background work"):
#   dashboard  what someone started in the dashboard and is watching (deletions)
#   batch      long work no one waits for (report rollups, copying events elsewhere)
TASKS = {
    "default": {
        "BACKEND": "django_tasks_db.DatabaseBackend",
        "QUEUES": ["dashboard", "batch"],
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "analytics.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise serves straight from the app and project folders: no collectstatic step to
# forget. Set STATIC_ROOT only to collect the files for another web server.
STATIC_ROOT = os.environ.get("STATIC_ROOT") or None
WHITENOISE_USE_FINDERS = True

# Ingestion reads raw bodies itself and enforces Segment's own limits; this only
# stops absurd bodies before they are read into memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = 4 * 1024 * 1024

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True

DJANGO_TABLES2_TEMPLATE = "django_tables2/table.html"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "filters": {"client_errors_in_one_line": {"()": "analytics.log.ClientErrorsInOneLine"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler"},
        "server": {"class": "logging.StreamHandler", "formatter": "server"},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django gives its "django" logger a console handler of its own, used under DEBUG;
        # its records reach the root's handler anyway, so without this every warning
        # (a 404's "Not Found: …") would be printed twice. Configuring "django" resets its
        # children, so runserver's request lines get their own handler back, as Django has it.
        "django": {"handlers": []},
        "django.server": {"handlers": ["server"], "level": "INFO", "propagate": False},
        "django.request": {"filters": ["client_errors_in_one_line"]},
        "django.db.backends": {"level": "INFO"},
    },
}

# --- Limits and HTTPS -----------------------------------------------------------------
# What is limited, with which status codes: README, "Limits". Every count is kept in the
# database, so all server processes share it.

# The client's address is REMOTE_ADDR, unless a trusted proxy passes it on in a header:
# CLIENT_IP_HEADER (e.g. X-Forwarded-For), to which each of TRUSTED_PROXIES proxies appends
# the address it saw. analytics.limits.client_ip reads it for every limit below.
CLIENT_IP_HEADER = os.environ.get("CLIENT_IP_HEADER", "").strip()
TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 1, minimum=1)

# Logging in (django-axes): after LOGIN_FAILURE_LIMIT failures for an account, or from an
# address, with no pause of LOGIN_COOLOFF_MINUTES between them, logins of that account or
# from that address are refused until LOGIN_COOLOFF_MINUTES after the last failure.
INSTALLED_APPS += ["axes"]
MIDDLEWARE += ["axes.middleware.AxesMiddleware"]  # axes asks to come last
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesBackend",  # refuses a locked-out login before the password is checked
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10)
AXES_ENABLED = AXES_FAILURE_LIMIT > 0
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# Attempts while locked out do not push the end further away, so the time the login page
# gives is the time it opens again.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Failures are kept after a success: otherwise logging into one's own account would wipe
# the count of an address that is guessing other people's passwords.
AXES_RESET_ON_SUCCESS = False
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "analytics.limits.login_name"
AXES_CLIENT_IP_CALLABLE = "analytics.limits.client_ip"
AXES_LOCKOUT_CALLABLE = "analytics.limits.login_locked_out"
AXES_DISABLE_ACCESS_LOG = True  # no record of every successful login
LOGGING["loggers"]["axes"] = {"level": "WARNING"}  # failures and lockouts, not every step

# Guessing API keys: after WRONG_KEY_LIMIT wrong write or secret keys from an address in a
# window of WRONG_KEY_WINDOW_MINUTES, every key from it is answered 429 until the window ends.
# A limit of 0 turns that limit off, here and for logins and ingestion.
WRONG_KEY_BUDGET = env_int("WRONG_KEY_LIMIT", 30)
WRONG_KEY_WINDOW = timedelta(minutes=env_int("WRONG_KEY_WINDOW_MINUTES", 10, minimum=1))
# Ingestion: calls a workspace may send per minute (0: no limit). A request that finds the
# budget spent is answered 429 and stores nothing; Segment's libraries and tracker.js retry.
INGEST_CALL_BUDGET = env_int("INGEST_CALLS_PER_MINUTE", 60_000)
INGEST_BUDGET_WINDOW = timedelta(minutes=1)

# HTTPS, all off by default for development over plain HTTP; README "Running it for real"
# turns them on. PROXY_SSL_HEADER names the header in which the proxy that ends TLS says
# the request came over HTTPS (X-Forwarded-Proto: https).
SECURE_SSL_REDIRECT = env_bool("SSL_REDIRECT")
SECURE_HSTS_SECONDS = env_int("HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("HSTS_INCLUDE_SUBDOMAINS")
SECURE_HSTS_PRELOAD = env_bool("HSTS_PRELOAD")
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES")
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
_proxy_ssl_header = os.environ.get("PROXY_SSL_HEADER", "").strip()
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https") if _proxy_ssl_header else None
)
# --- end of Limits and HTTPS ------------------------------------------------------------
