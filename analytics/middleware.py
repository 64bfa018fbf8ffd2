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
    """A NUL character in the path, a header (cookies too), the query string or a posted
    form is a 400.

    No key, id, search, cookie or form field holds one, and PostgreSQL cannot compare text
    with it: a query would fail. The tracking API (/v1/) reads what it needs itself and
    answers its own refusals (with the CORS headers that browsers need to read them).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path_info.startswith("/v1/") and _holds_nul(request):
            raise BadRequest("a NUL character (%00) is not accepted in an address, a header or a form")
        return self.get_response(request)


def _holds_nul(request):
    # Cookies apart from their header: a quoted cookie may write NUL as \000.
    texts = [request.path_info, *request.headers.values(), *request.COOKIES.values()]
    forms = [request.GET, request.POST] if request.method == "POST" else [request.GET]
    for data in forms:
        for name, values in data.lists():
            texts += [name, *values]
    return any("\x00" in text for text in texts)
