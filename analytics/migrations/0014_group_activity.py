"""Groups' activity: when each person last did something in each group (GroupActivity)
and when each group last saw activity (Group.last_active_at), filled from the events
stored so far (track, page and screen calls carrying the group), as ingestion keeps them
from now on. The unique constraint and the indexes come after the rows, which is quicker
than keeping them up to date row by row."""

import django.db.models.deletion
from django.db import migrations, models

from analytics.migration_ops import PostgreSQLOnly

SLOTS = 10  # GROUP_SLOTS when this was written
ACTIVITY = "('track', 'page', 'screen')"


def fill_from_events(apps, schema_editor):
    # Plain SQL that PostgreSQL and SQLite both run: a statement per slot of the event
    # table, each one pass over the events carrying a group in it.
    for slot in range(SLOTS):
        group = f"e.group_{slot}_id"
        schema_editor.execute(
            "INSERT INTO analytics_groupactivity "
            "(group_id, group_type_id, person_id, last_active_at) "
            f"SELECT {group}, g.group_type_id, e.person_id, MAX(e.timestamp) "
            f"FROM analytics_event e JOIN analytics_group g ON g.id = {group} "
            f"WHERE {group} IS NOT NULL AND e.type IN {ACTIVITY} "
            f"GROUP BY {group}, g.group_type_id, e.person_id"
        )
    # Grouped once and joined: the rows have no index yet, so a subquery per group would
    # read them all for each group.
    schema_editor.execute(
        "UPDATE analytics_group SET last_active_at = latest.moment "
        "FROM (SELECT group_id, MAX(last_active_at) AS moment "
        "FROM analytics_groupactivity GROUP BY group_id) AS latest "
        "WHERE analytics_group.id = latest.group_id"
    )


class Migration(migrations.Migration):

    dependencies = [
        ('analytics', '0013_workspace_time_zone'),
    ]

    operations = [
        migrations.AddField(
            model_name='group',
            name='last_active_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name='GroupActivity',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('last_active_at', models.DateTimeField()),
                ('group', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.DB_CASCADE, related_name='activity', to='analytics.group')),
                ('group_type', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.DB_CASCADE, related_name='+', to='analytics.grouptype')),
                ('person', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.DB_CASCADE, related_name='group_activity', to='analytics.person')),
            ],
            options={
                'verbose_name_plural': 'group activity',
            },
        ),
        migrations.RunPython(fill_from_events, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name='groupactivity',
            constraint=models.UniqueConstraint(fields=('person', 'group'), name='group_activity_unique'),
        ),
        migrations.AddIndex(
            model_name='groupactivity',
            index=models.Index(fields=['group', 'last_active_at'], name='group_activity_by_group'),
        ),
        migrations.AddIndex(
            model_name='groupactivity',
            index=models.Index(fields=['group_type', 'last_active_at', 'group'], name='group_activity_by_type'),
        ),
        PostgreSQLOnly(
            "CREATE INDEX group_recently_active ON analytics_group "
            "(group_type_id, last_active_at DESC NULLS LAST, key)",
            "DROP INDEX group_recently_active",
        ),
    ]
