"""Database resolution: URL normalisation and the embedded server."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from monitors.db import (
    DatabaseUnavailable,
    check_connection,
    embedded_url,
    migrate,
    normalize_url,
    stop_embedded,
)


def test_urls_get_the_psycopg_driver() -> None:
    assert normalize_url("postgresql://u@h/db").startswith("postgresql+psycopg://")
    assert normalize_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    with pytest.raises(ValueError, match="PostgreSQL only"):
        normalize_url("sqlite:///x.db")


def test_unreachable_server_is_a_clear_error() -> None:
    with pytest.raises(DatabaseUnavailable, match="cannot reach PostgreSQL at"):
        check_connection("postgresql+psycopg://nobody@127.0.0.1:9/none")


def test_embedded_server_starts_and_migrates() -> None:
    # Not under tmp_path: every pytest session run as root makes /tmp/pytest-of-root private
    # again, and the embedded server then runs as its own user (pgserver's rule for root).
    tmp_path = Path(tempfile.mkdtemp(prefix="veille-embedded-"))
    url = embedded_url(tmp_path / "data")
    assert (tmp_path / "data" / "pgdata").is_dir()
    migrate(url)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(conn.scalars(sa.text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")))
            version = conn.scalar(sa.text("SELECT version()"))
    finally:
        engine.dispose()
        stop_embedded(tmp_path / "data")
        shutil.rmtree(tmp_path, ignore_errors=True)
    assert {"sources", "url_queue", "articles", "fetch_log", "sightings"} <= tables
    assert "PostgreSQL" in (version or "")
