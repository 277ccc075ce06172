"""Faults of the grouping stage met on real-world input (URLs, copies, stories), end to end."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from flows.cli import main
from monitors.archive.articles import store_article
from monitors.group.copies import compare, profile
from monitors.group.stories import features
from monitors.group.urls import canonicalize_url
from tests.site import LocalSite, rss_feed, seed_pages, write_sources
from tests.test_direct_cycle import direct  # noqa: F401 - the fixture: `veille run` with no flow
from tests.test_neardup_store import _links, _outcome, _pairs, _source
from tests.test_stories import DIRECTIVE_VOTE, EN, FR, FR_OTHER_NEWSROOM, SAME_MINISTER_LATER
from tests.test_story_store import T0, _store, _story


def test_a_feed_entry_with_an_over_long_url_is_declined_and_the_poll_goes_on(db: Session) -> None:
    """A 3,000-byte link (a tracking token) failed the poll of every source in the batch with
    ProgramLimitExceeded: the queue's unique index on the canonical URL holds at most 2,704
    bytes. The entry is now declined with its reason, as other unusable links are."""
    from monitors.archive.models import FetchLog, QueuedUrl, Source
    from monitors.archive.polls import apply_poll
    from monitors.collect.feeds import parse_feed
    from monitors.collect.poll import PollOutcome
    from monitors.collect.results import FetchResult

    token = "".join(hashlib.sha256(str(i).encode()).hexdigest() for i in range(48))  # incompressible
    long_link = "https://example.fr/a.html?session=" + token
    links = [long_link, "https://example.fr/ok.html"]
    items = "".join(f"<item><title>T{i}</title><link>{link}</link></item>" for i, link in enumerate(links))
    body = (
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>f</title>{items}</channel></rss>".encode()
    )
    parsed = parse_feed(body, "https://example.fr/feed.xml", "application/rss+xml")
    assert [e.url for e in parsed.entries] == links
    source = Source(name="Long links", kind="feed", url="https://example.fr/feed.xml", owner="media")
    db.add(source)
    db.flush()
    fetched = FetchResult("https://example.fr/feed.xml", "https://example.fr/feed.xml", "ok", 200, body)
    summary = apply_poll(
        db, PollOutcome(source_id=source.id, kind="feed", fetch=fetched, entries=parsed.entries)
    )
    assert summary.error is None
    queued = db.query(QueuedUrl.url).filter(QueuedUrl.source_id == source.id).all()
    assert [u for (u,) in queued] == ["https://example.fr/ok.html"]
    declined = db.query(FetchLog.url, FetchLog.reason).filter(FetchLog.kind == "entry").all()
    assert [(url, reason and "longer than 2048 bytes" in reason) for url, reason in declined] == [
        (long_link, True)
    ]


@pytest.mark.parametrize(
    "pub_date",
    ["Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 01 Jan 0001 00:00:00 GMT"],
    ids=["end-of-time", "year-one"],
)
def test_a_feed_date_at_the_ends_of_the_calendar_is_stored_and_grouped(db: Session, pub_date: str) -> None:
    """Some feeds write "31 Dec 9999" (or year 1) for an entry; for a page without its own date
    that was the article's published_at (ingest now refuses it, store_article must still bear
    it). Story assignment computed its window as a date seven
    days beyond and raised OverflowError out of store_article, which the ingest worker does not
    catch (its task failed at that page). The article is stored, and a second one of the event joins it."""
    from monitors.collect.feeds import parse_feed

    body = (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>f</title><item><title>T</title>"
        f"<link>https://a.example/1</link><pubDate>{pub_date}</pubDate></item></channel></rss>"
    ).encode()
    entry = parse_feed(body, "https://a.example/feed.xml", "application/rss+xml").entries[0]
    at = entry.published_at  # as read from the feed (ingest no longer takes it for published_at)
    assert at is not None and at.year in (1, 9999)
    a, b = _source(db, "Alpha"), _source(db, "Beta")
    first = _store(db, a, "https://a.example/1", FR, at)
    second = _store(db, b, "https://b.example/1", FR_OTHER_NEWSROOM, at)
    assert _story(db, first) is not None and _story(db, first) == _story(db, second)
    first_seen = db.scalar(
        sa.text("SELECT first_seen FROM stories WHERE id = :id"), {"id": _story(db, first)}
    )
    assert first_seen == at


def test_a_naive_date_is_read_as_utc_by_story_assignment(db: Session) -> None:
    """assign() compared a naive ``at`` with the stories' aware spans (TypeError); it is UTC,
    as the database reads a naive timestamp in a UTC session."""
    a, b = _source(db, "Alpha"), _source(db, "Beta")
    naive = datetime(2025, 6, 12, 9)
    first = _store(db, a, "https://a.example/1", FR, naive)
    second = _store(db, b, "https://b.example/1", FR_OTHER_NEWSROOM, naive + timedelta(hours=2))
    assert _story(db, first) is not None and _story(db, first) == _story(db, second)


def test_stories_limit_keeps_the_widest_n_as_documented(
    clean_db: sa.Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    """`veille stories --limit N` / `-n N`: at most N stories, widest coverage first (README,
    docs/stories.md; no test ran it). A limit beyond PostgreSQL's bigint (a user's "all") was a
    DataError traceback; it lists every story."""
    from flows.cli import main

    with Session(clean_db) as session:
        alpha, beta, gamma = (_source(session, name) for name in ("Alpha", "Beta", "Gamma"))
        widest = _store(session, alpha, "https://a.example/1", FR)
        _store(session, beta, "https://b.example/1", FR_OTHER_NEWSROOM, T0 + timedelta(hours=2))
        _store(session, gamma, "https://g.example/1", EN, T0 + timedelta(hours=3), lang="en")
        older = _store(session, alpha, "https://a.example/2", DIRECTIVE_VOTE, T0 + timedelta(days=20))
        latest = _store(session, beta, "https://b.example/2", SAME_MINISTER_LATER, T0 + timedelta(days=40))
        stories = [_story(session, a) for a in (widest, latest, older)]
        session.commit()
    assert None not in stories and len(set(stories)) == 3

    def listed(*options: str) -> list[int]:
        capsys.readouterr()
        assert main(["stories", "--json", *options]) == 0
        return [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()]

    assert listed() == stories  # outlets, then articles, then the latest first
    assert listed("--limit", "2") == stories[:2]
    assert listed("-n", "1") == stories[:1]
    assert listed("--limit", "3") == listed("--limit", "99999999999999999999") == stories
    # --since D: last seen on or after D (the latest story was last seen on T0 + 40 days, 09:00)
    day = (T0 + timedelta(days=40)).date().isoformat()
    assert listed("--since", day) == listed("--since", day, "-n", "1") == stories[1:2]
    assert listed("--since", (T0 + timedelta(days=20)).date().isoformat(), "--limit", "1") == stories[1:2]
    capsys.readouterr()
    assert main(["stories", "-n", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"#{stories[0]} ") and out.count("\n#") == 0  # one story: one "#id" line


def _revise(db: Session, src: int, url: str, text: str, at: datetime | None = T0) -> tuple[str, int]:
    outcome = _outcome(src, url, text)
    assert outcome.article is not None
    article = dataclasses.replace(outcome.article, published_at=at)
    return store_article(db, dataclasses.replace(outcome, article=article))


def test_a_teaser_revised_into_a_full_article_gets_its_story(db: Session) -> None:
    """A page first fetched as a two-line alert (too short to seed a story) and fetched again
    once written out is a revision of the same article; it stayed without a story for good,
    since only a new article was assigned one. A revision of an article without a story is
    assigned now, joining the event's story when there is one."""
    alpha, beta = _source(db, "Alpha"), _source(db, "Beta")
    teaser = _store(
        db, alpha, "https://a.example/alerte", "Rachida Dati annonce 340 millions pour 85 musées."
    )
    assert _story(db, teaser) is None
    assert _revise(db, alpha, "https://a.example/alerte", FR) == ("revised", teaser)
    story = _story(db, teaser)
    assert story is not None
    row = db.execute(sa.text("SELECT articles, article_id FROM stories WHERE id = :id"), {"id": story})
    assert tuple(row.one()) == (1, teaser)
    other = _store(db, beta, "https://b.example/1", FR_OTHER_NEWSROOM, T0 + timedelta(hours=2))
    assert _story(db, other) == story
    # the article's next revision keeps its story (a story is never re-decided)
    assert _revise(db, alpha, "https://a.example/alerte", FR + " Mise à jour.") == ("revised", teaser)
    assert _story(db, teaser) == story
    assert db.scalar(sa.text("SELECT articles FROM stories WHERE id = :id"), {"id": story}) == 2


def test_a_story_a_revised_teaser_seeds_is_new_in_the_report(db: Session) -> None:
    """(A guard: a revision keeps the article's fetched_at now, the first fetch.) A teaser
    fetched yesterday and written out today seeds a story today: the run report (stories_since)
    lists it as new, its one article added."""
    from monitors.archive.story_report import stories_since

    alpha = _source(db, "Alpha")
    teaser = _store(
        db, alpha, "https://a.example/alerte", "Rachida Dati annonce 340 millions pour 85 musées."
    )
    yesterday = "now() - interval '1 day'"
    db.execute(sa.text(f"UPDATE articles SET fetched_at = {yesterday} WHERE id = :id"), {"id": teaser})
    db.execute(sa.text("UPDATE sightings SET first_seen_at = now() - interval '1 day'"))
    since = db.scalar(sa.text("SELECT now() - interval '1 hour'"))
    assert _revise(db, alpha, "https://a.example/alerte", FR) == ("revised", teaser)
    assert [(s["new"], s["added"]) for s in stories_since(db, since)] == [(True, 1)]


def test_a_dated_teaser_revised_without_its_date_is_grouped_on_its_day(db: Session) -> None:
    """A teaser published on T0, first fetched weeks later, then written out on a page that no
    longer gives the date: it keeps T0 (its day), but was grouped on another instant (the
    revision's date, none, so its first fetch): it missed the story of its day, 7 days around
    T0, and seeded a story of its own. It joins the story of its day."""
    alpha, beta = _source(db, "Alpha"), _source(db, "Beta")
    teaser = _store(
        db, alpha, "https://a.example/alerte", "Rachida Dati annonce 340 millions pour 85 musées."
    )
    first = _store(db, beta, "https://b.example/1", FR_OTHER_NEWSROOM)  # T0: seeds the story
    db.execute(
        sa.text("UPDATE articles SET fetched_at = :at WHERE id = :id"),
        {"at": T0 + timedelta(days=40), "id": teaser},
    )
    assert _story(db, teaser) is None and _story(db, first) is not None
    assert _revise(db, alpha, "https://a.example/alerte", FR, at=None)[0] == "revised"
    assert db.scalar(sa.text("SELECT published_at FROM articles WHERE id = :id"), {"id": teaser}) == T0
    assert _story(db, teaser) == _story(db, first)
    assert db.scalar(sa.text("SELECT count(*) FROM stories")) == 1


def test_a_teaser_revised_next_to_an_existing_story_joins_it(db: Session) -> None:
    alpha, beta = _source(db, "Alpha"), _source(db, "Beta")
    teaser = _store(
        db, alpha, "https://a.example/alerte", "Rachida Dati annonce 340 millions pour 85 musées."
    )
    first = _store(db, beta, "https://b.example/1", FR_OTHER_NEWSROOM)  # seeds the story after it
    assert _story(db, teaser) is None and _story(db, first) is not None
    assert _revise(db, alpha, "https://a.example/alerte", FR)[0] == "revised"
    assert _story(db, teaser) == _story(db, first)
    assert db.scalar(sa.text("SELECT count(*) FROM stories")) == 1


def test_digits_int_cannot_read_next_to_a_month_neither_crash_features_nor_profile() -> None:
    """ "❶" (a dingbat list number) or "፩" (Ethiopic one) is str.isdigit() but not decimal, and
    NFKC keeps it: next to a month name, features() and profile() called int() on it
    (ValueError), out of the store, failing the ingest worker's task at that page."""
    odd = [c for c in map(chr, range(0x110000)) if c.isdigit() and not c.isdecimal()]
    assert "❶" in odd and "፩" in odd
    for c in odd:
        for text in (f"Le {c} mai", f"mai {c} Le candidat", f"May {c}"):
            features(text)
            profile(text, "fr")
    assert "d:12-5" in features("Le 12 mai ❶ Lyon") and profile("le 12 mai ❶").anchors == ("m5-12",)


def test_an_article_with_a_numbered_list_in_dingbats_is_stored(db: Session) -> None:
    src = _source(db)
    text = FR + " Le calendrier : ❶ mai, les appels d'offres ; ❷ juin, les premiers chantiers."
    article = _store(db, src, "https://a.example/liste", text)
    assert _story(db, article) is not None


def test_a_copy_of_a_deleted_cluster_root_is_stored_in_its_cluster(db: Session) -> None:
    """Deleting a cluster's root (the first copy of a dispatch) leaves its copies with its id as
    cluster_id (duplicate_of set NULL by the foreign key). The next copy was linked with
    duplicate_of = that id: a foreign-key violation out of the store, on every later copy of
    the dispatch. It joins the cluster as the remaining copies are."""
    pairs = {p["id"]: p for p in _pairs()}
    original = pairs["dup-E01a-0"]["a"]
    first_copy, second_copy = pairs["dup-E01a-0"]["b"], pairs["dup-E01a-1"]["b"]
    src = _source(db)
    root = store_article(db, _outcome(src, "https://a.example/original", original))[1]
    copy = store_article(db, _outcome(src, "https://b.example/copy-1", first_copy))[1]
    db.execute(sa.text("DELETE FROM articles WHERE id = :id"), {"id": root})
    assert _links(db, [copy]) == {copy: (None, root)}
    status, later = store_article(db, _outcome(src, "https://b.example/copy-2", second_copy))
    assert status == "stored"
    assert _links(db, [copy, later]) == {copy: (None, root), later: (None, root)}


def test_a_story_whose_members_were_all_deleted_is_not_joined(db: Session) -> None:
    """Its centroid and span are the deleted articles': an article of the event joined it and
    the story came back with their first_seen. It seeds a story of its own now."""
    alpha, beta = _source(db, "Alpha"), _source(db, "Beta")
    first = _store(db, alpha, "https://a.example/1", FR)
    emptied = _story(db, first)
    db.execute(sa.text("DELETE FROM articles WHERE id = :id"), {"id": first})
    later = T0 + timedelta(hours=30)
    second = _store(db, beta, "https://b.example/1", FR_OTHER_NEWSROOM, later)
    story = _story(db, second)
    assert story is not None and story != emptied
    row = db.execute(sa.text("SELECT first_seen, articles FROM stories WHERE id = :id"), {"id": story})
    assert tuple(row.one()) == (later, 1)


def _article_page(title: str, text: str, head: str) -> bytes:
    paragraphs = "".join(f"<p>{sentence}.</p>" for sentence in text.split(". ") * 3)
    return (
        f'<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8"><title>{title}</title>{head}</head>'
        f"<body><article><h1>{title}</h1>{paragraphs}</article></body></html>"
    ).encode()


def test_a_site_whose_template_names_its_home_page_canonical_keeps_its_articles_apart(db: Session) -> None:
    """A layout that writes `<link rel="canonical" href="https://site/">` on every page (a
    framework's fixed tag, a misconfigured SEO plugin) made every article of the site one
    canonical URL: each new article was stored as a revision of the previous one, which
    disappeared from the archive but for article_revisions. A canonical naming the home page
    from another page is ignored; a canonical naming another article still wins."""
    from monitors.collect.results import FetchResult
    from monitors.ingest import analyse_page
    from monitors.judge.topic import load_topic
    from monitors.records import QueueItem

    src = _source(db)
    topic = load_topic()
    stored = []
    pages = [
        (
            "https://www.example.fr/culture/musees.html",
            FR,
            '<link rel="canonical" href="https://www.example.fr/">',
        ),
        (
            "https://www.example.fr/culture/louvre.html",
            SAME_MINISTER_LATER,
            '<link rel="canonical" href="/">',
        ),
        (
            "https://m.example.fr/culture/louvre",
            SAME_MINISTER_LATER,
            '<link rel="canonical" href="/culture/louvre.html">',
        ),
    ]
    for n, (url, text, head) in enumerate(pages):
        item = QueueItem(id=n, source_id=src, url=url, canonical_url=canonicalize_url(url))
        body = _article_page("Titre", text, head)
        fetched = FetchResult(url, url, "ok", 200, body, headers={"content-type": "text/html"})
        out = analyse_page(item, fetched, topic)
        assert out.article is not None, out.reason
        stored.append((out.article.canonical_url, *store_article(db, out)))
    assert stored == [
        ("https://example.fr/culture/musees.html", "stored", stored[0][2]),
        ("https://example.fr/culture/louvre.html", "stored", stored[1][2]),
        ("https://example.fr/culture/louvre.html", "unchanged", stored[1][2]),
    ]
    assert stored[0][2] != stored[1][2]
    assert db.scalar(sa.text("SELECT count(*) FROM article_revisions")) == 0


def _group_line(event: str | None, *keys: str, dated: bool = True) -> str:
    members = []
    for key in keys:
        member: dict[str, object] = {
            "key": key,
            "lang": "fr",
            "text": f"Le conseil de Villebrune vote ({key}).",
        }
        if event is not None:
            member["event"] = event
        if dated:
            member["published_at"] = "2031-03-02"
        members.append(member)
    return json.dumps({"is_copy": False, "members": members})


@pytest.mark.parametrize(
    ("lines", "says"),
    [
        ([_group_line("e-1", "a"), _group_line(None, "b")], ':2: member 1 (b) has no string "event"'),
        (
            [_group_line("e-1", "a"), _group_line("e-2", "b", "a")],
            ":2: member key 'a' is already used on line 1",
        ),
        ([], ": no labelled group"),
    ],
    ids=["no-event", "repeated-key", "empty"],
)
def test_a_stories_set_it_cannot_measure_is_one_error_naming_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: list[str], says: str
) -> None:
    """`veille eval --shared DIR`: a member without "event" was a KeyError traceback, an empty
    file "max() arg is an empty sequence"; a key used twice silently merged two articles'
    results. Each is one error naming the file (and line), exit 2."""
    from flows.cli import main

    stories = tmp_path / "stories-dev.jsonl"
    stories.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    # beside a relevance split of ours: a --shared folder holding neither is an error of its own
    (tmp_path / "relevance-dev.jsonl").write_text(
        json.dumps({"text": "Il pleut sur Brest.", "label": "politics_other", "kind": "article"}) + "\n",
        "utf-8",
    )
    assert main(["eval", "--shared", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith(f"veille: error: {stories}") and says in err, err


def test_a_stories_set_without_any_date_is_measured(tmp_path: Path) -> None:
    """Undated articles are replayed after the dated ones, at the latest date seen: with no date
    at all that was max() of nothing (ValueError)."""
    from monitors.group.story_eval import evaluate_stories

    stories = tmp_path / "stories-dev.jsonl"
    stories.write_text(_group_line("e-1", "a", "b", dated=False) + "\n", encoding="utf-8")
    report = evaluate_stories(stories)
    assert report["articles"] == 2 and set(report["assignments"]) == {"a", "b"}


TEASER = (
    "Rachida Dati annonce à Lyon 340 millions d'euros pour 85 musées de province : Rouen, Nancy et Pau "
    "d'abord, d'ici 2030."
)


def test_an_undetermined_language_is_no_language_for_copies() -> None:
    """Language detection answers "und" for a text too short or too mixed to tell; taken for a
    language, a French teaser was a "translation" of an independent French report (the
    translation rule has no minimum length and looser thresholds than the same-language ones)."""
    from monitors.judge.language import UNDETERMINED

    assert UNDETERMINED == "und"
    report = profile(FR_OTHER_NEWSROOM, "fr")
    assert compare(profile(TEASER, "fr"), report).rule is None
    assert compare(profile(TEASER, UNDETERMINED), report).rule is None
    assert compare(profile(TEASER, None), report).rule is None


def test_an_undetermined_article_is_not_linked_as_a_translation(db: Session) -> None:
    alpha, beta = _source(db, "Alpha"), _source(db, "Beta")
    report = _store(db, beta, "https://b.example/1", FR_OTHER_NEWSROOM)
    teaser = _store(db, alpha, "https://a.example/alerte", TEASER, T0 + timedelta(hours=1), lang="und")
    links = _links(db, [report, teaser])
    assert links == {report: (None, None), teaser: (None, None)}
    assert _story(db, teaser) == _story(db, report)  # the same event, not a copy


@pytest.mark.usefixtures("direct")
def test_a_feed_link_with_raw_spaces_is_fetched_as_a_browser_would(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    """A feed's ``<link>`` with spaces in its path (a CMS's file name, written as it is) was
    declined as unusable (whitespace), the article never fetched; a browser escapes the spaces
    (%20) and opens the page. It is fetched, stored under the escaped URL and queued once."""
    page = seed_pages()[0]
    site.add("/mon%20article%20sur%20le%20sommet.html", page.html)
    when = page.spec.published
    feed = rss_feed(site.base, [(page.spec.feed_title, "mon article sur le sommet.html", when)])
    site.add("/feed.xml", feed, content_type="application/rss+xml; charset=utf-8")
    sources = write_sources(
        tmp_path / "sources.toml",
        [{"name": "Spaces", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"}],
    )
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(["run", "--sources", str(sources)]) == 0, out.getvalue()
    with clean_db.connect() as conn:
        stored = conn.execute(sa.text("SELECT canonical_url FROM articles")).scalars().all()
        declined = conn.execute(sa.text("SELECT reason FROM fetch_log WHERE outcome = 'skipped'")).all()
    assert stored == [f"{site.base}/mon%20article%20sur%20le%20sommet.html"]
    assert declined == []
    assert len(site.hits("/mon%20article%20sur%20le%20sommet.html")) == 1
