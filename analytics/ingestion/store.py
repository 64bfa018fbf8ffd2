"""Storing a request's calls in one transaction, started over when concurrent requests
get in its way, and what became of each call.

A batch is stored with a fixed number of queries whatever its size (plus a few per
anonymous visitor merged into a known user), in steps of their own: ``identities`` (who
each call is about), ``people``, ``groups`` (with memberships and events' group
context) and ``events``. Every item is either stored, recognised as a duplicate of a
stored one, or refused with a reason that is returned to the client and kept as an
``IngestionProblem``.
"""

import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Value

from analytics import event_store
from analytics.ingestion.calls import Refused, excerpt, parse_call
from analytics.ingestion.events import save_events
from analytics.ingestion.groups import GroupContext
from analytics.ingestion.identities import Identities
from analytics.ingestion.people import Conflict, save_people
from analytics.models import IngestionProblem, SuppressedUser

DEADLOCK = "40P01"  # PostgreSQL's SQLSTATE for deadlock_detected
ATTEMPTS = 8  # of a batch that concurrent batches keep getting in the way of


class Busy(Exception):
    """The calls could not all be stored: concurrent batches kept getting in the way
    (nothing was stored); retry later."""


@dataclass
class Outcome:
    """What happened to a request's calls."""

    stored: int = 0
    duplicates: int = 0
    rejected: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    def summary(self):
        """One line naming the refused calls and why, for libraries that log only that."""
        shown = "; ".join(f"#{r['index']}: {r['error']}" for r in self.rejected[:3])
        more = f"; and {len(self.rejected) - 3} more" if len(self.rejected) > 3 else ""
        accepted = self.stored + self.duplicates
        return f"{len(self.rejected)} call(s) refused ({shown}{more}); {accepted} accepted"

    def as_json(self):
        body = {
            "success": not self.rejected,
            "stored": self.stored,
            "duplicates": self.duplicates,
        }
        if self.rejected:
            body["error"] = self.summary()
            body["rejected"] = self.rejected
        if self.warnings:
            body["warnings"] = self.warnings
        return body


def _problem(index, raw, message):
    item = {"index": index, "error": message} if index is not None else {"error": message}
    if isinstance(raw, dict):
        if isinstance(raw.get("messageId"), str):
            item["messageId"] = raw["messageId"]
        if isinstance(raw.get("type"), str):
            item["type"] = raw["type"]
    return item


def store_calls(workspace, calls, *, received_at) -> tuple[int, dict[int, list[str]]]:
    """Store calls that are neither duplicates nor from blocked users, step by step:
    who each call is about (``identities``), their people (``people``), groups and
    memberships (``groups``), then the events with the groups' activity (``events``).

    Returns the events' rows and {call index: warnings}. Raises ``Conflict`` when a concurrent batch
    changed what this one read.
    """
    identities = Identities(workspace, calls)
    identities.load()
    states = identities.resolve_all()
    person_of = save_people(identities, states)
    context = GroupContext(workspace, calls, person_of)
    context.store()
    rows = save_events(
        workspace,
        calls,
        person_of=person_of,
        slots_of=context.slots_of,
        type_of_slot={group_type.slot: group_type.pk for group_type in context.group_types},
        received_at=received_at,
    )
    return rows, context.warnings


def ingest(workspace, raw_calls, *, received_at, batch_sent_at=None, batch_context=None) -> Outcome:
    """Store a request's calls; returns what was stored, refused and warned about.

    Safe to repeat: calls whose messageId is already stored are counted as duplicates
    and change nothing. ``batch_sent_at`` and ``batch_context`` are the batch's own
    ``sentAt`` (as sent) and ``context`` (see ``calls.batch_context_of``). Raises
    ``Busy`` when concurrent requests kept changing what this one read: the client
    should retry. With ClickHouse as the event store, the events are queued in the
    transaction (``event_store.insert``), stored there by the task worker, or by a read
    first.
    """
    calls, refused = [], []
    for index, raw in enumerate(raw_calls):
        try:
            calls.append(
                parse_call(
                    raw,
                    index,
                    received_at=received_at,
                    batch_sent_at=batch_sent_at,
                    batch_context=batch_context,
                )
            )
        except Refused as refusal:
            refused.append((index, str(refusal)))
    for attempt in range(ATTEMPTS):
        try:
            # Durable: each attempt is a transaction of its own, committed before the
            # client is told what was stored. Inside an outer transaction, what it
            # stored could still be rolled back after that, and retries would wait
            # for concurrent batches while holding that transaction's locks.
            with transaction.atomic(durable=True):
                outcome = _store(workspace, raw_calls, calls, refused, received_at)
            break
        except (IntegrityError, OperationalError, Conflict) as error:
            # A concurrent request stored the same message id, created the same person,
            # identity or group, changed or deleted a person this one read, or the
            # database chose this transaction to break a deadlock: start over, now
            # seeing what the other one stored. Nothing of this attempt was kept.
            deadlock = getattr(error.__cause__, "sqlstate", None) == DEADLOCK
            if isinstance(error, OperationalError) and not deadlock:
                raise
            if attempt == ATTEMPTS - 1:
                raise Busy(
                    f"concurrent requests got in this batch's way {ATTEMPTS} times"
                ) from error
            # A short random pause, longer each time, so that requests colliding again
            # and again fall out of step.
            time.sleep(random.uniform(0, 0.005 * 2**attempt))
    return outcome


def _store(workspace, raw_calls, calls, refused, received_at):
    refused = list(refused)
    # Which calls were stored already, and whose senders are blocked: one round trip.
    stored_ids = [
        found.values_list("message_id", Value(False))
        for found in event_store.stored(workspace, [c.message_id for c in calls])
    ]
    blocked_ids = SuppressedUser.objects.filter(
        workspace=workspace, user_id__any={c.user_id for c in calls if c.user_id}
    ).values_list("user_id", Value(True))
    known, blocked = set(), set()
    for value, is_user in blocked_ids.union(*stored_ids, all=True):
        (blocked if is_user else known).add(value)
    kept, duplicates, blocked_calls = [], 0, set()
    for call in calls:
        if call.user_id in blocked:
            refused.append((call.index, f"user {call.user_id!r} was deleted and is blocked"))
            blocked_calls.add(call.index)
        elif call.message_id in known:
            duplicates += 1
        else:
            known.add(call.message_id)
            kept.append(call)

    outcome = Outcome(duplicates=duplicates)
    rows, warnings = [], {}
    if kept:
        rows, warnings = store_calls(workspace, kept, received_at=received_at)
        outcome.stored = len(rows)

    problems = []
    for index, reason in sorted(refused):
        outcome.rejected.append(_problem(index, raw_calls[index], reason))
        problems.append(
            _problem_row(
                workspace,
                IngestionProblem.Level.REJECTED,
                raw_calls[index],
                reason,
                received_at,
                # The point of blocking a deleted user is to keep nothing they send.
                keep_payload=index not in blocked_calls,
            )
        )
    for call in kept:
        for warning in call.warnings + warnings.get(call.index, []):
            outcome.warnings.append(
                {"index": call.index, "messageId": call.message_id, "warning": warning}
            )
            problems.append(
                _problem_row(
                    workspace,
                    IngestionProblem.Level.WARNING,
                    raw_calls[call.index],
                    warning,
                    received_at,
                )
            )
    IngestionProblem.objects.bulk_create(problems)
    return outcome


def _problem_row(workspace, level, raw, reason, received_at, *, keep_payload=True):
    fields = raw if isinstance(raw, dict) else {}

    def text(key, limit):
        # What was sent, refused or not, as text a column holds (no NUL).
        value = fields.get(key)
        if not isinstance(value, (str, int, float)):
            return ""
        return str(value)[:limit].replace("\x00", "")

    return IngestionProblem(
        workspace=workspace,
        level=level,
        received_at=received_at,
        call_type=text("type", 20),
        message_id=text("messageId", 255),
        user_id=text("userId", 255),
        anonymous_id=text("anonymousId", 255),
        reason=reason,
        payload=excerpt(raw) if keep_payload else "",
    )


def record_refused_request(workspace, reason, *, body, call_count=1, received_at=None):
    """Keep a whole request that was refused (bad JSON, too large) visible to the workspace."""
    IngestionProblem.objects.create(
        workspace=workspace,
        level=IngestionProblem.Level.REJECTED,
        received_at=received_at or datetime.now(UTC),
        reason=reason,
        call_count=call_count,
        payload=excerpt(body),
    )
