from django.db import migrations, models
from django.db.models import Count, F, Q


def flag_people(apps, schema_editor):
    """Flag, as ingestion now does, people with events naming no group of a type that
    were sent while they were in several groups of it (as far as memberships tell)."""
    GroupType = apps.get_model("analytics", "GroupType")
    Membership = apps.get_model("analytics", "Membership")
    Event = apps.get_model("analytics", "Event")
    Person = apps.get_model("analytics", "Person")
    for group_type in GroupType.objects.all():
        in_several = (
            Membership.objects.filter(group_type=group_type)
            .values("person")
            .annotate(n=Count("*"))
            .filter(n__gte=2)
            .values("person")
        )
        without = Event.objects.filter(
            person__in=in_several,
            type__in=["track", "page", "screen"],
            **{f"group_{group_type.slot}__isnull": True},
        ).values("person")
        Person.objects.filter(pk__in=without).update(
            several_without=F("several_without").bitor(1 << group_type.slot)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0004_membership_group_type"),
    ]

    operations = [
        migrations.AddField(
            model_name="person",
            name="several_without",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.RunPython(flag_people, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="person",
            index=models.Index(
                condition=~Q(several_without=0), fields=["workspace"], name="person_several_without"
            ),
        ),
    ]
