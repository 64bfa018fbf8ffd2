from django.db import migrations

from analytics.migration_ops import PostgreSQLOnly


class Migration(migrations.Migration):
    """Two indexes for the over-count of active groups (active groups, the overview, the
    groups' card), which credits each day of activity that named no group of the type
    to the groups its person was in, then keeps the groups not active of their own:

    - The days of activity that named no group of slot 0 (the first group type a
      workspace defines, its companies as a rule) from an index of their own, a tenth
      of the rows or less, rather than among every day of the period. It holds no other
      row, so a day of activity with a company costs nothing more at ingestion. Other
      slots read the days of the period, as before.
    - A type's group days in the order of (day, group) rather than of the day alone
      (the group moves from INCLUDE into the key): whether a credited group was active
      of its own on a day is then a probe of the index, or a walk along it in the
      credited groups' order, instead of a hash of all the period's group days built
      first. SQLite's index had that order already.
    """

    # Built CONCURRENTLY, outside a transaction: ingestion keeps writing the daily
    # activity and the group days meanwhile. The old index of group days goes only once
    # the new one is built (a failed build leaves the old one, and the migration can run
    # again).
    atomic = False

    dependencies = [
        ("analytics", "0022_day_total"),
    ]

    operations = [
        PostgreSQLOnly(
            [
                # A build that failed leaves an invalid index of that name behind: dropped
                # first, so the migration can run again.
                "DROP INDEX CONCURRENTLY IF EXISTS daily_activity_without_group_0",
                "CREATE INDEX CONCURRENTLY daily_activity_without_group_0 ON analytics_dailyactivity "
                "(workspace_id, day) INCLUDE (person_id, first_at, last_at) WHERE group_0 = 0",
            ],
            "DROP INDEX CONCURRENTLY IF EXISTS daily_activity_without_group_0",
        ),
        PostgreSQLOnly(
            [
                "DROP INDEX CONCURRENTLY IF EXISTS group_day_by_day_and_group",
                "CREATE INDEX CONCURRENTLY group_day_by_day_and_group ON analytics_groupday "
                "(workspace_id, slot, day, group_id) INCLUDE (activity_rows)",
                "DROP INDEX CONCURRENTLY group_day_by_day",
                "ALTER INDEX group_day_by_day_and_group RENAME TO group_day_by_day",
            ],
            [
                "DROP INDEX CONCURRENTLY IF EXISTS group_day_by_day_of_day",
                "CREATE INDEX CONCURRENTLY group_day_by_day_of_day ON analytics_groupday "
                "(workspace_id, slot, day) INCLUDE (group_id, activity_rows)",
                "DROP INDEX CONCURRENTLY group_day_by_day",
                "ALTER INDEX group_day_by_day_of_day RENAME TO group_day_by_day",
            ],
        ),
    ]
