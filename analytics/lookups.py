"""``field__any=[...]``: ``IN`` for a list, sent to PostgreSQL as one array parameter.

Ingestion looks up hundreds of message ids, user ids and group keys per batch. As
``IN (%s, %s, …)`` each query has its own text, so psycopg parses every one afresh and
PostgreSQL's plans vary with the list's length; ``= ANY(%s)`` is one short query text
whatever the list. Other databases get the ordinary ``IN``.
"""

from django.db.models import Field, ForeignKey, Lookup
from django.db.models.lookups import In


@ForeignKey.register_lookup
@Field.register_lookup
class AnyOf(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self):
        return [self.lhs.output_field.get_prep_value(value) for value in self.rhs]

    def as_sql(self, compiler, connection):
        return In(self.lhs, self.rhs).as_sql(compiler, connection)

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        if not self.rhs:
            return "FALSE", []
        return f"{lhs} = ANY(%s)", [*lhs_params, list(self.rhs)]
