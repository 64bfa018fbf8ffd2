"""Ingesting Segment-compatible calls: ``calls`` validates them, ``store`` stores a
request's calls (people, groups, memberships, events) in one transaction."""

from analytics.ingestion.calls import (
    BATCH_LIMIT,
    BATCH_MAX_CALLS,
    CALL_LIMIT,
    Call,
    Refused,
    batch_context_of,
    excerpt,
    parse_call,
    parse_moment,
)
from analytics.ingestion.store import Busy, Outcome, ingest, record_refused_request

__all__ = [
    "BATCH_LIMIT",
    "BATCH_MAX_CALLS",
    "CALL_LIMIT",
    "Busy",
    "Call",
    "Outcome",
    "Refused",
    "batch_context_of",
    "excerpt",
    "ingest",
    "parse_call",
    "parse_moment",
    "record_refused_request",
]
