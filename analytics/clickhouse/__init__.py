"""ClickHouse as the event store of big workspaces (``CLICKHOUSE_URL``): the connection
and the schema (``analytics.clickhouse.schema``, applied by ``manage.py
clickhouse_schema``).

Work in progress: events do not go there yet; without ``CLICKHOUSE_URL`` nothing here
is imported, and ``clickhouse-connect`` need not be installed.
"""

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def configured() -> bool:
    return settings.CLICKHOUSE is not None


def database() -> str:
    return settings.CLICKHOUSE["database"]


def connect():
    """A client of the configured server, or of the embedded engine (chdb), with no
    database chosen (the schema's statements name theirs). The caller closes it: the
    embedded engine's directory is held by one process at a time, and a process opens
    one directory at a time."""
    config = settings.CLICKHOUSE
    if config is None:
        raise ImproperlyConfigured(
            "CLICKHOUSE_URL is not set: clickhouse://user:password@host:8123/database, or "
            "chdb:///path for ClickHouse's embedded engine."
        )
    try:
        import clickhouse_connect
    except ImportError:
        raise ImproperlyConfigured(
            "CLICKHOUSE_URL is set but ClickHouse's client is not installed: "
            ".venv/bin/pip install -r requirements/clickhouse.txt"
        ) from None
    options = {key: value for key, value in config.items() if key != "database"}
    return clickhouse_connect.get_client(**options)
