"""Logging filters of the server log (groupsite/settings.py LOGGING)."""

import logging


class ClientErrorsInOneLine(logging.Filter):
    """A request refused as the client's fault (a 4xx: a malformed link, a missing page)
    is logged as its one-line warning, without a traceback: a server error keeps its."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", 500) < 500:
            record.exc_info = record.exc_text = None
        return True
