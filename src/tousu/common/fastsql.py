"""Hot-path SQL built once per process: the INSERTs of the complaint registration path.

The ORM compiles every ``create()``/``bulk_create()`` afresh, which costs several times the
statement itself on this path. ``insert_rows`` writes the same columns with the same values
(each field prepares its own value, ``auto_now_add`` included) from SQL text built once per model
and row count, and sets the new primary keys on the objects. ``insert_tree`` writes a new row and
the new rows that point to it (a case, its events and its clocks): one statement on PostgreSQL,
one INSERT per model elsewhere. Both take every column from the model's metadata
(``_meta.concrete_fields``) and every value from the unsaved objects, whose constructors applied
the field defaults: a new column needs no change here (ADR 0013). Only for plain models without
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


_TREE_SQL: dict[tuple[str, type[Model], tuple[tuple[type[Model], int], ...], bool], str] = {}
_PARENT_FK: dict[tuple[type[Model], type[Model]], Field[Any, Any]] = {}


def _parent_fk(child: type[Model], parent: type[Model]) -> Field[Any, Any]:
    """The one foreign key of ``child`` to ``parent`` (how a child row points to its new parent)."""
    key = (child, parent)
    fk = _PARENT_FK.get(key)
    if fk is None:
        found = [f for f in child._meta.concrete_fields if f.many_to_one and f.related_model is parent]
        if len(found) != 1:
            raise TypeError(f"{child.__name__} needs exactly one foreign key to {parent.__name__}")
        fk = _PARENT_FK[key] = found[0]
    return fk


def _groups(children: Sequence[Model]) -> list[tuple[type[Model], list[Model]]]:
    """The children by model, in the order each model first appears (rows keep their order)."""
    groups: dict[type[Model], list[Model]] = {}
    for child in children:
        groups.setdefault(type(child), []).append(child)
    return list(groups.items())


def _tree_sql_postgresql(
    conn: BaseDatabaseWrapper,
    parent: type[Model],
    shape: tuple[tuple[type[Model], int], ...],
    skip_conflicts: bool,
) -> str:
    """One statement: the parent's INSERT … RETURNING its key, then one INSERT per child model
    whose rows take that key (data-modifying CTEs); it answers the new key, or no row when the
    parent was skipped (``ON CONFLICT DO NOTHING``), and then no child is written either."""
    key = (conn.vendor, parent, shape, skip_conflicts)
    sql = _TREE_SQL.get(key)
    if sql is not None:
        return sql
    quote = conn.ops.quote_name
    pk = quote(parent._meta.pk.column)

    def columns(fields: list[Field[Any, Any]]) -> str:
        return ", ".join(quote(f.column) for f in fields)

    fields = insert_fields(parent)
    parts = [
        f"p AS (INSERT INTO {quote(parent._meta.db_table)} ({columns(fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
        f"{' ON CONFLICT DO NOTHING' if skip_conflicts else ''} RETURNING {pk})"
    ]
    for i, (model, count) in enumerate(shape):
        fk = _parent_fk(model, parent)
        fields = insert_fields(model)
        # Typed: a VALUES list has no target column to take its types from.
        one = ", ".join(f"p.{pk}" if f is fk else f"%s::{f.db_type(conn)}" for f in fields)
        parts.append(
            f"c{i} AS (INSERT INTO {quote(model._meta.db_table)} ({columns(fields)}) "
            f"SELECT v.* FROM p CROSS JOIN LATERAL (VALUES {', '.join([f'({one})'] * count)}) AS v)"
        )
    sql = _TREE_SQL[key] = f"WITH {', '.join(parts)} SELECT {pk} FROM p"
    return sql


def insert_tree(parent: Model, children: Sequence[Model], *, skip_conflicts: bool = False) -> bool:
    """INSERT the unsaved ``parent`` and the unsaved ``children`` (rows of any models with one
    foreign key to the parent's model, which is set to the new row) and set the parent's key.
    On PostgreSQL one statement; elsewhere one INSERT for the parent and one per child model, which
    also set the children's keys. With ``skip_conflicts`` a parent that would break a unique
    constraint is not written, nor are its children: then False, and nothing was written."""
    conn = connections[DEFAULT_DB_ALIAS]
    model = type(parent)
    groups = [(rows, _parent_fk(child_model, model)) for child_model, rows in _groups(children)]
    if conn.vendor != "postgresql":
        if insert_rows([parent], skip_conflicts=skip_conflicts) != 1:
            return False
        for rows, fk in groups:
            for row in rows:
                setattr(row, fk.name, parent)
            insert_rows(rows)
        return True
    shape = tuple((type(rows[0]), len(rows)) for rows, _fk in groups)
    sql = _tree_sql_postgresql(conn, model, shape, skip_conflicts)
    params = row_params(conn, parent)
    for rows, fk in groups:
        keep = [f is not fk for f in insert_fields(type(rows[0]))]
        for row in rows:
            params += [v for v, k in zip(row_params(conn, row), keep, strict=True) if k]
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchone()
    if found is None:
        return False
    setattr(parent, model._meta.pk.attname, found[0])
    parent._state.adding = False
    parent._state.db = conn.alias
    for rows, fk in groups:
        for row in rows:
            setattr(row, fk.name, parent)
    return True
