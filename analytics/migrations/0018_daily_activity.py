"""Daily activity: each person's activity per day of the workspace's time zone and group
context, filled from the events stored so far, as ingestion keeps it from now on."""

from zoneinfo import ZoneInfo

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import Count, F, Max, Min
from django.db.models.functions import Coalesce, TruncDate

from analytics.migration_ops import NotPostgreSQL, PostgreSQLOnly

SLOTS = 10  # GROUP_SLOTS when this was written


def fill_from_events(apps, schema_editor):
    # The historical models, as analytics.event_store.rebuild_daily_activity does it: one
    # INSERT ... SELECT per workspace, grouped in its own time zone.
    Workspace = apps.get_model("analytics", "Workspace")
    Event = apps.get_model("analytics", "Event")
    groups = {f"g{slot}": Coalesce(f"group_{slot}_id", 0) for slot in range(SLOTS)}
    columns = ", ".join(["workspace_id", "person_id", "day", *(f"group_{s}" for s in range(SLOTS)),
                         "events", "first_at", "last_at"])
    for workspace_id, time_zone in Workspace.objects.values_list("pk", "time_zone"):
        per_day = (
            Event.objects.filter(workspace_id=workspace_id, type__in=["track", "page", "screen"])
            .values(w=F("workspace_id"), p=F("person_id"),
                    d=TruncDate("timestamp", tzinfo=ZoneInfo(time_zone)), **groups)
            .annotate(n=Count("id"), f=Min("timestamp"), l=Max("timestamp"))
            .order_by()
        )
        sql, params = per_day.query.sql_with_params()
        schema_editor.execute(
            f"INSERT INTO analytics_dailyactivity ({columns}) "
            f"SELECT w, p, d, {', '.join(groups)}, n, f, l FROM ({sql}) per_day",
            params,
        )


class Migration(migrations.Migration):

    dependencies = [
        ('analytics', '0017_saved_reports'),
    ]

    operations = [
        migrations.CreateModel(
            name='DailyActivity',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField()),
                ('group_0', models.BigIntegerField(default=0)),
                ('group_1', models.BigIntegerField(default=0)),
                ('group_2', models.BigIntegerField(default=0)),
                ('group_3', models.BigIntegerField(default=0)),
                ('group_4', models.BigIntegerField(default=0)),
                ('group_5', models.BigIntegerField(default=0)),
                ('group_6', models.BigIntegerField(default=0)),
                ('group_7', models.BigIntegerField(default=0)),
                ('group_8', models.BigIntegerField(default=0)),
                ('group_9', models.BigIntegerField(default=0)),
                ('events', models.PositiveIntegerField()),
                ('first_at', models.DateTimeField()),
                ('last_at', models.DateTimeField()),
                ('person', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.DB_CASCADE, related_name='+', to='analytics.person')),
                ('workspace', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.DB_CASCADE, related_name='+', to='analytics.workspace')),
            ],
            options={
                'verbose_name_plural': 'daily activity',
                'constraints': [models.UniqueConstraint(fields=('person', 'day', 'group_0', 'group_1', 'group_2', 'group_3', 'group_4', 'group_5', 'group_6', 'group_7', 'group_8', 'group_9'), name='daily_activity_unique')],
            },
        ),
        migrations.RunPython(fill_from_events, migrations.RunPython.noop),
        # Reports read a workspace's days from this index alone on PostgreSQL: it holds
        # every column they count (one index, built after the rows).
        PostgreSQLOnly(
            "CREATE INDEX daily_activity_by_day ON analytics_dailyactivity (workspace_id, day) "
            "INCLUDE (person_id, events, first_at, last_at, "
            + ", ".join(f"group_{slot}" for slot in range(SLOTS)) + ")",
            "DROP INDEX daily_activity_by_day",
        ),
        NotPostgreSQL(
            "CREATE INDEX daily_activity_by_day ON analytics_dailyactivity (workspace_id, day)",
            "DROP INDEX daily_activity_by_day",
        ),
    ]
