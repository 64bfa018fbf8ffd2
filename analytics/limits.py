"""Limits on what one client may do: fail to log in, guess API keys, send calls.

The write key is public (it sits in customers' web pages), so anyone can call the
tracking API, and anyone can try keys or passwords. Every count is kept in the database
(``RateCounter``, and django-axes's ``AccessAttempt`` for logins), so all server processes
share it. Settings: the block "Limits and HTTPS" of groupsite/settings.py.
"""

import ipaddress
import math
from functools import wraps

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from analytics.models import RateCounter

LOGIN_NAME_MAX_LENGTH = 255  # of django-axes's AccessAttempt.username


class RateLimited(Exception):
    """Refused for now: ``retry_after`` seconds until the client may try again."""

    def __init__(self, message, retry_after):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


def client_ip(request):
    """The address a limit counts a request against (None when unknown).

    REMOTE_ADDR, unless ``CLIENT_IP_HEADER`` names the header in which trusted proxies
    pass on the client's address: each of the ``TRUSTED_PROXIES`` appends the address it
    saw, so the one counted is that many entries from the right (entries further left came
    from the client, who can write anything there). An IPv6 address stands for its /64
    network, which one host usually holds whole.
    """
    address = request.META.get("REMOTE_ADDR", "")
    if settings.CLIENT_IP_HEADER:
        hops = request.headers.get(settings.CLIENT_IP_HEADER, "").split(",")
        hops = [hop.strip() for hop in hops if hop.strip()]
        if len(hops) >= settings.TRUSTED_PROXIES:
            address = hops[-settings.TRUSTED_PROXIES]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    if ip.version == 6:
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False).network_address)
    return str(ip)


def _seconds_until(moment):
    return max(1, math.ceil((moment - timezone.now()).total_seconds()))


def _retry_after(window):
    """Seconds until the current window ends (at least 1, which clients take as a wait)."""
    return _seconds_until(RateCounter.window_of(timezone.now(), window)[1])


def limited(error):
    """Decorate an API view authenticated by a key against guessing keys.

    An address whose requests were answered 401 (a wrong or missing key) ``WRONG_KEY_LIMIT``
    times in the current window gets 429 with Retry-After for every request until the
    window ends, whatever key it sends, so the answer tells nothing about the key. A
    ``RateLimited`` raised by the view is a 429 too. ``error(status, code, message)`` makes
    the API's JSON error.
    """

    def decorate(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            budget, window = settings.WRONG_KEY_BUDGET, settings.WRONG_KEY_WINDOW
            name = f"wrong-key:{client_ip(request) or 'unknown'}"
            try:
                if budget and RateCounter.objects.spent(name, window=window) >= budget:
                    retry_after = _retry_after(window)
                    raise RateLimited(
                        "too many wrong keys from this address: every key is refused "
                        f"for {retry_after} seconds (Retry-After)",
                        retry_after,
                    )
                response = view(request, *args, **kwargs)
            except RateLimited as limit:
                response = error(429, "rate_limited", limit.message)
                response["Retry-After"] = str(limit.retry_after)
                return response
            if budget and response.status_code == 401:
                spent = RateCounter.objects.spend(name, 1, budget=budget, window=window)
                if spent == 1:
                    # A new window for this address: the time to drop the ended ones.
                    RateCounter.objects.expired().delete()
            return response

        return wrapper

    return decorate


def spend_ingestion_budget(workspace, calls):
    """Count ``calls`` calls against the workspace's budget per minute, or raise
    ``RateLimited`` (counting nothing) when the budget is spent.

    A request is let in while the window's count is below the budget, whatever its size,
    so that no batch is refused for ever. Call it before storing anything, outside the
    transaction that stores the calls.
    """
    budget, window = settings.INGEST_CALL_BUDGET, settings.INGEST_BUDGET_WINDOW
    if not budget:
        return
    spent = RateCounter.objects.spend(f"ingest:{workspace.pk}", calls, budget=budget, window=window)
    if spent is None:
        retry_after = _retry_after(window)
        raise RateLimited(
            f"this workspace sent its {budget:,} calls for the minute; nothing of this request "
            f"was stored: send it again in {retry_after} seconds (Retry-After)",
            retry_after,
        )


# --- Logging in (django-axes calls these, as its settings say) ---------------------------


def login_name(request, credentials):
    """The account a login attempt counts against: the email as typed, in any case."""
    name = (credentials or {}).get("username") or request.POST.get("username") or ""
    # Cut to what axes stores: no account's email is that long, and a longer name failed
    # the request.
    return name.strip().lower()[:LOGIN_NAME_MAX_LENGTH] or None


def login_locked_out(
    request: HttpRequest, original_response=None, credentials: dict | None = None
) -> HttpResponse:
    """The login page (429) saying that logins are refused, and until when."""
    until = _lockout_end(request, credentials)
    context = dict(getattr(original_response, "context_data", None) or {})
    context["locked_until"] = until
    response = render(request, "registration/login.html", context, status=429)
    response["Retry-After"] = str(_seconds_until(until))
    return response


def _lockout_end(request, credentials):
    """When the failures that lock this login out are old enough to be forgotten.

    Axes keeps failures as rows (per account, address and browser) that are forgotten
    LOGIN_COOLOFF_MINUTES after their last failure; for the account and for the address, the
    lock ends when the rows left hold fewer failures than the limit.
    """
    cool_off = settings.AXES_COOLOFF_TIME
    ends = []
    for attempts in AxesProxyHandler.get_implementation().get_user_attempts(request, credentials):
        failures = 0
        for last_failure, count in attempts.order_by("-attempt_time").values_list(
            "attempt_time", "failures_since_start"
        ):
            failures += count
            if failures >= settings.AXES_FAILURE_LIMIT:
                ends.append(last_failure + cool_off)
                break
    return max(ends, default=timezone.now() + cool_off)
