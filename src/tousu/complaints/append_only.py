"""The case event table is append-only in the database too (docs/adr/0009).

A trigger on ``complaints_complaintevent`` refuses every UPDATE that changes anything but
``pending_dispatch`` (the outbox flag the worker clears), and every DELETE while the table is
listed in the guard table ``tousu_append_only``. The guard is a plain table that Django does not
manage, so ``flush`` leaves it alone; PostgreSQL's ``flush`` is a TRUNCATE, which fires no row
trigger. Only the test suite lifts the guard, around the DELETE-based flush of SQLite
transactional tests (``tests/conftest.py``). Both refusals are integrity errors.

One exception (docs/adr/0021): erasing a customer's personal data (PIPL) rewrites the ``payload``
of their cases' events, and nothing else. The trigger allows a payload change only while the
marker table ``tousu_redaction`` has a row, which the erasure service writes and removes inside its
own transaction (``redaction_open``/``redaction_close``), so no other transaction ever sees it.
"""

from __future__ import annotations

from typing import Any

GUARD_TABLE = "tousu_append_only"
EVENT_TABLE = "complaints_complaintevent"
# The columns that may change: the outbox flag only.
MUTABLE = ("pending_dispatch",)
# While this table has a row (inside the erasure's transaction only), ``payload`` may change too.
REDACTION_TABLE = "tousu_redaction"

_POSTGRESQL = [
    f"CREATE TABLE IF NOT EXISTS {GUARD_TABLE} (table_name text PRIMARY KEY)",
    f"INSERT INTO {GUARD_TABLE} (table_name) VALUES ('{EVENT_TABLE}') ON CONFLICT DO NOTHING",
    f"CREATE TABLE IF NOT EXISTS {REDACTION_TABLE} (table_name text PRIMARY KEY)",
    f"""
    CREATE OR REPLACE FUNCTION complaints_event_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            IF EXISTS (SELECT 1 FROM {GUARD_TABLE} WHERE table_name = TG_TABLE_NAME) THEN
                RAISE EXCEPTION 'case events are append-only: DELETE refused'
                    USING ERRCODE = 'restrict_violation';
            END IF;
            RETURN OLD;
        END IF;
        IF (to_jsonb(NEW) - 'pending_dispatch') IS DISTINCT FROM (to_jsonb(OLD) - 'pending_dispatch')
           AND NOT (
               (to_jsonb(NEW) - 'pending_dispatch' - 'payload') IS NOT DISTINCT FROM
               (to_jsonb(OLD) - 'pending_dispatch' - 'payload')
               AND EXISTS (SELECT 1 FROM {REDACTION_TABLE} WHERE table_name = TG_TABLE_NAME)
           ) THEN
            RAISE EXCEPTION 'case events are append-only: only pending_dispatch may change'
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    f"DROP TRIGGER IF EXISTS complaints_event_append_only ON {EVENT_TABLE}",
    f"""
    CREATE TRIGGER complaints_event_append_only BEFORE UPDATE OR DELETE ON {EVENT_TABLE}
    FOR EACH ROW EXECUTE FUNCTION complaints_event_append_only()
    """,
]

_POSTGRESQL_DROP = [
    f"DROP TRIGGER IF EXISTS complaints_event_append_only ON {EVENT_TABLE}",
    "DROP FUNCTION IF EXISTS complaints_event_append_only()",
    f"DROP TABLE IF EXISTS {GUARD_TABLE}",
    f"DROP TABLE IF EXISTS {REDACTION_TABLE}",
]


def _sqlite(columns: list[str]) -> list[str]:
    # SQLite has no row constructor comparison in triggers worth relying on: compare each column
    # (IS NOT, so NULLs compare as values).
    changed = " OR ".join(
        f'NEW."{c}" IS NOT OLD."{c}"' for c in columns if c not in MUTABLE and c != "payload"
    )
    redacting = f'EXISTS (SELECT 1 FROM "{REDACTION_TABLE}" WHERE "table_name" = \'{EVENT_TABLE}\')'
    changed = f'{changed} OR (NEW."payload" IS NOT OLD."payload" AND NOT {redacting})'
    return [
        f'CREATE TABLE IF NOT EXISTS "{GUARD_TABLE}" ("table_name" text PRIMARY KEY)',
        f'CREATE TABLE IF NOT EXISTS "{REDACTION_TABLE}" ("table_name" text PRIMARY KEY)',
        f'INSERT OR IGNORE INTO "{GUARD_TABLE}" ("table_name") VALUES (\'{EVENT_TABLE}\')',
        'DROP TRIGGER IF EXISTS "complaints_event_no_update"',
        f"""
        CREATE TRIGGER "complaints_event_no_update" BEFORE UPDATE ON "{EVENT_TABLE}"
        FOR EACH ROW WHEN {changed}
        BEGIN SELECT RAISE(ABORT, 'case events are append-only: only pending_dispatch may change'); END
        """,
        'DROP TRIGGER IF EXISTS "complaints_event_no_delete"',
        f"""
        CREATE TRIGGER "complaints_event_no_delete" BEFORE DELETE ON "{EVENT_TABLE}"
        FOR EACH ROW WHEN EXISTS (SELECT 1 FROM "{GUARD_TABLE}" WHERE "table_name" = '{EVENT_TABLE}')
        BEGIN SELECT RAISE(ABORT, 'case events are append-only: DELETE refused'); END
        """,
    ]


_SQLITE_DROP = [
    'DROP TRIGGER IF EXISTS "complaints_event_no_update"',
    'DROP TRIGGER IF EXISTS "complaints_event_no_delete"',
    f'DROP TABLE IF EXISTS "{GUARD_TABLE}"',
    f'DROP TABLE IF EXISTS "{REDACTION_TABLE}"',
]


def install(apps: Any, schema_editor: Any) -> None:
    """Create the guard table and the triggers (a migration's forward step)."""
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        statements = _POSTGRESQL
    elif connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            columns = [c.name for c in connection.introspection.get_table_description(cursor, EVENT_TABLE)]
        statements = _sqlite(columns)
    else:
        return
    for sql in statements:
        schema_editor.execute(sql)


def uninstall(apps: Any, schema_editor: Any) -> None:
    """Remove them again (the migration's backward step)."""
    vendor = schema_editor.connection.vendor
    for sql in _POSTGRESQL_DROP if vendor == "postgresql" else _SQLITE_DROP if vendor == "sqlite" else []:
        schema_editor.execute(sql)


def guard_lift(connection: Any) -> None:
    """Allow DELETEs of events (only for the test suite's flush of SQLite transactional tests)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {GUARD_TABLE} WHERE table_name = %s", [EVENT_TABLE])


def guard_set(connection: Any) -> None:
    """Refuse DELETEs of events again."""
    sql = (
        f"INSERT INTO {GUARD_TABLE} (table_name) VALUES (%s) ON CONFLICT DO NOTHING"
        if connection.vendor == "postgresql"
        else f"INSERT OR IGNORE INTO {GUARD_TABLE} (table_name) VALUES (%s)"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [EVENT_TABLE])


def redaction_open(connection: Any) -> None:
    """Allow the events' ``payload`` to be rewritten, until ``redaction_close``: only for erasure,
    inside its transaction (the row is never committed)."""
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {REDACTION_TABLE} (table_name) VALUES (%s)", [EVENT_TABLE])


def redaction_close(connection: Any) -> None:
    """Refuse payload changes again."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {REDACTION_TABLE} WHERE table_name = %s", [EVENT_TABLE])
