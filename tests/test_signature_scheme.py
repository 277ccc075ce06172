"""Signatures and story vectors of an older scheme (a Chinese or Japanese article stored before
its runs of characters were cut into bigrams, migrations 0041 and 0043): a later copy was not
linked to it, a later report of its event scored low against its story, and nothing recomputed
them. The daily maintenance does, in batches, once."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

import monitors.group.dedup as dedup
import monitors.group.stories as stories
from monitors.archive.articles import store_article
from monitors.group.dedup import SIGNATURE_SCHEME, band_keys, signature
from monitors.group.neardup import resign_old_signatures
from monitors.group.stories import add_vectors, article_keys, features, key_hash
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
    with clean_db.begin() as conn:  # its story as made before too
        conn.execute(
            sa.text(
                "UPDATE stories SET feature_scheme = 1"
                " WHERE id = (SELECT story_id FROM articles WHERE id = :id)"
            ),
            {"id": first},
        )
    state = maintenance_flow(return_state=True)
    assert state.is_completed() and state.result()["resigned"] == 1, state
    assert state.result()["refeatured"] == 1, state
    assert _state(clean_db, first)[:2] == (signature(METRO), SIGNATURE_SCHEME)
    again = maintenance_flow(return_state=True).result()
    assert (again["resigned"], again["refeatured"]) == (0, 0)


# A report in English, and two in Chinese of the same event (Latin names set off by spaces, as
# Chinese typesetting often does), written for this test.
VALORINE_EN = (
    "Valorine, a firm based in Lyon, announced on Monday an investment of 4.2 billion euros in a data"
    " centre near Lyon, on the sidelines of the AI Action Summit in Paris. Its chief executive, Hélène"
    " Corbière, presented the schedule to Emmanuel Macron and the other leaders at the Grand Palais."
    " Work is due to start in the autumn and should create several hundred jobs over ten years, the"
    " company said."
)
VALORINE_ZH = (
    "法国总统 Emmanuel Macron 周一在巴黎人工智能行动峰会期间宣布，"
    "里昂企业 Valorine 将投资42亿欧元在里昂附近建设数据中心。"
    "公司负责人 Hélène Corbière 在大皇宫介绍了工程进度，"
    "工程将于秋季开工，预计在十年内创造数百个就业岗位。"
)
VALORINE_ZH_OTHER = (
    "里昂企业 Valorine 的数据中心项目在巴黎人工智能行动峰会上公布，总投资42亿欧元。负责人 Hélène Corbière"
    " 表示，工程秋季开工，十年内将创造数百个就业岗位，法国总统 Emmanuel Macron 出席了介绍会。"
)


def _story_of(engine: sa.Engine, article_id: int) -> int | None:
    with engine.connect() as conn:
        return conn.scalar(sa.text("SELECT story_id FROM articles WHERE id = :id"), {"id": article_id})


def _joins(engine: sa.Engine, source: int, text: str) -> int | None:
    """The story a new article of ``text`` goes to, the article then rolled back."""
    with Session(engine) as session:
        _, article_id = store_article(session, _outcome(source, "https://d.example/valorine", text, None))
        story = session.scalar(sa.text("SELECT story_id FROM articles WHERE id = :id"), {"id": article_id})
        session.rollback()
    return story


def test_story_vectors_of_older_words_are_recomputed_and_a_later_report_joins(
    clean_db: sa.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A story that took a Chinese article before the bigrams kept that article's words of then
    in its centroid (a clause as one word: "周一在巴黎人工智能行动峰会期间宣布") and its lookup
    keys: another Chinese report of the event scored low against it and went elsewhere.
    refeature_old_stories recomputes the centroid and keys from the members, reports its
    progress, finds nothing the second time, and the report then joins the story."""
    from monitors.group.story_store import refeature_old_stories

    with Session(clean_db) as session, session.begin():
        en_source, zh_source = _source(session, "En"), _source(session, "Zh")
    with Session(clean_db) as session, session.begin():
        _, en = store_article(session, _outcome(en_source, "https://a.example/valorine", VALORINE_EN, None))
    story = _story_of(clean_db, en)
    assert story is not None
    with Session(clean_db) as session, session.begin():
        _, zh = store_article(session, _outcome(zh_source, "https://b.example/valorine", VALORINE_ZH, None))
    with monkeypatch.context() as m:  # the Chinese report's vector and keys as they were made then
        m.setattr(stories, "split_words", lambda pattern, line: pattern.findall(line))
        old_vector, old_keys = article_keys(VALORINE_ZH, None, "fr")
    assert any(k.startswith("w:周一在巴黎") for k in old_vector)
    with clean_db.begin() as conn:  # it joined the story then (as a veille before 0043 left it)
        conn.execute(
            sa.text("DELETE FROM stories WHERE id = (SELECT story_id FROM articles WHERE id = :id)"),
            {"id": zh},
        )
        conn.execute(sa.text("UPDATE articles SET story_id = :s WHERE id = :id"), {"s": story, "id": zh})
        conn.execute(
            sa.text(
                "UPDATE stories SET centroid = CAST(:c AS jsonb), articles = 2, outlets = 2, media = 2,"
                " feature_scheme = 1 WHERE id = :s"
            ),
            {"s": story, "c": json.dumps(add_vectors(add_vectors({}, features(VALORINE_EN)), old_vector))},
        )
        conn.execute(
            sa.text(
                "INSERT INTO story_keys (key, day, story_id) SELECT k, current_date, :s"
                " FROM unnest(CAST(:keys AS bigint[])) AS k ON CONFLICT DO NOTHING"
            ),
            {"s": story, "keys": [key_hash(k) for k in old_keys]},
        )
    assert _joins(clean_db, zh_source, VALORINE_ZH_OTHER) != story, "joined the old story: nothing to show"

    seen: list[tuple[str, int]] = []
    done = refeature_old_stories(
        clean_db,
        batch=1,
        on_start=lambda n: seen.append(("start", n)),
        on_batch=lambda n: seen.append(("batch", n)),
    )
    assert done == 1 and seen == [("start", 1), ("batch", 1)]
    current = add_vectors(add_vectors({}, article_keys(VALORINE_EN, None, "fr")[0]), features(VALORINE_ZH))
    with clean_db.connect() as conn:
        centroid, scheme = conn.execute(
            sa.text("SELECT centroid, feature_scheme FROM stories WHERE id = :s"), {"s": story}
        ).one()
        keys = set(conn.scalars(sa.text("SELECT key FROM story_keys WHERE story_id = :s"), {"s": story}))
    assert scheme == SIGNATURE_SCHEME and centroid.keys() == current.keys()
    assert all(abs(centroid[k] - v) < 1e-4 for k, v in current.items())
    assert keys == {
        key_hash(k) for text in (VALORINE_EN, VALORINE_ZH) for k in article_keys(text, None, "fr")[1]
    }
    assert refeature_old_stories(clean_db) == 0  # idempotent
    assert _joins(clean_db, zh_source, VALORINE_ZH_OTHER) == story
