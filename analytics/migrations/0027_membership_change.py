"""Memberships changed, recorded by triggers on the memberships for the copy ClickHouse
keeps of them (see ``analytics.models.MembershipChange``)."""

from django.db import migrations, models

from analytics.migration_ops import NotPostgreSQL, PostgreSQLOnly

TABLE = "analytics_membershipchange"

# PostgreSQL: one trigger per statement, over the rows it added, changed or deleted.
POSTGRESQL = f"""
CREATE FUNCTION analytics_membership_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO {TABLE} (workspace_id, membership_id) SELECT workspace_id, id FROM changed ORDER BY id;
    RETURN NULL;
END $$;
CREATE TRIGGER membership_added AFTER INSERT ON analytics_membership
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION analytics_membership_changed();
CREATE TRIGGER membership_changed AFTER UPDATE ON analytics_membership
    REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION analytics_membership_changed();
CREATE TRIGGER membership_deleted AFTER DELETE ON analytics_membership
    REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION analytics_membership_changed();
"""
POSTGRESQL_UNDO = """
DROP TRIGGER membership_added ON analytics_membership;
DROP TRIGGER membership_changed ON analytics_membership;
DROP TRIGGER membership_deleted ON analytics_membership;
DROP FUNCTION analytics_membership_changed();
"""

# SQLite: a trigger for each row.
SQLITE = [
    f"CREATE TRIGGER membership_{name} AFTER {event} ON analytics_membership FOR EACH ROW BEGIN "
    f"INSERT INTO {TABLE} (workspace_id, membership_id) VALUES ({row}.workspace_id, {row}.id); END"
    for name, event, row in (("added", "INSERT", "NEW"), ("changed", "UPDATE", "NEW"), ("deleted", "DELETE", "OLD"))
]
SQLITE_UNDO = [f"DROP TRIGGER membership_{name}" for name in ("added", "changed", "deleted")]


class Migration(migrations.Migration):

    dependencies = [
        ("analytics", "0026_pending_reassignment"),
    ]

    operations = [
        migrations.CreateModel(
            name="MembershipChange",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("workspace_id", models.BigIntegerField()),
                ("membership_id", models.BigIntegerField()),
            ],
            options={
                "indexes": [models.Index(fields=["workspace_id", "id"], name="membership_change_order")],
            },
        ),
        PostgreSQLOnly(POSTGRESQL, POSTGRESQL_UNDO),
        NotPostgreSQL(SQLITE, SQLITE_UNDO),
    ]
