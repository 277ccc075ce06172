"""A write the database refused, in words: data it cannot store (:func:`unstorable`), as opposed
to a lost database, and the error in one line (:func:`store_error`).

Shared by the poll store (:mod:`monitors.archive.polls`), which records such a source's error
and goes on with the others, and the page store (:mod:`monitors.archive.articles`), which
settles such a page as failed.
"""

from __future__ import annotations

import orjson
import psycopg
from psycopg.errors import ProgramLimitExceeded
from sqlalchemy.exc import DataError

from monitors.errors import said

#: What data can fail to be stored with: the database rejects a value (DataError), or the value
#: cannot be sent at all (a lone surrogate psycopg cannot encode, orjson refusing it).
UNSTORABLE: tuple[type[Exception], ...] = (DataError, psycopg.DataError, UnicodeError, orjson.JSONEncodeError)


def unstorable(exc: BaseException) -> bool:
    """Whether ``exc`` says that the data cannot be stored (:data:`UNSTORABLE`, or a value over
    one of PostgreSQL's limits, e.g. an index row too large), as opposed to a lost database."""
    return isinstance(exc, UNSTORABLE) or isinstance(getattr(exc, "orig", None), ProgramLimitExceeded)


def store_error(exc: Exception) -> str:
    """A store failure in one bounded line: the driver's error and its DETAIL."""
    orig = getattr(exc, "orig", None) or exc
    lines = [line for line in str(orig).splitlines() if line.strip()][:2]
    return said(orig, message="; ".join(line.strip() for line in lines))
