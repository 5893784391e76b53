"""Helpers shared by the benchmark scripts (run as scripts: ``python bench/NAME.py``)."""

from __future__ import annotations

import re

_TABLE_AFTER = {"SELECT": r"\bFROM", "DELETE": r"\bFROM", "INSERT": r"\bINTO", "UPDATE": r"^\s*UPDATE"}


def statement_kind(sql: str) -> str:
    """``INSERT complaints_complaint``, ``SELECT sla_slaclock``, ``SAVEPOINT``, ``NOTIFY``…"""
    words = sql.split(None, 1)
    verb = words[0].upper() if words else "?"
    pattern = _TABLE_AFTER.get(verb)
    if pattern is None:
        return verb
    match = re.search(pattern + r'\s+"?(\w+)', sql, re.IGNORECASE)
    return f"{verb} {match.group(1)}" if match else verb


def recreate_postgres(url: str) -> None:
    """Drop and create the benchmark database, connected to the ``postgres`` maintenance database."""
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    name = conninfo_to_dict(url).get("dbname")
    if not name or name == "postgres":
        raise SystemExit(f"--pg-url must name a benchmark database other than 'postgres': {url}")
    with psycopg.connect(make_conninfo(url, dbname="postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(str(name))))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(str(name))))
