"""Realistic fake B2B product data, stored through the real ingestion path.

``generate`` invents a customer base and about 90 days of its activity (``Cast``, in
``analytics.demo_cast``), then sends it as Segment calls, in time order and in batches,
to ``ingest``: what is stored is exactly what live clients would have produced. This
module holds the entry points (``generate``, ``default_sizes``, ``ensure_group_types``),
the ``Summary`` of what was stored and the sending in batches; it also gives the
demo's callers the constants they read, among them the cast's habits (``WINDOW_DAYS``,
``WEEKDAY_WEIGHTS``, ``GROWTH``) and the plans' prices (``SEAT_PRICES``, ``MIN_SEATS``).

The same seed gives the same data; timestamps are relative to ``until``.
"""

import random
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.utils import timezone

from analytics.demo_cast import GROWTH, WEEKDAY_WEIGHTS, WINDOW_DAYS, Cast
from analytics.demo_vocabulary import MIN_SEATS, SEAT_PRICES
from analytics.ingestion import ingest
from analytics.models import Event, Group, GroupType, Identity, Membership, Person, normalize_domain

BATCH_SIZE = 2500
INTERNAL_DOMAIN = "groupsite.dev"

# The demo's callers (the set-up, the benchmarks, the tests) read these here.
__all__ = [
    "BATCH_SIZE",
    "GROWTH",
    "INTERNAL_DOMAIN",
    "MIN_SEATS",
    "SEAT_PRICES",
    "WEEKDAY_WEIGHTS",
    "WINDOW_DAYS",
    "Summary",
    "default_sizes",
    "ensure_group_types",
    "generate",
]


@dataclass
class Summary:
    """What ``generate`` invented and what ingestion made of it."""

    companies: int = 0
    teams: int = 0
    people: int = 0
    staff: int = 0
    multi_company: int = 0
    visitors: int = 0
    removed: int = 0
    calls: int = 0
    sent: int = 0
    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    warnings: int = 0
    problems: list = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self):
        return self.stored / self.seconds if self.seconds else 0.0


def default_sizes(events):
    """(companies, people) for a workspace of ``events`` calls."""
    return max(1, events // 100), max(5, events // 20)


def ensure_group_types(workspace):
    """The workspace's company and team group types, created when missing."""
    types = workspace.group_types.by_name()
    for name in ("company", "team"):
        if name not in types:
            types[name] = GroupType.create(workspace=workspace, name=name)
    return types["company"], types["team"]


def generate(
    workspace,
    *,
    events: int,
    seed: int = 0,
    companies: int | None = None,
    people: int | None = None,
    internal_domain: str = INTERNAL_DOMAIN,
    until: datetime | None = None,
    batch_size: int = BATCH_SIZE,
    progress=None,
) -> Summary:
    """Invent a customer base and store about ``events`` calls of it through ``ingest``.

    ``companies`` and ``people`` (identified users, staff included) default to
    ``default_sizes(events)``. ``events`` counts every call (identify, group, track,
    page); a cast too large for it gets its sign-up calls all the same. ``progress`` is
    called with the summary after each batch.
    """
    default_companies, default_people = default_sizes(events)
    company_type, _ = ensure_group_types(workspace)
    cast = Cast(
        random.Random(seed),
        companies=companies or default_companies,
        people=people or default_people,
        internal_domain=normalize_domain(internal_domain),
        until=(until or timezone.now()).timestamp(),
    )
    cast.add_activity(events - len(cast.schedule))
    summary = Summary(
        companies=len(cast.companies) + 1,
        teams=len(cast.teams),
        people=len(cast.people),
        staff=len(cast.staff),
        multi_company=len(cast.multi_company),
        visitors=len(cast.visitors),
        removed=len(cast.removed),
        calls=len(cast.schedule),
    )
    sender = _Sender(workspace, summary, batch_size=batch_size, progress=progress)
    sender.send_all(cast.setup_calls(company_is_default=company_type.is_default))
    sender.send_all(cast.activity_calls())
    return summary


def _ingest(workspace, batch):
    """Store a batch; returns what the summary counts."""
    outcome = ingest(workspace, batch, received_at=timezone.now())
    problems = (outcome.rejected + outcome.warnings)[:5]
    rejected, warnings = len(outcome.rejected), len(outcome.warnings)
    return len(batch), outcome.stored, outcome.duplicates, rejected, warnings, problems


class _Sender:
    """Sends calls to ``ingest`` in batches and keeps count."""

    def __init__(self, workspace, summary, *, batch_size, progress):
        self.workspace = workspace
        self.summary = summary
        self.batch_size = batch_size
        self.progress = progress
        self.started = time.perf_counter()
        self.next_analyze = batch_size

    def send_all(self, calls):
        for batch in _batches(calls, self.batch_size):
            self.count(_ingest(self.workspace, batch))

    def count(self, result):
        summary = self.summary
        sent, stored, duplicates, rejected, warnings, problems = result
        summary.sent += sent
        summary.stored += stored
        summary.duplicates += duplicates
        summary.rejected += rejected
        summary.warnings += warnings
        summary.problems += problems[: max(0, 5 - len(summary.problems))]
        summary.seconds = time.perf_counter() - self.started
        if summary.sent >= self.next_analyze:
            self.next_analyze *= 2
            _analyze()
        if self.progress:
            self.progress(summary)


def _batches(calls, size):
    batch = []
    for call in calls:
        batch.append(call)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _analyze():
    """Refresh the planner's statistics, as the tables double in size.

    Autovacuum would, but it lags behind a bulk load (and may be off): with statistics
    of near-empty tables, PostgreSQL plans ingestion's lookups as scans of whole ones.
    """
    if connection.vendor == "postgresql":
        tables = ", ".join(m._meta.db_table for m in (Event, Person, Identity, Group, Membership))
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {tables}")
