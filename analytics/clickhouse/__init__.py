"""ClickHouse as the event store of big workspaces (``CLICKHOUSE_URL``): the connection,
the schema (``analytics.clickhouse.schema``, applied by ``manage.py clickhouse_schema``),
copying a workspace's events there (``copy``), the store itself (``store``: what
``analytics.event_store`` does with events when ClickHouse holds them), the rollups of
the events (``rollups``), and the statements all of them run (``sql``).

Reports read ClickHouse through ``analytics.reports.clickhouse``. Work in progress:
ingestion into the embedded engine does not yet keep PostgreSQL's pace (README,
"Running at scale"). Without
``CLICKHOUSE_URL`` nothing here but this module is imported, and ``clickhouse-connect``
need not be installed.
"""

import functools
import importlib.util

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
    import clickhouse_connect

    return clickhouse_connect.get_client(**_options())


def client():
    """The process's client of the configured ClickHouse, shared by its threads; no
    database chosen."""
    return _shared(tuple(sorted(_options().items())))


@functools.cache
def _shared(options: tuple):
    import clickhouse_connect

    options = dict(options)
    if options["interface"] != "chdb":
        # No session: a server runs one query of a session at a time, and the threads
        # of the process share this client.
        options["autogenerate_session_id"] = False
    return clickhouse_connect.get_client(**options)


def _options() -> dict:
    config = settings.CLICKHOUSE
    if config is None:
        raise ImproperlyConfigured(
            "CLICKHOUSE_URL is not set: clickhouse://user:password@host:8123/database, or "
            "chdb:///path for ClickHouse's embedded engine."
        )
    if importlib.util.find_spec("clickhouse_connect") is None:
        raise ImproperlyConfigured(
            "CLICKHOUSE_URL is set but ClickHouse's client is not installed: "
            ".venv/bin/pip install -r requirements/clickhouse.txt"
        )
    return {key: value for key, value in config.items() if key != "database"}
