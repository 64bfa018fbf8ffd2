from django.db import migrations

from analytics.migration_ops import PostgreSQLOnly


class Migration(migrations.Migration):
    """People at a domain (the internal people every report leaves out, deletions and
    lists by domain) found from an index rather than by reading every person: their
    address read backwards starts with the domain read backwards (``at_domains``)."""

    dependencies = [
        ("analytics", "0020_group_day"),
    ]

    operations = [
        PostgreSQLOnly(
            "CREATE INDEX person_email_reversed ON analytics_person "
            "(workspace_id, reverse(email) text_pattern_ops)",
            "DROP INDEX person_email_reversed",
        ),
    ]
