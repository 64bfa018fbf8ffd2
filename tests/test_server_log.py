"""The server's log: each record printed once, runserver's request lines as Django has them."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

LOG_AS_THE_SERVER_DOES = """
import logging, django
django.setup()
logging.getLogger("django.request").warning("Not Found: /nothing-here")
logging.getLogger("django.server").info('"GET /login/ HTTP/1.1" 200 1670', extra={"status_code": 200})
logging.getLogger("analytics.worker").info("Starting worker")
"""


def run_with_the_settings(code, **env):
    """Run ``code`` in a new Python with the project's settings; its finished process."""
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "DJANGO_SETTINGS_MODULE": "groupsite.settings",
            "SECRET_KEY": "a-key-for-this-test-only",
            "DATABASE_URL": "sqlite:////tmp/unused.sqlite3",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.parametrize("debug", ["1", "0"])
def test_each_record_is_printed_once(debug):
    result = run_with_the_settings(LOG_AS_THE_SERVER_DOES, DEBUG=debug)
    lines = result.stderr.splitlines()
    assert lines.count("Not Found: /nothing-here") == 1, lines
    assert lines.count("Starting worker") == 1, lines
    requests = [line for line in lines if '"GET /login/ HTTP/1.1" 200 1670' in line]
    assert len(requests) == 1, lines
    assert requests[0].startswith("[")  # with its time, as runserver prints it


CLIENT_AND_SERVER_ERRORS = """
import logging, django
django.setup()
log = logging.getLogger("django.request")
for status, text in [(400, "ClientMistake"), (500, "ServerFault")]:
    try:
        raise ValueError(text)
    except ValueError:
        log.warning("Failed %s", status, exc_info=True, extra={"status_code": status})
"""


def test_a_client_error_is_one_line_and_a_server_error_keeps_its_traceback():
    result = run_with_the_settings(CLIENT_AND_SERVER_ERRORS)
    assert "Failed 400" in result.stderr and "Failed 500" in result.stderr
    assert "ClientMistake" not in result.stderr  # no traceback for the client's mistake
    assert "Traceback" in result.stderr and "ServerFault" in result.stderr
