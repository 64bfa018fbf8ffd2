"""Conditions on what calls send as JSON: event properties, person traits, group properties.

One comparison for every place that filters on them (report filters, cohorts), so that
"plan equals pro" means the same thing in a Trend and in a cohort.
"""

from django.db.models import BooleanField, Case, FloatField, Func, Q, TextField, When
from django.db.models.fields.json import KeyTextTransform, KeyTransform
from django.db.models.functions import Cast
from django.db.models.lookups import Exact, GreaterThan, IContains, LessThan

OPERATORS = {
    "eq": "equals",
    "neq": "does not equal",
    "contains": "contains",
    "set": "is set",
    "not_set": "is not set",
    "gt": "greater than",
    "lt": "less than",
}
# The operators that compare with a value (the others only look for the key).
NEEDS_VALUE = {"eq", "neq", "contains", "gt", "lt"}
NUMERIC = {"gt", "lt"}


class IsNumber(Func):
    """Whether a JSON value (a ``KeyTransform``) is a number."""

    output_field = BooleanField()

    def as_postgresql(self, compiler, connection):
        return self.as_sql(compiler, connection, template="jsonb_typeof(%(expressions)s) = 'number'")

    def as_sqlite(self, compiler, connection):
        return self.as_sql(
            compiler, connection, template="typeof(%(expressions)s) IN ('integer', 'real')"
        )


def json_text(base: str, key: str):
    """The value at ``key`` of the JSON field ``base`` as text (a number as written)."""
    return Cast(KeyTextTransform(key, base), TextField())


def property_q(base: str, key: str, op: str, value: str = "") -> Q:
    """Rows whose JSON field ``base`` (a field path: ``"traits"``, ``"person__traits"``,
    ``"group_0__properties"``) passes ``op`` at ``key``.

    ``eq`` and ``neq`` compare the value as text (``120`` equals "120"), and ``neq`` also
    keeps rows without the key; ``contains`` ignores case; ``set`` and ``not_set`` look
    for the key; ``gt`` and ``lt`` compare numbers, so a value that is no number (or a
    ``value`` that is none) passes neither.
    """
    text = json_text(base, key)
    present = Q(**{f"{base}__has_key": key})
    match op:
        case "set":
            return present
        case "not_set":
            return ~present
        case "eq":
            return Q(Exact(text, value))
        case "neq":
            return ~present | ~Q(Exact(text, value))
        case "contains":
            return Q(IContains(text, value))
        case "gt" | "lt":
            try:
                bound = float(value)
            except ValueError:
                return Q(pk__in=[])
            number = Case(
                When(IsNumber(KeyTransform(key, base)), then=Cast(text, FloatField())),
                default=None,
                output_field=FloatField(),
            )
            compare = GreaterThan if op == "gt" else LessThan
            return Q(compare(number, bound))
    raise ValueError(f"op must be one of {', '.join(OPERATORS)}; not {op!r}")
