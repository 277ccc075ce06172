"""A value over one of PostgreSQL's limits (an index row over 2704 bytes, a tsvector over
1 MB): psycopg raises ProgramLimitExceeded, an OperationalError like a lost connection. The
page (or the source, for a poll) fails once with the cause, like a value the database rejects;
before, the ingest worker took it for a lost database: it waited, handed the page back, and
failed on it again on every run.
"""

from __future__ import annotations

import contextlib
import io
import random
import string
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from flows.cli import main
from tests.site import LocalSite, seed_site, write_sources


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
    import flows.pipeline

    pages = seed_site(site)
    odd_url = f"{site.base}/{pages[0].spec.slug}"
    real = flows.pipeline.process_item

    def odd(*args: Any, **kwargs: Any) -> Any:
        out = real(*args, **kwargs)
        if out.article is not None and out.item.url == odd_url:
            out.article.url = f"{odd_url}?session={_noise(4000)}"
        return out

    monkeypatch.setattr(flows.pipeline, "process_item", odd)
    sources = write_sources(
        tmp_path / "sources.toml",
        [{"name": "Seeds", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}],
    )
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["run", "--sources", str(sources)]) == 1  # partly done: one page failed
        assert main(["run", "--sources", str(sources)]) == 0  # not tried again
    with clean_db.connect() as conn:
        stored = conn.scalar(sa.text("SELECT count(*) FROM articles"))
        state, reason = conn.execute(
            sa.text("SELECT state, reason FROM url_queue WHERE url = :u"), {"u": odd_url}
        ).one()
    assert stored == 4
    assert state == "failed" and reason.startswith("could not store this page: OperationalError: index row")
