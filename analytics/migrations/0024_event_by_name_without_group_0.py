from django.db import migrations

from analytics.migration_ops import PostgreSQLOnly


class Migration(migrations.Migration):
    """How many of a report's named events carried no group of the type it counts by
    (the note beside a trend, a funnel or a retention counted by companies) from an
    index of the track calls without a group of slot 0 (the first group type a workspace
    defines, its companies as a rule): a few hundredths of the calls, rather than every
    call of the events in the period read from ``event_by_name`` and passed over. It
    holds no other call, so a call with a company costs nothing more at ingestion. Other
    slots read ``event_by_name``, as before.
    """

    # Built CONCURRENTLY, outside a transaction: ingestion keeps writing events meanwhile.
    atomic = False
    dependencies = [
        ("analytics", "0023_over_count_indexes"),
    ]
    operations = [
        PostgreSQLOnly(
            [
                # A build that failed leaves an invalid index of that name behind, which
                # every write would keep up and no query would read: dropped first, so
                # the migration can run again.
                "DROP INDEX CONCURRENTLY IF EXISTS event_by_name_without_group_0",
                "CREATE INDEX CONCURRENTLY event_by_name_without_group_0 ON analytics_event "
                "(workspace_id, name, timestamp) INCLUDE (person_id) WHERE type = 'track' AND group_0_id IS NULL",
            ],
            "DROP INDEX CONCURRENTLY IF EXISTS event_by_name_without_group_0",
        ),
    ]
