"""Day totals: each day's activity events, in all and without a group of each slot, kept
by triggers on the daily activity (see ``analytics.models.DayTotal``) and filled from
the rows there so far."""

import django.db.models.deletion
from django.db import migrations, models

from analytics.migration_ops import NotPostgreSQL, PostgreSQLOnly

SLOTS = 10  # GROUP_SLOTS when this was written
SHARES = 32  # DayTotal.SHARES
TABLE = "analytics_daytotal"
WITHOUT = [f"without_{slot}" for slot in range(SLOTS)]
COLUMNS = ", ".join(["workspace_id", "day", "share", "events", *WITHOUT])


def sums(rows, sign="", share="0"):
    """The SELECT of (workspace, day, share, events, without_N…) of the daily activity
    ``rows`` (a table or a transition table), ``sign`` "-" to subtract them."""
    without = ", ".join(
        f"{sign}SUM(CASE WHEN r.group_{slot} = 0 THEN r.events ELSE 0 END)" for slot in range(SLOTS)
    )
    return (
        f"SELECT r.workspace_id, r.day, {share}, {sign}SUM(r.events), {without} "
        f"FROM {rows} r GROUP BY r.workspace_id, r.day"
    )


UPSERT = (
    "ON CONFLICT (workspace_id, day, share) DO UPDATE SET events = {t}.events + EXCLUDED.events, "
    + ", ".join(f"{c} = {{t}}.{c} + EXCLUDED.{c}" for c in WITHOUT)
).format(t=TABLE)

# PostgreSQL: one trigger per statement, over the rows it inserted, changed or deleted
# (its transition tables), into the share its transaction holds; in key order. A
# transaction claims a share no other open transaction holds (an advisory lock of its
# own until it ends, tried from its backend's number on), so two never write the same
# rows: ingestion never waits on another batch's totals, nor can totals close a cycle
# of waits, however a transaction orders its statements. Only with every share held
# (as many transactions writing at once) does one wait for a share.
LOCK_SPACE = 0x6474  # "dt"; advisory locks of other kinds use other spaces
# An update's change: each row's events after less before (its group context and day
# never change: a trigger of migration 0020 refuses it).
CHANGED = (
    "(SELECT n.workspace_id, n.day, n.events - o.events AS events, "
    + ", ".join(f"n.group_{slot}" for slot in range(SLOTS))
    + " FROM after_update n JOIN before_update o ON o.id = n.id WHERE n.events <> o.events)"
)
# A deleted workspace's rows go by cascade, in some order with its totals': the days of
# activity of a workspace that is gone subtract from nothing.
STILL_THERE = "WHERE EXISTS (SELECT 1 FROM analytics_workspace w WHERE w.id = r.workspace_id)"


def trigger_function(name, rows, sign=""):
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    own_share integer := analytics_day_total_share();
BEGIN
    INSERT INTO {TABLE} ({COLUMNS}) {sums(rows, sign, share="own_share")} ORDER BY 1, 2 {UPSERT};
    RETURN NULL;
END $$;
"""


POSTGRESQL = f"""
CREATE FUNCTION analytics_day_total_share() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    held text := current_setting('groupsite.day_total_share', true);
    candidate integer;
BEGIN
    IF held IS NOT NULL AND held <> '' THEN
        RETURN held::integer;
    END IF;
    FOR step IN 0..{SHARES - 1} LOOP
        candidate := (pg_backend_pid() + step) % {SHARES};
        EXIT WHEN pg_try_advisory_xact_lock({LOCK_SPACE}, candidate);
        candidate := NULL;
    END LOOP;
    IF candidate IS NULL THEN
        candidate := pg_backend_pid() % {SHARES};
        PERFORM pg_advisory_xact_lock({LOCK_SPACE}, candidate);
    END IF;
    PERFORM set_config('groupsite.day_total_share', candidate::text, true);
    RETURN candidate;
END $$;
{trigger_function("analytics_day_total_add", "added")}
{trigger_function("analytics_day_total_change", CHANGED)}
{trigger_function("analytics_day_total_remove", f"(SELECT * FROM removed r {STILL_THERE})", "-")}
CREATE TRIGGER day_total_add AFTER INSERT ON analytics_dailyactivity
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION analytics_day_total_add();
CREATE TRIGGER day_total_change AFTER UPDATE ON analytics_dailyactivity
    REFERENCING OLD TABLE AS before_update NEW TABLE AS after_update
    FOR EACH STATEMENT EXECUTE FUNCTION analytics_day_total_change();
CREATE TRIGGER day_total_remove AFTER DELETE ON analytics_dailyactivity
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT EXECUTE FUNCTION analytics_day_total_remove();
"""

POSTGRESQL_UNDO = """
DROP TRIGGER day_total_add ON analytics_dailyactivity;
DROP TRIGGER day_total_change ON analytics_dailyactivity;
DROP TRIGGER day_total_remove ON analytics_dailyactivity;
DROP FUNCTION analytics_day_total_add();
DROP FUNCTION analytics_day_total_change();
DROP FUNCTION analytics_day_total_remove();
DROP FUNCTION analytics_day_total_share();
"""


# SQLite: triggers for each row, into share 0 (one writer at a time).
def sqlite_row(row, events, where=""):
    without = ", ".join(f"CASE WHEN {row}.group_{slot} = 0 THEN {events} ELSE 0 END" for slot in range(SLOTS))
    return (
        f"INSERT INTO {TABLE} ({COLUMNS}) SELECT {row}.workspace_id, {row}.day, 0, {events}, {without} "
        f"WHERE {where or 'true'} {UPSERT};"
    )


SQLITE = [
    f"CREATE TRIGGER day_total_add AFTER INSERT ON analytics_dailyactivity FOR EACH ROW BEGIN "
    f"{sqlite_row('NEW', 'NEW.events')} END",
    f"CREATE TRIGGER day_total_change AFTER UPDATE OF events ON analytics_dailyactivity FOR EACH ROW "
    f"WHEN NEW.events <> OLD.events BEGIN {sqlite_row('NEW', 'NEW.events - OLD.events')} END",
    "CREATE TRIGGER day_total_remove AFTER DELETE ON analytics_dailyactivity FOR EACH ROW BEGIN "
    + sqlite_row("OLD", "-OLD.events", "EXISTS (SELECT 1 FROM analytics_workspace w WHERE w.id = OLD.workspace_id)")
    + " END",
]
SQLITE_UNDO = [
    "DROP TRIGGER day_total_add",
    "DROP TRIGGER day_total_change",
    "DROP TRIGGER day_total_remove",
]

# Both databases: the totals so far, in share 0.
FILL = f"INSERT INTO {TABLE} ({COLUMNS}) {sums('analytics_dailyactivity')}"


class Migration(migrations.Migration):

    dependencies = [
        ("analytics", "0021_person_email_reversed"),
    ]

    operations = [
        migrations.CreateModel(
            name="DayTotal",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField()),
                ("share", models.PositiveSmallIntegerField()),
                ("events", models.BigIntegerField()),
                *[(name, models.BigIntegerField()) for name in WITHOUT],
                ("workspace", models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.DB_CASCADE, related_name="+", to="analytics.workspace")),
            ],
            options={
                "verbose_name_plural": "day totals",
                "constraints": [models.UniqueConstraint(fields=("workspace", "day", "share"), name="day_total_unique")],
            },
        ),
        # The totals so far, then the triggers that keep them from now on; on PostgreSQL
        # nothing writes daily activity in between (the lock lasts until the migration
        # commits), so no row is missed or counted twice.
        PostgreSQLOnly(
            "LOCK TABLE analytics_dailyactivity IN SHARE ROW EXCLUSIVE MODE", migrations.RunSQL.noop
        ),
        migrations.RunSQL(FILL, f"DELETE FROM {TABLE}"),
        PostgreSQLOnly(POSTGRESQL, POSTGRESQL_UNDO),
        NotPostgreSQL(SQLITE, SQLITE_UNDO),
    ]
