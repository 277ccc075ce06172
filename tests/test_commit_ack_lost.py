"""A page's store whose COMMIT reached the server but whose answer was lost with the
connection (the database stopped at that moment): the page is stored, and the run counts it.
Before, the worker took the store for failed, waited for the database, and went on: the
page was in the archive but missing from the run's counts ("4 stored" for 5 articles), a
cause of tests/test_database_faults.py's rare failure (`_stored(run.stdout) == PAGES`)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa

from tests.site import LocalSite, seed_site, write_sources


@pytest.mark.usefixtures("prefect_harness")
def test_a_store_committed_whose_answer_was_lost_is_counted(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import flows.queue_drain

    pages = seed_site(site)
    odd_url = f"{site.base}/{pages[0].spec.slug}"
    real = flows.queue_drain.store_or_fail
    lost: list[str] = []

    def answer_lost(write: Any, out: Any, *args: Any) -> Any:
        result = real(write, out, *args)  # committed
        if out.item.url == odd_url and not lost:
            lost.append(out.item.url)
            raise sa.exc.OperationalError(
                "COMMIT",
                {},
                psycopg.OperationalError("server closed the connection unexpectedly"),
                connection_invalidated=True,
            )
        return result

    monkeypatch.setattr(flows.queue_drain, "store_or_fail", answer_lost)
    code, stdout, output = run_seeds(site, tmp_path)
    assert lost == [odd_url]
    assert code == 1, output  # the interruption is reported: partly done
    assert "recovered" in output, output
    with clean_db.connect() as conn:
        articles = conn.scalar(sa.text("SELECT count(*) FROM articles"))
        states: dict[str, int] = dict(
            conn.execute(sa.text("SELECT state, count(*) FROM url_queue GROUP BY state")).all()
        )
    assert articles == 5 and states == {"fetched": 5}
    stored = re.search(r"(\d+) stored", stdout)
    assert stored and int(stored.group(1)) == 5, output  # each once, the odd page included
    assert len([h for h in site.log if h["path"] == "/" + pages[0].spec.slug]) == 1  # not fetched again


def run_seeds(site: LocalSite, tmp_path: Path) -> tuple[int, str, str]:
    """`veille run` over the seeded site's feed: its exit code, its stdout, all it said."""
    from flows.cli import main

    sources = write_sources(
        tmp_path / "sources.toml",
        [{"name": "Seeds", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}],
    )
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["run", "--sources", str(sources)])
    return code, out.getvalue(), out.getvalue() + err.getvalue()
