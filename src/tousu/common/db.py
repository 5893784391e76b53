"""Database helpers that do not belong to any domain: vendor checks and fast bulk inserts."""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, models


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


def bulk_insert_rows(model: type[models.Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert raw rows as fast as the database allows, in the caller's transaction.

    ``columns`` are column names (``customer_id``, not ``customer``); each row holds one Python value
    per column, as the model field holds it (aware datetimes, ``Decimal``, a dict or list for JSON).
    No defaults, signals or validation: the caller provides every value, ids included.
    PostgreSQL uses a binary COPY typed from the table itself; SQLite uses executemany.
    Returns the number of rows written.
    """
    table = connection.ops.quote_name(model._meta.db_table)
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    count = 0
    with connection.cursor() as cursor:
        if is_postgres():
            raw = cursor.cursor  # the psycopg cursor under Django's wrapper
            raw.execute(f"SELECT {quoted} FROM {table} LIMIT 0")
            types = [column.type_code for column in raw.description or ()]
            with raw.copy(f"COPY {table} ({quoted}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(types)
                write_row = copy.write_row
                for row in rows:
                    write_row(row)
                    count += 1
            return count
        converters = _sqlite_converters(model, columns)
        placeholders = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {table} ({quoted}) VALUES ({placeholders})"
        batch: list[Sequence[Any]] = []
        for row in rows:
            if converters:
                values = list(row)
                for i, convert in converters:
                    if values[i] is not None:
                        values[i] = convert(values[i])
                row = values
            batch.append(row)
            if len(batch) >= 5000:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


def _sqlite_converters(
    model: type[models.Model], columns: Sequence[str]
) -> list[tuple[int, Callable[[Any], Any]]]:
    """What SQLite cannot take as is: datetimes (stored as UTC text), decimals, JSON, booleans."""
    by_column = {f.column: f for f in model._meta.concrete_fields}
    ops = connection.ops
    converters: list[tuple[int, Callable[[Any], Any]]] = []
    for i, column in enumerate(columns):
        field = by_column.get(column)
        if isinstance(field, models.DateTimeField):
            converters.append((i, ops.adapt_datetimefield_value))
        elif isinstance(field, models.DateField):
            converters.append((i, ops.adapt_datefield_value))
        elif isinstance(field, (models.DecimalField, models.JSONField)):
            converters.append((i, partial(_prep_save, field)))
        elif isinstance(field, models.BooleanField):
            converters.append((i, int))
    return converters


def _prep_save(field: models.Field[Any, Any], value: Any) -> Any:
    return field.get_db_prep_save(value, connection)


def reset_sequence(model: type[models.Model]) -> None:
    """After inserting explicit ids, move PostgreSQL's id sequence past them (SQLite needs nothing):
    the next id handed out is the highest one in the table plus one."""
    if not is_postgres():
        return
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT setval(pg_get_serial_sequence(%s, 'id'), "
            f"COALESCE((SELECT MAX(id) FROM {connection.ops.quote_name(table)}), 0) + 1, false)",
            [table],
        )


@contextmanager
def exclusive(name: str) -> Iterator[bool]:
    """Hold a lock named ``name`` across processes and machines while the block runs; yields
    whether this process got it (it never waits: another holder means "someone else is doing it").

    PostgreSQL: a session-level advisory lock on this connection (released at the end of the
    block, or by the server when the process dies). SQLite (one machine): an exclusive ``flock`` on
    a file in ``TOUSU_DATA_DIR``, released by the kernel when the process dies.
    """
    key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)
    if is_postgres():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
            got = bool(cursor.fetchone()[0])
        try:
            yield got
        finally:
            if got:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
        return
    path = Path(settings.DATA_DIR) / f".lock-{key & 0xFFFFFFFF:08x}"
    with open(path, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
