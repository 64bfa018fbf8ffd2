"""Middleware: Server-Timing on every response, and refusing NUL characters.

Browsers show Server-Timing in their network panel, and scripts/bench_pages.py reads it
to report server time apart from the network and the client.
"""

import time

from django.core.exceptions import BadRequest
from django.db import connections


class ServerTimingMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        database = _DatabaseTime()
        started = time.perf_counter()
        with connections["default"].execute_wrapper(database):
            response = self.get_response(request)
        total = (time.perf_counter() - started) * 1000
        response["Server-Timing"] = (
            f'app;dur={total:.1f}, db;dur={database.ms:.1f};desc="{database.queries} queries"'
        )
        return response


class _DatabaseTime:
    def __init__(self):
        self.ms = 0.0
        self.queries = 0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.ms += (time.perf_counter() - started) * 1000
            self.queries += 1


class RefuseNulMiddleware:
    """A NUL character in the path, the query string or a submitted form is a 400.

    No key, id, search or form field holds one, and PostgreSQL cannot compare text with
    it: a query would fail. The tracking API reads and refuses its own bodies.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if (
            "\x00" in request.path_info
            or _holds_nul(request.GET)
            or (
                request.method == "POST"
                and not request.path_info.startswith("/v1/")
                and _holds_nul(request.POST)
            )
        ):
            raise BadRequest("a NUL character (%00) is not accepted in an address or a form")
        return self.get_response(request)


def _holds_nul(data):
    return any(
        "\x00" in name or any("\x00" in value for value in values) for name, values in data.lists()
    )
