"""Hot-path SQL built once per process: the INSERTs of the complaint registration path.

The ORM compiles every ``create()``/``bulk_create()`` afresh, which costs several times the
statement itself on this path. ``insert_rows`` writes the same columns with the same values
(each field prepares its own value, ``auto_now_add`` included) from SQL text built once per model
and row count, and sets the new primary keys on the objects. Only for plain models without
signals or custom ``save()`` (the case, its events and clocks, customers and identities).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection
from django.db.models import Field, Model

_SQL: dict[tuple[str, type[Model], int, bool], tuple[str, list[Field[Any, Any]]]] = {}


def _insert_sql(model: type[Model], rows: int, skip_conflicts: bool) -> tuple[str, list[Field[Any, Any]]]:
    key = (connection.vendor, model, rows, skip_conflicts)
    cached = _SQL.get(key)
    if cached is not None:
        return cached
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    one = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES {', '.join([one] * rows)}"
        f"{' ON CONFLICT DO NOTHING' if skip_conflicts else ''} RETURNING {quote(meta.pk.column)}"
    )
    _SQL[key] = (sql, fields)
    return sql, fields


def insert_rows(objs: Sequence[Model], *, skip_conflicts: bool = False) -> int:
    """INSERT these unsaved objects of one model in one statement and set their primary keys.
    Returns how many rows were written.

    With ``skip_conflicts`` a row that would break a unique constraint is not written
    (``ON CONFLICT DO NOTHING``); the keys are then set only when every row was written."""
    if not objs:
        return 0
    model = type(objs[0])
    sql, fields = _insert_sql(model, len(objs), skip_conflicts)
    params: list[Any] = []
    for obj in objs:
        params += [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = cursor.fetchall()
    if len(ids) == len(objs):
        pk = model._meta.pk.attname
        for obj, (new_id,) in zip(objs, ids, strict=True):
            setattr(obj, pk, new_id)
            obj._state.adding = False
            obj._state.db = connection.alias
    return len(ids)
