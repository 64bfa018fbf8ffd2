"""Server-Timing on every response: time in the view stack and in the database.

Browsers show it in their network panel, and scripts/bench_pages.py reads it to report
server time apart from the network and the client.
"""

import time

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
