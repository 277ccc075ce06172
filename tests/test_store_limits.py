"""A value over one of PostgreSQL's limits (an index row over 2704 bytes, a tsvector over
1 MB): psycopg raises ProgramLimitExceeded, an OperationalError like a lost connection. The
page (or the source, for a poll) fails once with the cause, like a value the database rejects;
before, the ingest worker took it for a lost database: it waited, handed the page back, and
failed on it again on every run.
"""

from __future__ import annotations

import random
import string
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.site import LocalSite, run_twice_with_one_odd_page


def _noise(n: int, seed: int = 7) -> str:
    """Letters that do not compress (PostgreSQL compresses a long index value first)."""
    rnd = random.Random(seed)
    return "".join(rnd.choice(string.ascii_letters) for _ in range(n))


@pytest.mark.usefixtures("prefect_harness")
def test_a_page_over_an_index_limit_is_failed_once_and_the_run_goes_on(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever lets an over-long value through to an index (here the page's URL, kept in
    sightings): the page is failed with its cause, once, like a value PostgreSQL rejects, not
    taken for a lost database and tried again on every run."""

    def long_url(article: Any) -> None:
        article.url = f"{article.url}?session={_noise(4000)}"

    odd_url = run_twice_with_one_odd_page(site, tmp_path, monkeypatch, long_url)
    with clean_db.connect() as conn:
        stored = conn.scalar(sa.text("SELECT count(*) FROM articles"))
        state, reason = conn.execute(
            sa.text("SELECT state, reason FROM url_queue WHERE url = :u"), {"u": odd_url}
        ).one()
    assert stored == 4
    assert state == "failed" and reason.startswith("could not store this page: OperationalError: index row")
