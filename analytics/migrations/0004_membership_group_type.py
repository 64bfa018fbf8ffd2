import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def copy_group_types(apps, schema_editor):
    Membership = apps.get_model("analytics", "Membership")
    Group = apps.get_model("analytics", "Group")
    Membership.objects.update(
        group_type=Subquery(Group.objects.filter(pk=OuterRef("group")).values("group_type")[:1])
    )


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0003_deletion"),
    ]

    operations = [
        migrations.AddField(
            model_name="membership",
            name="group_type",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.DB_CASCADE,
                related_name="+",
                to="analytics.grouptype",
            ),
        ),
        migrations.RunPython(copy_group_types, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="membership",
            name="group_type",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.DB_CASCADE,
                related_name="+",
                to="analytics.grouptype",
            ),
        ),
        migrations.AddIndex(
            model_name="membership",
            index=models.Index(
                condition=models.Q(("ended_at__isnull", True)),
                fields=["group_type", "person", "started_at"],
                name="membership_open_by_type",
            ),
        ),
    ]
