"""Moments stored before ingestion bounded them (a timestamp of 9999-12-31T23:59:59-14:00
is year 10000 in UTC) cannot be read by Python, and made every page that lists them fail.
They are brought back to the nearest moment that can be read (0001-01-01 or the end of
9999), which keeps their order, so every check on them still holds.

One pass over each table that holds such moments, on PostgreSQL; SQLite (the demo)
never held them readable or not, as it stores moments as text that Django writes.
"""

from django.db import migrations

EARLIEST = "'0001-01-01 00:00:00+00'::timestamptz"
LATEST = "'9999-12-31 23:59:59.999999+00'::timestamptz"
COLUMNS = {
    "analytics_event": ["timestamp", "sent_at"],
    "analytics_person": ["created_at", "last_seen_at"],
    "analytics_group": ["created_at", "last_updated"],
    "analytics_membership": ["started_at", "ended_at"],
}


def statements():
    for table, columns in COLUMNS.items():
        sets = ", ".join(f"{c} = LEAST(GREATEST({c}, {EARLIEST}), {LATEST})" for c in columns)
        unreadable = " OR ".join(f"{c} < {EARLIEST} OR {c} > {LATEST}" for c in columns)
        yield f"UPDATE {table} SET {sets} WHERE {unreadable}"


def make_moments_readable(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in statements():
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0009_task_worker"),
    ]

    operations = [
        migrations.RunPython(make_moments_readable, migrations.RunPython.noop, elidable=True),
    ]
