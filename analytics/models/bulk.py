"""Writing many rows in one statement: counters, array updates and COPY.

These run in ingestion's hot path. On PostgreSQL the values travel as arrays (one
parameter per column) or through COPY; elsewhere Django's portable forms are used.
"""

from datetime import timedelta

import orjson
from django.db import connection, models
from django.db.models import Case, F, Value, When
from django.db.models.functions import Coalesce, Greatest


def update_counters(queryset, pks, *, add=None, latest=None, bit_or=None):
    """One UPDATE of many rows: add to counters, keep the latest of moments, set bits.

    ``add``, ``latest`` and ``bit_or`` map a column to its values, in the order of
    ``pks``. This runs in the hot path of ingestion, so on PostgreSQL the values travel as
    arrays (one parameter per column) rather than as a CASE expression per row.
    """
    model, pks = queryset.model, list(pks)
    add, latest, bit_or = add or {}, latest or {}, bit_or or {}
    if connection.vendor == "postgresql":
        sets = [f"{name} = t.{name} + v.{name}" for name in add]
        sets += [f"{name} = GREATEST(t.{name}, v.{name})" for name in latest]
        sets += [f"{name} = t.{name} | v.{name}" for name in bit_or]
        arrays = ["%s::int[]"] * len(add) + ["%s::timestamptz[]"] * len(latest)
        arrays += ["%s::smallint[]"] * len(bit_or)
        # Rows that would not change are not written (nor locked).
        changes = [f"v.{name} <> 0" for name in add]
        changes += [f"t.{name} IS NULL OR v.{name} > t.{name}" for name in latest]
        changes += [f"(t.{name} | v.{name}) <> t.{name}" for name in bit_or]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {model._meta.db_table} AS t SET {', '.join(sets)} "
                f"FROM unnest(%s::bigint[], {', '.join(arrays)}) "
                f"AS v(id, {', '.join([*add, *latest, *bit_or])}) "
                f"WHERE t.id = v.id AND ({' OR '.join(f'({c})' for c in changes)})",
                [pks, *add.values(), *latest.values(), *bit_or.values()],
            )
        return

    def by_pk(name, values):
        whens = (When(pk=pk, then=Value(value)) for pk, value in zip(pks, values))
        return Case(*whens, output_field=model._meta.get_field(name))

    changes = {name: F(name) + by_pk(name, values) for name, values in add.items()}
    for name, values in latest.items():
        changes[name] = Coalesce(Greatest(name, by_pk(name, values)), by_pk(name, values))
    for name, values in bit_or.items():
        changes[name] = F(name).bitor(by_pk(name, values))
    queryset.filter(pk__in=pks).update(**changes)


class ArrayUpdateQuerySet(models.QuerySet):
    """``bulk_update`` as one UPDATE … FROM unnest(arrays) on PostgreSQL.

    Django's own builds a CASE expression per field and row, which costs milliseconds of
    CPU per call in ingestion's hot path; the arrays cost one parameter per field.
    """

    def bulk_update(self, objs, fields, batch_size=None):
        objs = list(objs)
        if connection.vendor != "postgresql" or not objs or batch_size:
            return super().bulk_update(objs, fields, batch_size=batch_size)
        model_fields = [self.model._meta.get_field(name) for name in fields]
        columns = ", ".join(f.column for f in model_fields)
        arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in model_fields)
        sets = ", ".join(f"{f.column} = v.{f.column}" for f in model_fields)
        values = [
            [f.get_db_prep_save(getattr(obj, f.attname), connection) for obj in objs]
            for f in model_fields
        ]
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {self.model._meta.db_table} AS t SET {sets} "
                f"FROM unnest(%s::bigint[], {arrays}) AS v(id, {columns}) WHERE t.id = v.id",
                [[obj.pk for obj in objs], *values],
            )
            return cursor.rowcount


def copy_rows(model, rows: list[dict]):
    """Insert ``rows`` ({field attname: value}) into ``model``'s table: through COPY on
    PostgreSQL, bulk_create elsewhere. A unique constraint broken by any row fails the
    whole insert with Django's IntegrityError."""
    if connection.vendor != "postgresql":
        model.objects.bulk_create([model(**row) for row in rows])
        return
    fields = [f for f in model._meta.concrete_fields if not f.primary_key]
    names = [f.attname for f in fields]
    json_fields = {f.attname for f in fields if isinstance(f, models.JSONField)}
    columns = ", ".join(f.column for f in fields)
    # psycopg's own COPY API bypasses Django's error translation: a concurrent duplicate
    # must still surface as Django's IntegrityError, which ingestion retries.
    with connection.cursor() as cursor, connection.wrap_database_errors:
        with cursor.copy(f"COPY {model._meta.db_table} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([_json(row[n]) if n in json_fields else row.get(n) for n in names])


def _json(value):
    # COPY takes JSON as text; orjson writes it several times faster than json.dumps.
    return orjson.dumps(value).decode()


def keep_latest(model, rows: list[dict], *, unique: list[str], latest: str, step=None):
    """Insert ``rows`` ({field attname: value}, no two alike in their ``unique`` fields,
    which a unique constraint covers) into ``model``'s table, in one statement. Where a
    row with the same ``unique`` fields is stored already, its ``latest`` moment moves on
    to the new row's if that is later, and nothing else changes.

    On PostgreSQL, with ``step`` (a timedelta), a stored moment only moves on by that much
    or more, and the rows that would not move are neither written nor locked: most of a
    busy table's rows are then left alone by most calls. Rows go in the order of their
    ``unique`` fields, so that concurrent calls lock the rows they share in one order.
    """
    if not rows:
        return
    fields = [model._meta.get_field(name) for name in rows[0]]
    rows = sorted(rows, key=lambda row: [row[name] for name in unique])
    values = [[f.get_db_prep_save(row[f.attname], connection) for f in fields] for row in rows]
    table, target = model._meta.db_table, model._meta.get_field(latest).column
    columns = ", ".join(f.column for f in fields)
    keys = [model._meta.get_field(name).column for name in unique]
    upsert = f"ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {target} = EXCLUDED.{target} "
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
            moves = "({0} < {1} AND {0} + %s <= {1})"
            cursor.execute(
                f"INSERT INTO {table} ({columns}) "
                f"SELECT v.* FROM unnest({arrays}) AS v({columns}) "
                f"LEFT JOIN {table} AS t ON {' AND '.join(f't.{k} = v.{k}' for k in keys)} "
                f"WHERE t.{target} IS NULL OR {moves.format(f't.{target}', f'v.{target}')} "
                f"ORDER BY {', '.join(f'v.{k}' for k in keys)} "
                f"{upsert} WHERE {moves.format(f'{table}.{target}', f'EXCLUDED.{target}')}",
                [*(list(column) for column in zip(*values)), step or timedelta(0), step or timedelta(0)],
            )
            return
        _insert_values(cursor, table, columns, values, f"{upsert} WHERE {table}.{target} < EXCLUDED.{target}")


def add_up(model, rows: list[dict], *, unique: list[str], add=(), least=(), greatest=(), parent=None):
    """Insert ``rows`` ({field attname: value}, no two alike in their ``unique`` fields,
    which a unique constraint covers) into ``model``'s table, in one statement on
    PostgreSQL. Where a row with the same ``unique`` fields is stored already, its ``add``
    fields grow by the new row's, its ``least`` fields keep the smaller value and its
    ``greatest`` fields the larger. Rows go in the order of their ``unique`` fields, so
    that concurrent calls lock the rows they share in one order.

    ``parent`` names a foreign key leading ``unique`` (say ``person_id``): on PostgreSQL
    the rows it points to are locked FOR KEY SHARE first, in the same order, and rows
    whose parent is gone are left out. Foreign keys are checked at commit; without this,
    a transaction deleting the parent (which locks it FOR UPDATE, then deletes these
    rows) and one adding to a stored row would wait for each other.
    """
    if not rows:
        return
    fields = [model._meta.get_field(name) for name in rows[0]]
    rows = sorted(rows, key=lambda row: [row[name] for name in unique])
    values = [[f.get_db_prep_save(row[f.attname], connection) for f in fields] for row in rows]
    table = model._meta.db_table
    columns = ", ".join(f.column for f in fields)
    keys = ", ".join(model._meta.get_field(name).column for name in unique)
    smaller, larger = ("LEAST", "GREATEST") if connection.vendor == "postgresql" else ("MIN", "MAX")
    updates = [f"{c} = {table}.{c} + EXCLUDED.{c}" for c in add]
    updates += [f"{c} = {smaller}({table}.{c}, EXCLUDED.{c})" for c in least]
    updates += [f"{c} = {larger}({table}.{c}, EXCLUDED.{c})" for c in greatest]
    upsert = f"ON CONFLICT ({keys}) DO UPDATE SET {', '.join(updates)}"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{f.db_type(connection)}[]" for f in fields)
            select = f"SELECT v.* FROM unnest({arrays}) AS v({columns})"
            if parent:
                parent_table = model._meta.get_field(parent).related_model._meta.db_table
                column = model._meta.get_field(parent).column
                select += (
                    f" JOIN {parent_table} AS parent ON parent.id = v.{column} "
                    f"ORDER BY {', '.join(f'v.{model._meta.get_field(n).column}' for n in unique)} "
                    f"FOR KEY SHARE OF parent"
                )
            cursor.execute(
                f"INSERT INTO {table} ({columns}) {select} {upsert}",
                [list(column) for column in zip(*values)],
            )
            return
        _insert_values(cursor, table, columns, values, upsert)


def _insert_values(cursor, table: str, columns: str, values: list[list], suffix: str):
    """INSERT ``values`` (rows of ``columns``) with ``suffix`` (an ON CONFLICT clause), in
    as many statements as SQLite's limit of 32,766 parameters a statement needs."""
    per_statement = 32_000 // len(values[0])
    row_sql = "(" + ", ".join(["%s"] * len(values[0])) + ")"
    for start in range(0, len(values), per_statement):
        part = values[start : start + per_statement]
        cursor.execute(
            f"INSERT INTO {table} ({columns}) VALUES {', '.join([row_sql] * len(part))} {suffix}",
            [value for row in part for value in row],
        )
