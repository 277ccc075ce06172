"""Multi-row writes as one fixed statement: ``INSERT ... SELECT FROM json_to_recordset``.

The rows travel as one JSON document instead of a VALUES list of N rows: the SQL text is
the same for any number of rows (built, parsed and planned once), and encoding the rows
is one ``orjson.dumps`` in native code, several times cheaper than binding N x columns
parameters. Used where the pipeline writes a row per source or per entry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
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


def recordset_update(
    table: str, key: str, columns: dict[str, str], *, if_set: tuple[str, ...] = (), extra: str = ""
) -> TextClause:
    """The statement updating the rows of ``table`` whose ``key`` (an entry of ``columns``)
    is in the ``:rows`` JSON array to the rows' values; a column of ``if_set`` keeps its
    value where the row's is null, ``extra`` adds assignments (e.g. ``updated_at = now()``)."""
    record = ", ".join(f"{name} {sqltype}" for name, sqltype in columns.items())
    assignments = [
        f"{name} = COALESCE(r.{name}, t.{name})" if name in if_set else f"{name} = r.{name}"
        for name in columns
        if name != key
    ]
    return text(
        f"UPDATE {table} AS t SET {', '.join([*assignments, extra] if extra else assignments)} "
        f"FROM json_to_recordset(CAST(:rows AS json)) AS r({record}) WHERE t.{key} = r.{key}"
    )


def _encode(value: object) -> str:
    """What orjson does not write itself (it writes datetimes as ``isoformat()`` does)."""
    if isinstance(value, datetime):
        return value.isoformat()  # with its offset: read back as the same timestamptz
    raise TypeError(f"cannot write {type(value).__name__} in a row")


def as_rows(rows: list[dict[str, Any]]) -> dict[str, str]:
    """The statement's parameters for ``rows`` (dicts keyed by column)."""
    # orjson rather than json.dumps: datetimes written natively, not through a Python
    # callback each (bench/README.md, "the sources' health in one statement")
    return {"rows": orjson.dumps(rows, default=_encode).decode()}
