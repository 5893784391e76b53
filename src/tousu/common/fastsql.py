"""Hot-path SQL built once per process: the INSERTs of the complaint registration path.

The ORM compiles every ``create()``/``bulk_create()`` afresh, which costs several times the
statement itself on this path. ``insert_rows`` writes the same columns with the same values
(each field prepares its own value, ``auto_now_add`` included) from SQL text built once per model
and row count, and sets the new primary keys on the objects. Only for plain models without
signals or custom ``save()`` (the case, its events and clocks, customers and identities).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model

_Prep = Callable[[Model], Any]
_SQL: dict[tuple[str, type[Model], int, bool], str] = {}
_PREP: dict[tuple[str, type[Model]], list[_Prep]] = {}
_PLAIN = (
    models.CharField,  # also Slug, Email
    models.TextField,
    models.BooleanField,
    models.IntegerField,  # also the small, big and positive ones
    models.ForeignKey,  # the id of the related row
)


def _preparer(field: Field[Any, Any], conn: BaseDatabaseWrapper) -> _Prep:
    """How to turn the field's value on a new object into the INSERT parameter, decided once.
    Plain values go as they are (what the ORM sends for them); times go through the backend's
    adapter (after ``auto_now``); anything else through the field's own ``get_db_prep_save``."""
    attname = field.attname
    if isinstance(field, models.DateTimeField):
        adapt = conn.ops.adapt_datetimefield_value
        if field.auto_now or field.auto_now_add:
            return lambda obj: adapt(field.pre_save(obj, True))
        return lambda obj: adapt(getattr(obj, attname))
    if isinstance(field, _PLAIN) and type(field).get_db_prep_save is Field.get_db_prep_save:
        return lambda obj: getattr(obj, attname)
    return lambda obj: field.get_db_prep_save(field.pre_save(obj, True), conn)


def _insert_sql(conn: BaseDatabaseWrapper, model: type[Model], rows: int, skip_conflicts: bool) -> str:
    key = (conn.vendor, model, rows, skip_conflicts)
    sql = _SQL.get(key)
    if sql is None:
        meta = model._meta
        fields = [f for f in meta.concrete_fields if not f.primary_key]
        quote = conn.ops.quote_name
        one = "(" + ", ".join(["%s"] * len(fields)) + ")"
        sql = _SQL[key] = (
            f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
            f"VALUES {', '.join([one] * rows)}"
            f"{' ON CONFLICT DO NOTHING' if skip_conflicts else ''} RETURNING {quote(meta.pk.column)}"
        )
    return sql


def _preparers(conn: BaseDatabaseWrapper, model: type[Model]) -> list[_Prep]:
    key = (conn.vendor, model)
    preps = _PREP.get(key)
    if preps is None:
        fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        preps = _PREP[key] = [_preparer(f, conn) for f in fields]
    return preps


def row_params(conn: BaseDatabaseWrapper, obj: Model) -> list[Any]:
    """The INSERT parameters of one new object, in the order of ``insert_columns``."""
    return [prep(obj) for prep in _preparers(conn, type(obj))]


def insert_fields(model: type[Model]) -> list[Field[Any, Any]]:
    """The fields ``insert_rows`` and ``row_params`` write, in order (every column but the key)."""
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def insert_rows(objs: Sequence[Model], *, skip_conflicts: bool = False) -> int:
    """INSERT these unsaved objects of one model in one statement and set their primary keys.
    Returns how many rows were written.

    With ``skip_conflicts`` a row that would break a unique constraint is not written
    (``ON CONFLICT DO NOTHING``); the keys are then set only when every row was written."""
    if not objs:
        return 0
    model = type(objs[0])
    conn = connections[DEFAULT_DB_ALIAS]
    sql = _insert_sql(conn, model, len(objs), skip_conflicts)
    preps = _preparers(conn, model)
    params = [prep(obj) for obj in objs for prep in preps]
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        ids = cursor.fetchall()
    if len(ids) == len(objs):
        pk = model._meta.pk.attname
        for obj, (new_id,) in zip(objs, ids, strict=True):
            setattr(obj, pk, new_id)
            obj._state.adding = False
            obj._state.db = conn.alias
    return len(ids)
