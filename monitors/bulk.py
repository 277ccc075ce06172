"""Multi-row writes as one fixed statement: ``INSERT ... SELECT FROM unnest(arrays)``.

One array per column instead of a VALUES list of N rows: the SQL text is the same for any
number of rows, so it is built, parsed and planned once, and psycopg sends the arrays in
binary. Used where the pipeline writes a row per source or per entry.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.sql.elements import TextClause


def unnest_insert(table: str, columns: dict[str, str], tail: str = "") -> TextClause:
    """The statement inserting into ``table`` one row per array element; ``columns`` maps
    each column to its PostgreSQL type, ``tail`` is e.g. an ``ON CONFLICT`` clause."""
    arrays = ", ".join(f"CAST(:{name} AS {sqltype}[])" for name, sqltype in columns.items())
    return text(f"INSERT INTO {table} ({', '.join(columns)}) SELECT * FROM unnest({arrays}) {tail}")


def as_columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Rows (dicts with the same keys) as one list per column: the statement's parameters."""
    return {key: [row[key] for row in rows] for key in rows[0]}
