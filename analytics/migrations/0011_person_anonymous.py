from django.db import migrations, models


class Migration(migrations.Migration):
    """Index the anonymous visitors, whom the People list counts on every visit."""

    dependencies = [
        ("analytics", "0010_readable_moments"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="person",
            index=models.Index(
                condition=models.Q(("user_id__isnull", True)),
                fields=["workspace"],
                name="person_anonymous",
            ),
        ),
    ]
