"""Reports read a named event's calls through an index that holds what they count (the
call's type, person, id and group context), so that a trend, a funnel or a retention reads the
index alone, not the event rows. Only track calls have report names of their own (page
and screen calls are counted by type), so only they are indexed. PostgreSQL only: SQLite
has no INCLUDE."""

from django.db import migrations

from analytics.migration_ops import PostgreSQLOnly

SLOTS = 10  # GROUP_SLOTS when this was written


class Migration(migrations.Migration):

    dependencies = [
        ("analytics", "0018_daily_activity"),
    ]

    operations = [
        PostgreSQLOnly(
            "CREATE INDEX event_by_name ON analytics_event (workspace_id, name, timestamp) "
            f"INCLUDE (type, person_id, id, {', '.join(f'group_{slot}_id' for slot in range(SLOTS))}) "
            "WHERE type = 'track'",
            "DROP INDEX event_by_name",
        ),
    ]
