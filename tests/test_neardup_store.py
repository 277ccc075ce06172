"""Near-duplicates in the database: band-key lookup, cluster links, revisions, band locks."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from monitors.archive.articles import store_article
from monitors.archive.export import on_site_clock
from monitors.archive.models import Source
from monitors.group.dedup import THRESHOLD, band_keys, signature, similarity, text_hash
from monitors.group.neardup import LOCK_CLASS, link_and_index, lock_ids
from monitors.records import ArticleData, IngestOutcome, QueueItem
from tests.eval.make_dedup_pairs import Pair, build_pairs

EVAL = Path(__file__).parent / "eval"


def _pairs() -> list[Pair]:
    return build_pairs()


def _source(session: Session, name: str = "Test") -> int:
    source = Source(name=name, kind="feed", url=f"https://{name.lower()}.example/feed", owner="media")
    session.add(source)
    session.flush()
    return source.id


def _outcome(source_id: int, url: str, text: str, title: str | None = "Titre") -> IngestOutcome:
    article = ArticleData(
        url=url,
        canonical_url=url,
        title=title,
        author=None,
        description=None,
        published_at=None,
        text=text,
        text_hash=text_hash(text),
        language="fr",
        language_confidence=0.99,
        declared_language="fr",
        declared_language_source="page",
        relevance=0.0,
        relevant=False,
        relevance_terms=[],
        relevance_evidence={},
        topic_version="test",
        content_type="text/html",
        html_zlib=b"",
        signature=signature(text),
    )
    return IngestOutcome(
        item=QueueItem(id=0, source_id=source_id, url=url, canonical_url=url), article=article
    )


def _links(session: Session, ids: list[int]) -> dict[int, tuple[int | None, int | None]]:
    rows = session.execute(
        sa.text("SELECT id, duplicate_of, cluster_id FROM articles WHERE id = ANY(:ids)"), {"ids": ids}
    ).all()
    return {r.id: (r.duplicate_of, r.cluster_id) for r in rows}


def test_copies_link_to_the_earliest_and_each_keeps_its_row(db: Session) -> None:
    pairs = {p["id"]: p for p in _pairs()}
    original = pairs["dup-E01a-0"]["a"]
    copies = [pairs["dup-E01a-0"]["b"], pairs["dup-E01a-1"]["b"], pairs["dup-E01a-2"]["b"]]
    assert len({original, *copies}) == 4
    src = _source(db)
    statuses = [store_article(db, _outcome(src, "https://a.example/original", original))]
    statuses += [
        store_article(db, _outcome(src, f"https://b.example/copy-{i}", t)) for i, t in enumerate(copies)
    ]
    assert [s for s, _ in statuses] == ["stored"] * 4
    root = statuses[0][1]
    links = _links(db, [i for _, i in statuses])
    assert links[root] == (None, root)
    assert all(links[i] == (root, root) for _, i in statuses[1:])
    # Every article has its band keys, and the lookup index finds the cluster by any of them.
    count = db.scalar(
        sa.text("SELECT count(*) FROM article_bands WHERE article_id = ANY(:ids)"), {"ids": [root]}
    )
    assert count == len(band_keys(signature(original)))


def test_lookup_scores_candidates_as_similarity_does(db: Session) -> None:
    pairs = {p["id"]: p for p in _pairs()}
    original, copy = pairs["dup-E01a-0"]["a"], pairs["dup-E01a-0"]["b"]
    src = _source(db)
    _, root = store_article(db, _outcome(src, "https://a.example/original", original))
    link = link_and_index(db, root + 1000, signature(copy))  # band rows need no article row
    assert link.candidates == 1
    assert link.best_similarity == similarity(signature(original), signature(copy))
    assert link.root == root


def test_lookup_counts_every_candidate_of_a_cluster_and_confirms_it(db: Session) -> None:
    pairs = {p["id"]: p for p in _pairs()}
    texts = [pairs["dup-E01a-0"]["a"]] + [pairs[f"dup-E01a-{i}"]["b"] for i in range(3)]
    src = _source(db)
    ids = [store_article(db, _outcome(src, f"https://c.example/{i}", t))[1] for i, t in enumerate(texts)]
    probe = signature(texts[0] + "\nUne ligne ajoutée par la rédaction pour la mise à jour.")
    link = link_and_index(db, ids[-1] + 1000, probe)
    assert link.root == ids[0]
    shares = [similarity(probe, signature(t)) for t in texts]
    assert link.candidates == sum(1 for t in texts if set(band_keys(signature(t))) & set(band_keys(probe)))
    assert THRESHOLD <= link.best_similarity <= max(shares)


def test_unrelated_article_is_not_linked(db: Session) -> None:
    pairs = {p["id"]: p for p in _pairs()}
    src = _source(db)
    _, a = store_article(db, _outcome(src, "https://a.example/1", pairs["non-E01-same-event"]["a"]))
    _, b = store_article(db, _outcome(src, "https://b.example/1", pairs["non-E01-same-event"]["b"]))
    assert _links(db, [a, b]) == {a: (None, None), b: (None, None)}


def test_eval_set_through_the_database(db: Session) -> None:
    """Every distinct text of the eval set stored in file order; pairs judged by cluster.

    Topic-alike non-duplicates (same event, same background, one party's template statements,
    same outlet) must never end up in one cluster; duplicates must reach the recall floor.
    """
    floors = json.loads((EVAL / "dedup_floors.json").read_text(encoding="utf-8"))
    pairs = _pairs()
    src = _source(db)
    ids: dict[str, int] = {}
    for p in pairs:
        for text in (p["a"], p["b"]):
            if text not in ids:
                _, ids[text] = store_article(db, _outcome(src, f"https://e.example/{len(ids)}", text))
    assert len(set(ids.values())) == len(ids)  # no two distinct texts folded into one row
    clusters = {i: (c or i) for i, (_, c) in _links(db, list(ids.values())).items()}
    same = [clusters[ids[p["a"]]] == clusters[ids[p["b"]]] for p in pairs]
    false_links = [p["id"] for p, s in zip(pairs, same, strict=True) if s and not p["duplicate"]]
    assert false_links == []
    found = sum(1 for p, s in zip(pairs, same, strict=True) if s and p["duplicate"])
    recall = found / sum(1 for p in pairs if p["duplicate"])
    assert recall >= floors["pipeline_recall"], recall


def test_revision_replaces_band_keys(db: Session) -> None:
    pairs = {p["id"]: p for p in _pairs()}
    first, second = pairs["non-E02-E03"]["a"], pairs["non-E02-E03"]["b"]
    src = _source(db)
    status, article = store_article(db, _outcome(src, "https://a.example/x", first, "Titre 1"))
    assert status == "stored"
    status, same = store_article(db, _outcome(src, "https://a.example/x", second, "Titre 2"))
    assert (status, same) == ("revised", article)
    stored = set(
        db.execute(
            sa.text("SELECT band, key FROM article_bands WHERE article_id = :id"), {"id": article}
        ).all()
    )
    assert stored == set(band_keys(signature(second)))
    revision = db.execute(
        sa.text("SELECT title, text_hash FROM article_revisions WHERE article_id = :id"), {"id": article}
    ).one()
    assert revision == ("Titre 1", text_hash(first))


def test_a_revision_keeps_the_day_of_the_article(db: Session) -> None:
    """A revision (same URL, changed text) set ``fetched_at`` to now, and a revised page without
    its date cleared ``published_at``: the article moved to the revision's day in the views'
    ``day`` (articles_with_source, daily_relevant_by_source ...). It keeps its first fetch and
    its publication date; ``updated_at`` and article_revisions say when it was revised."""
    pairs = {p["id"]: p for p in _pairs()}
    texts = [pairs[key][side] for key in ("non-E02-E03", "non-E04-E05") for side in ("a", "b")]
    src = _source(db)
    undated, dated = "https://a.example/undated", "https://a.example/dated"
    ids = [store_article(db, _outcome(src, undated, texts[0]))[1]]
    first = _outcome(src, dated, texts[2])
    assert first.article is not None
    published = datetime(2025, 2, 4, 12, tzinfo=UTC)
    paris = published.astimezone(timezone(timedelta(hours=1))).isoformat()
    evidence = {"published_from": "json-ld", "published_local": paris, "title_from": "h1"}
    first.article = dataclasses.replace(first.article, published_at=published, extraction_evidence=evidence)
    ids.append(store_article(db, first)[1])
    by_id = {"ids": ids}
    first_fetch = datetime(2025, 2, 3, 12, tzinfo=UTC)
    db.execute(
        sa.text("UPDATE articles SET fetched_at = :at WHERE id = ANY(:ids)"), {**by_id, "at": first_fetch}
    )
    # revised: the dated page's new version gives no date
    revised = [store_article(db, _outcome(src, u, t))[0] for u, t in ((undated, texts[1]), (dated, texts[3]))]
    assert revised == ["revised", "revised"]
    assert (
        db.scalar(sa.text("SELECT count(*) FROM article_revisions WHERE article_id = ANY(:ids)"), by_id) == 2
    )
    db.execute(sa.text("UPDATE articles SET relevant = true WHERE id = ANY(:ids)"), by_id)
    days = db.execute(sa.text("SELECT id, day FROM articles_with_source WHERE id = ANY(:ids)"), by_id).all()
    assert dict(days) == {ids[0]: date(2025, 2, 3), ids[1]: date(2025, 2, 4)}
    counted = db.execute(sa.text("SELECT day, articles FROM daily_relevant_by_source ORDER BY day")).all()
    assert counted == [(date(2025, 2, 3), 1), (date(2025, 2, 4), 1)]
    row = db.execute(
        sa.text("SELECT fetched_at, published_at, extraction_evidence FROM articles WHERE id = :id"),
        {"id": ids[1]},
    ).one()
    assert row[:2] == (first_fetch, published)
    # where the kept date came from, and its clock (the outputs show it on the site's, +01:00)
    assert row.extraction_evidence == {"published_from": "json-ld", "published_local": paris}
    shown = on_site_clock(row.published_at, row.extraction_evidence)
    assert shown is not None and shown.isoformat() == paris


def test_text_without_words_has_no_band_keys(db: Session) -> None:
    src = _source(db)
    _, article = store_article(db, _outcome(src, "https://a.example/empty", "— … —"))
    count = db.scalar(sa.text("SELECT count(*) FROM article_bands WHERE article_id = :id"), {"id": article})
    assert count == 0


def test_deleting_articles_deletes_their_band_keys(db: Session) -> None:
    """article_bands has no foreign key (a check per band row); a trigger keeps the cascade."""
    src = _source(db)
    first, second = list(dict.fromkeys(p["a"] for p in _pairs()))[:2]
    _, kept = store_article(db, _outcome(src, "https://a.example/kept", first))
    _, gone = store_article(db, _outcome(src, "https://a.example/gone", second))
    assert kept != gone
    count = "SELECT count(*) FROM article_bands WHERE article_id = :id"
    assert db.scalar(sa.text(count), {"id": gone}) == 32
    db.execute(sa.text("DELETE FROM articles WHERE id = :id"), {"id": gone})
    assert db.scalar(sa.text(count), {"id": gone}) == 0
    assert db.scalar(sa.text(count), {"id": kept}) == 32


def test_lock_ids_sorted_distinct_and_deterministic() -> None:
    keys = band_keys(signature("Le sommet sur l'IA s'ouvre lundi au Grand Palais à Paris."))
    ids = lock_ids(keys)
    assert ids == sorted(set(ids)) and len(ids) == len(keys)
    assert all(-(2**31) <= i < 2**31 for i in ids)
    assert lock_ids(list(reversed(keys))) == ids


def _store_in_thread(
    engine: sa.Engine, outcome: IngestOutcome
) -> tuple[threading.Thread, dict[str, tuple[str, int]]]:
    """Start storing ``outcome`` in its own transaction (committed) on another thread."""
    result: dict[str, tuple[str, int]] = {}

    def store() -> None:
        with Session(engine) as session:
            result["stored"] = store_article(session, outcome)
            session.commit()

    thread = threading.Thread(target=store)
    thread.start()
    return thread, result


def _waits_for_band_lock(engine: sa.Engine, seconds: float = 10) -> bool:
    """True once some transaction waits for one of the band-key advisory locks."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            waiting = conn.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                    " AND classid = CAST(:cls AS oid)"
                ),
                {"cls": LOCK_CLASS},
            )
        if waiting:
            return True
        time.sleep(0.05)
    return False


def test_concurrent_copy_waits_for_the_first_and_links_to_it(clean_db: sa.Engine) -> None:
    """Two transactions storing copies of one dispatch: the second waits on the band locks
    until the first commits, then finds it. Without the locks it would not see the first
    (uncommitted) copy and would stay unlinked."""
    pairs = {p["id"]: p for p in _pairs()}
    first_text, second_text = pairs["dup-E03a-0"]["a"], pairs["dup-E03a-0"]["b"]
    with Session(clean_db) as setup:
        src = _source(setup, "Concurrent")
        setup.commit()
    first = Session(clean_db)
    _, first_id = store_article(first, _outcome(src, "https://a.example/dispatch", first_text))
    thread, result = _store_in_thread(clean_db, _outcome(src, "https://b.example/copy", second_text))
    try:
        assert _waits_for_band_lock(clean_db), "the second copy did not wait for the first one's band locks"
        assert thread.is_alive()
        first.commit()
    finally:
        first.close()
        thread.join(timeout=30)
    status, second_id = result["stored"]
    assert status == "stored" and second_id != first_id
    with clean_db.connect() as conn:
        rows: dict[int, int] = dict(
            conn.execute(sa.text("SELECT id, cluster_id FROM articles WHERE cluster_id IS NOT NULL")).all()
        )
    assert rows == {first_id: first_id, second_id: first_id}


def test_article_id_is_drawn_after_its_band_locks(clean_db: sa.Engine) -> None:
    """The band locks are taken before the article row's id is drawn: an article stored while
    another transaction holds one of its band locks gets an id after every id drawn
    meanwhile, so ids follow lock order and the cluster root stays the lowest id."""
    text = _pairs()[0]["a"]
    with Session(clean_db) as setup:
        src = _source(setup, "Order")
        setup.commit()
    holder = Session(clean_db)
    holder.execute(
        sa.text("SELECT pg_advisory_xact_lock(:cls, :id)"),
        {"cls": LOCK_CLASS, "id": lock_ids(band_keys(signature(text)))[0]},
    )
    thread, result = _store_in_thread(clean_db, _outcome(src, "https://a.example/locked", text))
    try:
        assert _waits_for_band_lock(clean_db) and thread.is_alive()
        with Session(clean_db) as other:
            _, other_id = store_article(
                other, _outcome(src, "https://b.example/other", "Autre texte, sans rapport.")
            )
            other.commit()
    finally:
        holder.commit()
        holder.close()
        thread.join(timeout=30)
    status, locked_id = result["stored"]
    assert status == "stored" and locked_id > other_id


@pytest.mark.parametrize("kind", ["headline", "para_cut", "credits", "paywall"])
def test_each_kind_of_light_edit_is_linked(db: Session, kind: str) -> None:
    pair = next(p for p in _pairs() if p["kind"] == kind)
    src = _source(db)
    _, a = store_article(db, _outcome(src, "https://a.example/k", pair["a"]))
    _, b = store_article(db, _outcome(src, "https://b.example/k", pair["b"]))
    assert _links(db, [a, b]) == {a: (None, a), b: (a, a)}
