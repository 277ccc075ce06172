"""Multi-row writes as one fixed statement: ``INSERT ... SELECT FROM json_to_recordset``.

The rows travel as one JSON document instead of a VALUES list of N rows: the SQL text is
the same for any number of rows (built, parsed and planned once), and encoding the rows
is one ``json.dumps`` in C, several times cheaper than binding N x columns parameters.
Used where the pipeline writes a row per source or per entry.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.sql.elements import TextClause


def recordset_insert(table: str, columns: dict[str, str], tail: str = "") -> TextClause:
    """The statement inserting into ``table`` the rows of the ``:rows`` JSON array;
    ``columns`` maps each column to its PostgreSQL type, ``tail`` is e.g. ``ON CONFLICT``."""
    names = ", ".join(columns)
    record = ", ".join(f"{name} {sqltype}" for name, sqltype in columns.items())
    return text(
        f"INSERT INTO {table} ({names}) SELECT {names} "
        f"FROM json_to_recordset(CAST(:rows AS json)) AS r({record}) {tail}"
    )


def _encode(value: object) -> str:
    if isinstance(value, datetime):
        return value.isoformat()  # with its offset: read back as the same timestamptz
    raise TypeError(f"cannot write {type(value).__name__} in a row")


def as_rows(rows: list[dict[str, Any]]) -> dict[str, str]:
    """The statement's parameters for ``rows`` (dicts keyed by column)."""
    return {"rows": json.dumps(rows, default=_encode, ensure_ascii=False)}
