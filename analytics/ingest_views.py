"""The Segment-compatible HTTP tracking API: POST /v1/identify|track|page|screen|group|alias|batch.

Authenticated by the workspace's public write key, as the Basic-auth username (what
Segment's libraries send) or as ``writeKey`` in the body (what browsers can send with
``sendBeacon``). The write key opens nothing but these endpoints.
"""

import base64
import binascii
import logging
import re
import zlib
from functools import wraps

import orjson
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from analytics.ingestion import (
    BATCH_LIMIT,
    BATCH_MAX_CALLS,
    Busy,
    Refused,
    batch_context_of,
    ingest,
    record_refused_request,
)
from analytics.limits import limited, spend_ingestion_budget
from analytics.models import Workspace

logger = logging.getLogger(__name__)

# How long a client should wait before retrying when the database cannot take a request
# (the tracking API's answer, and every other one's: analytics/errors.py).
RETRY_AFTER_SECONDS = 5

CORS_HEADERS = {
    # The write key is public and no cookie is used, so any page may send events.
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, Content-Encoding",
    # Browser clients may read how long to wait after a 429 or 503.
    "Access-Control-Expose-Headers": "Retry-After",
    "Access-Control-Max-Age": "86400",
}


def tracking_api_error(status, code, message, **extra):
    # "code" and "message" are the fields Segment's libraries read from an error.
    return JsonResponse({"success": False, "code": code, "message": message, **extra}, status=status)


def ingestion_endpoint(view):
    @csrf_exempt
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method == "OPTIONS":
            response = JsonResponse({})
        elif request.method != "POST":
            response = tracking_api_error(405, "method_not_allowed", "send calls with POST")
            response["Allow"] = "POST, OPTIONS"
        else:
            try:
                response = view(request, *args, **kwargs)
            # Failures are answered here rather than by Django so the CORS headers go
            # with them: a browser's tracker sees a status to retry on, not a puzzling
            # CORS error. Nothing of a failed request was stored, and a retry is safe
            # (message ids make it exactly-once).
            except (OperationalError, InterfaceError, Busy) as error:
                # The database is unreachable or overloaded: Segment's libraries and the
                # browser tracker back off on 503 and honour Retry-After.
                logger.warning("ingestion postponed (%s): %s", type(error).__name__, error)
                response = tracking_api_error(
                    503, "unavailable", "the server cannot store calls right now; retry later"
                )
                response["Retry-After"] = str(RETRY_AFTER_SECONDS)
            except Exception:
                logger.exception("ingestion failed: %s", request.path)
                response = tracking_api_error(500, "server_error", "the server failed to store this; retry")
        for header, value in CORS_HEADERS.items():
            response[header] = value
        return response

    return wrapper


def _body(request) -> bytes:
    """The request body, un-gzipped (up to the server's hard cap on bodies)."""
    try:
        raw = request.body
    except RequestDataTooBig:
        raise Refused("the request body is larger than 500 KB, the limit for a batch", 413) from None
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if encoding in ("gzip", "x-gzip"):
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            raw = inflater.decompress(raw, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        except zlib.error:
            raise Refused("the body is not valid gzip (Content-Encoding: gzip)") from None
        if inflater.unconsumed_tail:
            raise Refused("the request body is larger than 500 KB, the limit for a batch", 413)
    elif encoding not in ("", "identity"):
        raise Refused(f"unsupported Content-Encoding {encoding!r}; use gzip or none", 415)
    return raw


# Half of a UTF-16 surrogate pair, as an escape (after an even number of backslashes, so
# not itself escaped): what JSON.stringify writes for a JavaScript string cut in the middle
# of an emoji. orjson refuses the whole body for one, and PostgreSQL cannot store it.
LONE_HIGH_SURROGATE = re.compile(
    rb"(?<!\\)((?:\\\\)*)\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
)
LONE_LOW_SURROGATE = re.compile(
    rb"(?<!\\)((?:\\\\)*)(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)


def _json(body):
    """The body's JSON. Half a surrogate pair is read as U+FFFD (the replacement
    character), as a browser's UTF-8 encoder writes it; orjson.JSONDecodeError if the
    body is not JSON even so."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        mended = LONE_HIGH_SURROGATE.sub(rb"\1\\ufffd", body)
        mended = LONE_LOW_SURROGATE.sub(rb"\1\\ufffd", mended)
        if mended == body:
            raise
    return orjson.loads(mended)


def _basic_auth_key(request):
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return ""
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return decoded.partition(":")[0]


def _too_large(body):
    return f"the request body is {len(body):,} bytes; a batch may be at most 500 KB"


def _check_batch(calls):
    if not isinstance(calls, list):
        raise Refused("a batch needs 'batch': a list of calls")
    if len(calls) > BATCH_MAX_CALLS:
        raise Refused(
            f"the batch has {len(calls):,} calls; a batch may hold at most "
            f"{BATCH_MAX_CALLS:,}, so split it",
            413,
        )


@ingestion_endpoint
@limited(tracking_api_error)
def ingest_call(request: HttpRequest, call_type: str) -> JsonResponse:
    received_at = timezone.now()
    header_key = _basic_auth_key(request)
    workspace = Workspace.objects.by_write_key(header_key)
    if header_key and workspace is None:
        return tracking_api_error(401, "unauthorized", "unknown write key")
    body, calls = b"", None
    try:
        body = _body(request)
        try:
            payload = _json(body)
        except orjson.JSONDecodeError as problem:
            if len(body) > BATCH_LIMIT:
                raise Refused(_too_large(body), 413) from None
            raise Refused(f"the body is not valid JSON: {problem}") from None
        if not isinstance(payload, dict):
            raise Refused("the body must be a JSON object")
        if workspace is None and isinstance(payload.get("writeKey"), str):
            workspace = Workspace.objects.by_write_key(payload["writeKey"])
        if workspace is None:
            return tracking_api_error(
                401, "unauthorized",
                "missing or unknown write key: send it as the Basic-auth username "
                "or as 'writeKey' in the body",
            )
        if len(body) > BATCH_LIMIT:
            # Parsed anyway, so the refusal counts every call it held.
            calls = payload.get("batch") if call_type == "batch" else None
            raise Refused(_too_large(body), 413)
        batch_sent_at = batch_context = None
        if call_type == "batch":
            calls = payload.get("batch")
            _check_batch(calls)
            batch_sent_at, batch_context = payload.get("sentAt"), batch_context_of(payload)
        else:
            calls = [{**payload, "type": call_type}]
        spend_ingestion_budget(workspace, len(calls))
        outcome = ingest(
            workspace,
            calls,
            received_at=received_at,
            batch_sent_at=batch_sent_at,
            batch_context=batch_context,
        )
    except Refused as refusal:
        if workspace is not None:
            record_refused_request(
                workspace, str(refusal), body=body[:2000].decode(errors="replace"),
                call_count=len(calls) if isinstance(calls, list) and calls else 1, received_at=received_at,
            )
        return tracking_api_error(refusal.status, "invalid_request", str(refusal))
    result = outcome.as_json()
    if outcome.rejected:
        return JsonResponse({"code": "invalid_request", "message": result["error"], **result}, status=400)
    return JsonResponse(result)
