"""Helpers shared by the benchmark scripts (run as scripts: ``python bench/NAME.py``)."""

from __future__ import annotations


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
