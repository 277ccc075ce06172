"""Signatures of an older scheme (a Chinese or Japanese article stored before its runs of
characters were cut into bigrams, migration 0041): a later copy was not linked to it, and
nothing recomputed them. The daily maintenance does, in batches, once."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import monitors.group.dedup as dedup
from monitors.archive.articles import store_article
from monitors.group.dedup import SIGNATURE_SCHEME, band_keys, signature
from monitors.group.neardup import resign_old_signatures
from tests.test_cjk_grouping import METRO, METRO_EDITED
from tests.test_neardup_store import _outcome, _source


def _old_signature(text: str, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The signature as it was made before the bigrams: a run of such characters one word."""
    with monkeypatch.context() as m:
        m.setattr(dedup, "split_words", lambda pattern, line: pattern.findall(line))
        return signature(text)


def _store(engine: sa.Engine, source: int, url: str, text: str) -> int:
    with Session(engine) as session, session.begin():
        status, article_id = store_article(session, _outcome(source, url, text))
    assert status == "stored"
    return article_id


def _as_stored_before(engine: sa.Engine, article_id: int, old: list[int]) -> None:
    """The article as a veille before the change left it: old signature, old band keys."""
    keys = band_keys(old)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM article_bands WHERE article_id = :id"), {"id": article_id})
        conn.execute(
            sa.text(
                "INSERT INTO article_bands (band, key, article_id) SELECT b, k, :id"
                " FROM unnest(CAST(:bands AS smallint[]), CAST(:keys AS bigint[])) AS q(b, k)"
            ),
            {"id": article_id, "bands": [b for b, _ in keys], "keys": [k for _, k in keys]},
        )
        conn.execute(
            sa.text("UPDATE articles SET signature = :sig, signature_scheme = 1 WHERE id = :id"),
            {"id": article_id, "sig": old},
        )


def _state(engine: sa.Engine, article_id: int) -> tuple[list[int], int, set[tuple[int, int]], int | None]:
    with engine.connect() as conn:
        sig, scheme, cluster = conn.execute(
            sa.text("SELECT signature, signature_scheme, cluster_id FROM articles WHERE id = :id"),
            {"id": article_id},
        ).one()
        bands = {
            (b, k)
            for b, k in conn.execute(
                sa.text("SELECT band, key FROM article_bands WHERE article_id = :id"), {"id": article_id}
            )
        }
    return sig, scheme, bands, cluster


def test_old_signatures_are_recomputed_once_in_batches_and_a_later_copy_links(
    clean_db: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An article signed with the old words: a copy stored then is not linked to it (what the
    recompute is for); resign_old_signatures gives it the current signature and band keys,
    reports its progress, finds nothing the second time, and the next copy links to it."""
    with Session(clean_db) as session, session.begin():
        source = _source(session, "Metro")
    first = _store(clean_db, source, "https://a.example/metro", METRO)
    old = _old_signature(METRO, monkeypatch)
    assert old != signature(METRO)
    _as_stored_before(clean_db, first, old)
    copy = _store(clean_db, source, "https://b.example/metro", METRO_EDITED)
    assert _state(clean_db, copy)[3] is None, "linked through the old signature: nothing to show"
    assert _state(clean_db, copy)[1] == SIGNATURE_SCHEME

    seen: list[tuple[str, int]] = []
    done = resign_old_signatures(
        clean_db,
        batch=1,
        on_start=lambda n: seen.append(("start", n)),
        on_batch=lambda n: seen.append(("batch", n)),
    )
    assert done == 1 and seen == [("start", 1), ("batch", 1)]
    sig, scheme, bands, _ = _state(clean_db, first)
    assert (sig, scheme, bands) == (signature(METRO), SIGNATURE_SCHEME, set(band_keys(signature(METRO))))
    assert resign_old_signatures(clean_db) == 0  # idempotent

    later = _store(clean_db, source, "https://c.example/metro", METRO_EDITED + "\n（完）")
    assert _state(clean_db, later)[3] == first


@pytest.mark.usefixtures("prefect_harness")
def test_the_daily_maintenance_recomputes_old_signatures(
    clean_db: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """veille-maintenance/daily runs the recompute as a step: its count in the run's result and
    report, none left after, none the next day."""
    from flows.maintenance import maintenance_flow

    with Session(clean_db) as session, session.begin():
        source = _source(session, "Metro")
    first = _store(clean_db, source, "https://a.example/metro", METRO)
    _as_stored_before(clean_db, first, _old_signature(METRO, monkeypatch))
    state = maintenance_flow(return_state=True)
    assert state.is_completed() and state.result()["resigned"] == 1, state
    assert _state(clean_db, first)[:2] == (signature(METRO), SIGNATURE_SCHEME)
    assert maintenance_flow(return_state=True).result()["resigned"] == 0
