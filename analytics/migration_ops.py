"""Migration operations of our own."""

from django.db import migrations


class PostgreSQLOnly(migrations.RunSQL):
    """SQL that only PostgreSQL understands: indexes SQLite cannot have (NULLS LAST,
    trigram), which the embedded development database does without."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class NotPostgreSQL(migrations.RunSQL):
    """The plain form, for the embedded development database, of what ``PostgreSQLOnly``
    does with PostgreSQL's own syntax (an index with INCLUDE columns, say)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor != "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
