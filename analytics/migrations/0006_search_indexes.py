"""Trigram indexes for searching groups and people by any part of a key, name, email or
user id (Django's icontains: UPPER(column) LIKE UPPER('%text%')), on PostgreSQL."""

from django.db import migrations

from analytics.migration_ops import PostgreSQLOnly

SEARCHED = {
    "analytics_group": ["key", "properties ->> 'name'"],
    "analytics_person": ["user_id", "email", "traits ->> 'name'"],
}


def index_name(table, expression):
    column = expression.split()[0] if "->>" not in expression else expression.split()[0] + "_name"
    return f"{table.removeprefix('analytics_')}_search_{column}"


class Migration(migrations.Migration):
    dependencies = [
        ("analytics", "0005_person_several_without"),
    ]

    operations = [
        # pg_trgm is a trusted extension: the database's owner may create it.
        PostgreSQLOnly("CREATE EXTENSION IF NOT EXISTS pg_trgm", migrations.RunSQL.noop),
        *(
            PostgreSQLOnly(
                f"CREATE INDEX {index_name(table, expression)} ON {table} "
                f"USING gin (upper(({expression})::text) gin_trgm_ops)",
                f"DROP INDEX {index_name(table, expression)}",
            )
            for table, expressions in SEARCHED.items()
            for expression in expressions
        ),
    ]
