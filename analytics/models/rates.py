"""Fixed-window counters of the limits (analytics/limits.py)."""

from datetime import UTC, datetime

from django.db import connection, models
from django.utils import timezone


class RateCounterManager(models.Manager):
    def spent(self, name, *, window, now=None):
        """What ``name`` has spent in the current window of length ``window``."""
        start, _ = self.model.window_of(now or timezone.now(), window)
        spent = self.filter(name=name, window_start__gte=start).values_list("spent", flat=True)
        return spent.first() or 0

    def spend(self, name, amount, *, budget, window, now=None):
        """Add ``amount`` to what ``name`` spent in the current window, unless it had
        already spent ``budget``: the new total, or None (nothing added).

        One statement (an upsert), so concurrent requests in every server process count
        exactly; call it outside any transaction, so that the row is locked only for that
        statement."""
        start, end = self.model.window_of(now or timezone.now(), window)
        table = connection.ops.quote_name(self.model._meta.db_table)
        # A row from an earlier window starts over; one from this window adds up.
        newer = f"{table}.window_start < excluded.window_start"
        sql = (
            f"INSERT INTO {table} (name, window_start, ends_at, spent) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (name) DO UPDATE SET "
            f"spent = CASE WHEN {newer} THEN excluded.spent "
            f"ELSE {table}.spent + excluded.spent END, "
            f"ends_at = CASE WHEN {newer} THEN excluded.ends_at ELSE {table}.ends_at END, "
            f"window_start = CASE WHEN {newer} THEN excluded.window_start "
            f"ELSE {table}.window_start END "
            f"WHERE {newer} OR {table}.spent < %s "
            "RETURNING spent"
        )
        adapt = connection.ops.adapt_datetimefield_value
        with connection.cursor() as cursor:
            cursor.execute(sql, [name, adapt(start), adapt(end), amount, budget])
            row = cursor.fetchone()
        return row[0] if row else None

    def expired(self, now=None):
        return self.filter(ends_at__lte=now or timezone.now())


class RateCounter(models.Model):
    """What a client or a workspace spent of a limit in the current fixed window
    (analytics/limits.py): one row per name, so the table holds one row per workspace
    and per address that sent wrong keys lately."""

    name = models.CharField(max_length=100, unique=True)  # "wrong-key:203.0.113.9", "ingest:42"
    window_start = models.DateTimeField()
    ends_at = models.DateTimeField(db_index=True)
    spent = models.BigIntegerField()

    objects = RateCounterManager()

    @staticmethod
    def window_of(moment, length):
        """The fixed window of ``length`` that ``moment`` falls in: (start, end)."""
        seconds = length.total_seconds()
        start = datetime.fromtimestamp(moment.timestamp() // seconds * seconds, tz=UTC)
        return start, start + length

    def __str__(self):
        return f"{self.name}: {self.spent} until {self.ends_at:%H:%M:%S}"
