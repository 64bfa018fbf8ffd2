"""Group days: each group's presence in daily activity, one row per group and day, kept
by triggers on the daily activity (see ``analytics.models.GroupDay``) and filled from
the rows there so far."""

import django.db.models.deletion
from django.db import migrations, models

from analytics.migration_ops import NotPostgreSQL, PostgreSQLOnly

SLOTS = 10  # GROUP_SLOTS when this was written
TABLE = "analytics_groupday"
COLUMNS = "workspace_id, slot, group_id, day, activity_rows"

# PostgreSQL: one trigger per statement, over the rows it inserted or deleted (its
# transition table), each group's days counted at once. A statement locks its group days
# in key order, so two that share groups wait for each other rather than deadlock; and
# ingestion and deletions take groups' rows before group days (see
# analytics.ingestion.events and analytics.deletion).
SLOT_VALUES = ", ".join(f"({slot}, r.group_{slot})" for slot in range(SLOTS))


def per_group_day(rows):
    return (
        f"SELECT r.workspace_id, s.slot, s.group_id, r.day, COUNT(*) AS n FROM {rows} r "
        f"CROSS JOIN LATERAL (VALUES {SLOT_VALUES}) s (slot, group_id) WHERE s.group_id <> 0 "
        f"GROUP BY 1, 2, 3, 4"
    )


POSTGRESQL = f"""
CREATE FUNCTION analytics_group_day_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {TABLE} ({COLUMNS})
    {per_group_day("added")} ORDER BY 1, 2, 3, 4
    ON CONFLICT (workspace_id, slot, group_id, day)
    DO UPDATE SET activity_rows = {TABLE}.activity_rows + EXCLUDED.activity_rows;
    RETURN NULL;
END $$;

CREATE FUNCTION analytics_group_day_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM {TABLE} g JOIN ({per_group_day("removed")}) d
        USING (workspace_id, slot, group_id, day)
        ORDER BY g.workspace_id, g.slot, g.group_id, g.day FOR UPDATE OF g;
    UPDATE {TABLE} g SET activity_rows = g.activity_rows - d.n
    FROM ({per_group_day("removed")}) d
    WHERE g.workspace_id = d.workspace_id AND g.slot = d.slot AND g.group_id = d.group_id
        AND g.day = d.day;
    RETURN NULL;
END $$;

CREATE FUNCTION analytics_group_day_unchanged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the group context of a day of activity does not change: delete the row and add another';
END $$;

CREATE TRIGGER group_day_add AFTER INSERT ON analytics_dailyactivity
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION analytics_group_day_add();
CREATE TRIGGER group_day_remove AFTER DELETE ON analytics_dailyactivity
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION analytics_group_day_remove();
CREATE TRIGGER group_day_unchanged BEFORE UPDATE OF {", ".join(f"group_{s}" for s in range(SLOTS))}, day, workspace_id
    ON analytics_dailyactivity FOR EACH ROW
    WHEN ({" OR ".join(f"OLD.group_{s} <> NEW.group_{s}" for s in range(SLOTS))} OR OLD.day <> NEW.day OR OLD.workspace_id <> NEW.workspace_id)
    EXECUTE FUNCTION analytics_group_day_unchanged();
"""

POSTGRESQL_UNDO = """
DROP TRIGGER group_day_add ON analytics_dailyactivity;
DROP TRIGGER group_day_remove ON analytics_dailyactivity;
DROP TRIGGER group_day_unchanged ON analytics_dailyactivity;
DROP FUNCTION analytics_group_day_add();
DROP FUNCTION analytics_group_day_remove();
DROP FUNCTION analytics_group_day_unchanged();
"""

# SQLite: triggers for each row, a statement per slot.
ADD_ROW = "\n".join(
    f"    INSERT INTO {TABLE} ({COLUMNS}) SELECT NEW.workspace_id, {slot}, NEW.group_{slot}, NEW.day, 1 "
    f"WHERE NEW.group_{slot} <> 0 ON CONFLICT (workspace_id, slot, group_id, day) "
    f"DO UPDATE SET activity_rows = activity_rows + 1;"
    for slot in range(SLOTS)
)
REMOVE_ROW = "\n".join(
    f"    UPDATE {TABLE} SET activity_rows = activity_rows - 1 WHERE workspace_id = OLD.workspace_id "
    f"AND slot = {slot} AND group_id = OLD.group_{slot} AND day = OLD.day;"
    for slot in range(SLOTS)
)
SQLITE = [
    f"CREATE TRIGGER group_day_add AFTER INSERT ON analytics_dailyactivity FOR EACH ROW BEGIN\n{ADD_ROW}\nEND",
    f"CREATE TRIGGER group_day_remove AFTER DELETE ON analytics_dailyactivity FOR EACH ROW BEGIN\n{REMOVE_ROW}\nEND",
    "CREATE TRIGGER group_day_unchanged BEFORE UPDATE ON analytics_dailyactivity FOR EACH ROW WHEN "
    + " OR ".join(f"OLD.group_{s} <> NEW.group_{s}" for s in range(SLOTS))
    + " OR OLD.day <> NEW.day OR OLD.workspace_id <> NEW.workspace_id BEGIN "
    "SELECT RAISE(ABORT, 'the group context of a day of activity does not change: delete the row and add another'); END",
]
SQLITE_UNDO = [
    "DROP TRIGGER group_day_add",
    "DROP TRIGGER group_day_remove",
    "DROP TRIGGER group_day_unchanged",
]

# Both databases: the rows so far, a reading of the daily activity per slot.
FILL = (
    f"INSERT INTO {TABLE} ({COLUMNS}) SELECT workspace_id, slot, group_id, day, COUNT(*) FROM ("
    + " UNION ALL ".join(
        f"SELECT workspace_id, {slot} AS slot, group_{slot} AS group_id, day "
        f"FROM analytics_dailyactivity WHERE group_{slot} <> 0"
        for slot in range(SLOTS)
    )
    + ") present GROUP BY workspace_id, slot, group_id, day"
)


class Migration(migrations.Migration):

    dependencies = [
        ('analytics', '0019_event_by_name'),
    ]

    operations = [
        migrations.CreateModel(
            name='GroupDay',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('slot', models.PositiveSmallIntegerField()),
                ('group_id', models.BigIntegerField()),
                ('day', models.DateField()),
                ('activity_rows', models.IntegerField()),
                ('workspace', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.DB_CASCADE, related_name='+', to='analytics.workspace')),
            ],
            options={
                'verbose_name_plural': 'group days',
                'constraints': [models.UniqueConstraint(fields=('workspace', 'slot', 'group_id', 'day'), name='group_day_unique')],
            },
        ),
        # The rows so far, then the triggers that keep them from now on; on PostgreSQL
        # nothing writes daily activity in between (the lock lasts until the migration
        # commits), so no row is missed or counted twice.
        PostgreSQLOnly(
            "LOCK TABLE analytics_dailyactivity IN SHARE ROW EXCLUSIVE MODE", migrations.RunSQL.noop
        ),
        migrations.RunSQL(FILL, f"DELETE FROM {TABLE}"),
        PostgreSQLOnly(POSTGRESQL, POSTGRESQL_UNDO),
        NotPostgreSQL(SQLITE, SQLITE_UNDO),
        # Counts of a type's active groups read its days from this index alone.
        PostgreSQLOnly(
            f"CREATE INDEX group_day_by_day ON {TABLE} (workspace_id, slot, day) INCLUDE (group_id, activity_rows)",
            "DROP INDEX group_day_by_day",
        ),
        NotPostgreSQL(
            f"CREATE INDEX group_day_by_day ON {TABLE} (workspace_id, slot, day, group_id, activity_rows)",
            "DROP INDEX group_day_by_day",
        ),
    ]
