"""Error answers, in the shape each client reads.

The read/delete API (/api/...) answers ``{"error", "message"}``, the tracking API (/v1/...)
answers as Segment's libraries expect (``{"success": false, "code", "message"}``), and the
dashboard shows a page of the product. Django calls the handlers here (named in
groupsite/urls.py) for whatever a view or a middleware raised, so no error reaches a client
in another shape. A database that cannot be reached is a 503 with ``Retry-After``: the
request may well succeed in a moment, and clients that retry (Segment's libraries, the
browser tracker) do so.
"""

import sys

from django.conf import settings
from django.core.exceptions import (
    BadRequest,
    DisallowedHost,
    RequestDataTooBig,
    TooManyFieldsSent,
)
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template import loader
from django.urls import Resolver404
from django.utils.text import capfirst

from analytics.access import workspace_if_any
from analytics.api import api_error
from analytics.ingest_views import RETRY_AFTER_SECONDS, tracking_api_error

# The dashboard's page for each status, and its heading.
PAGES = {
    400: ("400.html", "This request cannot be answered"),
    403: ("403.html", "Not allowed"),
    404: ("404.html", "Not found"),
    413: ("400.html", "This request is too large"),
    500: ("500.html", "Something went wrong"),
    503: ("503.html", "Groupsite is unavailable for a moment"),
}


def error_response(
    request: HttpRequest, status: int, code: str, message: str, *, no_such_address=False
) -> HttpResponse:
    """The error as JSON on the APIs' paths, else as a page of the dashboard.

    The page keeps the sidebar for a signed-in user; it is rendered without the request
    when that fails: a failing database, session or host name must not fail the error
    page too.
    """
    path = request.path_info
    if path.startswith("/api/"):
        return api_error(status, code, message)
    if path.startswith("/v1/"):
        return tracking_api_error(status, code, message)
    template, heading = PAGES[status]
    context = {
        "heading": heading,
        "message": _sentence(message),
        # A 404 of an address that names nothing cannot be another workspace's object.
        "no_such_address": no_such_address,
    }
    html = None
    if status != 503:  # the database is down: reading the user would only wait for it
        html = _with_sidebar(request, template, context)
    if html is None:
        html = loader.render_to_string(template, context)
    return HttpResponse(html, status=status)


def _sentence(message: str) -> str:
    """The message as a page's sentence: capitalised, unless it starts with a name that
    must stay as it is written (a parameter such as ``per_page``)."""
    first = message.split(" ", 1)[0]
    return message if "_" in first or "." in first else capfirst(message)


def _with_sidebar(request: HttpRequest, template: str, context: dict) -> str | None:
    """The page with the sidebar of every page, for a signed-in user; else None.

    Whatever fails on the way (the session, the user or their workspaces cannot be read:
    often the very cause of the error) gives None, and the page goes without the sidebar.
    """
    try:
        user = getattr(request, "user", None)  # None before AuthenticationMiddleware ran
        if user is None or not user.is_authenticated:
            return None
        workspace_if_any(request)
        return loader.render_to_string(template, {**context, "signed_in": True}, request)
    except Exception:
        return None


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: a request Django or a view refused (BadRequest, SuspiciousOperation)."""
    if isinstance(exception, RequestDataTooBig):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE // (1024 * 1024)
        return error_response(
            request, 413, "too_large", f"the request body is larger than {limit} MB, the limit"
        )
    if isinstance(exception, TooManyFieldsSent):
        message = (
            f"too many parameters: at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:,} "
            "in a query string or form"
        )
    elif isinstance(exception, DisallowedHost):
        message = "this server does not answer to that host name"
    elif isinstance(exception, BadRequest):
        message = str(exception)  # written for the client
    else:
        message = "the request is malformed"
    return error_response(request, 400, "invalid_request", message)


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler403: a role that does not allow what was asked."""
    message = str(exception) or "your role in this workspace does not allow this"
    return error_response(request, 403, "forbidden", message)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler404: no such address, or an object outside the client's workspace."""
    if isinstance(exception, Resolver404) or not str(exception):
        message = f"there is nothing at {request.path}"
        return error_response(request, 404, "not_found", message, no_such_address=True)
    return error_response(request, 404, "not_found", str(exception))  # written for the client


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500, called while Django handles the exception, so it is at hand here."""
    if isinstance(sys.exc_info()[1], (OperationalError, InterfaceError)):
        response = error_response(
            request,
            503,
            "unavailable",
            f"the database cannot be reached; retry in {RETRY_AFTER_SECONDS} seconds",
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return error_response(
        request, 500, "server_error", "the server failed to answer this; the error was logged"
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a dashboard form sent without its token, or from another site."""
    return error_response(
        request,
        403,
        "forbidden",
        "this form could not be sent: it was open for too long, or it came from another "
        "site; go back, reload the page and send it again",
    )
