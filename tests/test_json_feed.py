# ruff: noqa: E501
"""JSON Feed 1.1 and 1.0 sources polled like RSS/Atom: end to end through `veille run` with
conditional GET, the same entries as the same items in RSS, and each malformed case recorded
with its reason while the rest of the feed is read."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import settings as settings_
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from monitors.archive.models import FetchLog, QueuedUrl, Source
from monitors.archive.polls import apply_poll
from monitors.collect.feeds import FeedError, parse_feed
from monitors.collect.http import Client
from monitors.collect.poll import PollOutcome, SourceState, poll_source
from monitors.settings import Settings
from tests.site import LocalSite, rss_feed, seed_pages, write_sources

V11 = "https://jsonfeed.org/version/1.1"
V10 = "https://jsonfeed.org/version/1"
NOW = datetime.now(UTC).replace(microsecond=0)


def json_feed(base: str, items: list[dict[str, Any]], version: str = V11, **top: Any) -> bytes:
    doc = {"version": version, "title": "Fil JSON", "home_page_url": f"{base}/", "language": "fr", **top}
    doc["items"] = items
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")


def _item(base: str, n: int, **extra: Any) -> dict[str, Any]:
    return {"id": f"{base}/j/{n}.html", "url": f"{base}/j/{n}.html", "title": f"Article {n}", **extra}


# --- end to end ---------------------------------------------------------------------------


@pytest.mark.usefixtures("prefect_harness")
def test_run_stores_json_feed_1_1_and_1_0_sources_and_honours_their_etags(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    pages = seed_pages()
    for page in pages:
        site.add(page.spec.slug, page.html)
    v11 = [
        {
            "id": f"tag:test,2025:{n}",
            "url": f"{site.base}/{p.spec.slug}",
            "title": p.spec.feed_title,
            "summary": f"Résumé {n}",
            "content_html": "<p>ignored: the summary comes first</p>",
            "date_published": p.spec.published.isoformat(),
            "authors": [{"name": "Camille Dupont"}, {"name": "Jean Martin"}],
            "tags": ["IA", "sommet"],
            "language": "fr-FR",
        }
        for n, p in enumerate(pages[:3])
    ]
    v10 = [
        {
            "id": str(n),
            "external_url": f"{site.base}/{p.spec.slug}",  # no url: the linked article
            "title": p.spec.feed_title,
            "content_text": f"Texte {n}",
            "date_modified": p.spec.published.isoformat(),
            "author": {"name": "Agence"},
        }
        for n, p in enumerate(pages[3:])
    ]
    site.add("/feed.json", json_feed(site.base, v11), content_type="application/feed+json", etag='"j11"')
    site.add("/v1.json", json_feed(site.base, v10, V10), content_type="application/json", etag='"j10"')
    sources = write_sources(
        tmp_path / "sources.toml",
        [
            {"name": "Json11", "kind": "feed", "url": f"{site.base}/feed.json", "owner": "media"},
            {"name": "Json10", "kind": "feed", "url": f"{site.base}/v1.json", "owner": "media"},
        ],
    )
    from flows.cli import main

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["run", "--sources", str(sources)]) == 0
    assert "5 stored" in buffer.getvalue()
    with clean_db.connect() as conn:
        queued = {
            r.url: r
            for r in conn.execute(
                sa.text(
                    "SELECT q.url, q.feed_title, q.feed_author, q.feed_summary, q.feed_published_at,"
                    " q.feed_language, s.name AS source, a.title FROM url_queue q"
                    " JOIN sources s ON s.id = q.source_id JOIN articles a ON a.id = q.article_id"
                )
            )
        }
        health = conn.execute(
            sa.text("SELECT name, new_items_count, last_error, etag FROM sources ORDER BY name")
        ).all()
    assert [tuple(h) for h in health] == [("Json10", 2, None, '"j10"'), ("Json11", 3, None, '"j11"')]
    for n, page in enumerate(pages):
        row = queued[f"{site.base}/{page.spec.slug}"]
        assert row.feed_title == page.spec.feed_title
        assert row.feed_published_at == page.spec.published
        assert row.feed_published_at.tzinfo is not None
        assert row.title  # the article page itself was fetched and stored
        if n < 3:
            assert (row.source, row.feed_author, row.feed_summary) == (
                "Json11",
                "Camille Dupont, Jean Martin",
                f"Résumé {n}",
            )
            assert row.feed_language == "fr"
        else:
            assert (row.source, row.feed_author, row.feed_summary) == ("Json10", "Agence", f"Texte {n - 3}")

    # Forced again: both answer 304 to the conditional GET; nothing new, no error.
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["run", "--sources", str(sources), "--all"]) == 0
    for path, etag in (("/feed.json", '"j11"'), ("/v1.json", '"j10"')):
        last = site.hits(path)[-1]
        assert last["status"] == 304 and last["if_none_match"] == etag
    with clean_db.connect() as conn:
        counts = conn.execute(
            sa.text(
                "SELECT name, not_modified_count, new_items_count, consecutive_failures FROM sources ORDER BY name"
            )
        ).all()
    assert [tuple(c) for c in counts] == [("Json10", 1, 2, 0), ("Json11", 1, 3, 0)]


# --- the same entries as RSS --------------------------------------------------------------


@pytest.mark.parametrize(
    "ctype", ["application/feed+json", "application/json", "text/plain", "application/rss+xml", None]
)
def test_json_feed_gives_the_entries_its_items_give_in_rss(
    site: LocalSite, client: Client, settings: Settings, ctype: str | None
) -> None:
    """Whatever the label of either (the body decides), with URLs resolved as in RSS."""
    when = datetime(2025, 2, 10, 9, 30, tzinfo=UTC)
    items = [
        ("Sommet de l’IA : « accélérer »", "a/un.html", when),
        ("Deuxième", "a/deux.html?x=1&y=2", when - timedelta(days=1)),
    ]
    site.add("/rss.xml", rss_feed(site.base, items), content_type=ctype or "")
    as_json = [
        {
            "id": str(n),
            "url": f"/{path}" if n else f"{site.base}/{path}",
            "title": title,
            "date_published": d.isoformat(),
        }
        for n, (title, path, d) in enumerate(items)
    ]
    site.add("/feed.json", json_feed(site.base, as_json), content_type=ctype or "")
    rss = poll_source(client, settings, SourceState(1, "r", "feed", f"{site.base}/rss.xml"))
    out = poll_source(client, settings, SourceState(2, "j", "feed", f"{site.base}/feed.json"))
    assert out.error is None and out.warning is None
    assert out.entries == rss.entries and len(out.entries) == 2
    assert out.language == rss.language == "fr"


def test_json_feed_with_a_wrong_charset_keeps_its_accents(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    body = json_feed(site.base, [_item(site.base, 1, title="Élysée : l’œuvre « commune »")]).decode()
    site.add("/feed.json", body.encode("cp1252"), content_type="application/feed+json; charset=utf-8")
    out = poll_source(client, settings, SourceState(1, "j", "feed", f"{site.base}/feed.json"))
    assert out.error is None and out.entries[0].title == "Élysée : l’œuvre « commune »"


def test_json_feed_html_content_is_sanitized_and_its_links_resolved() -> None:
    html = "<p>Texte <a href='/lien.html'>lien</a></p><script>alert(1)</script>"
    body = json_feed(
        "https://example.org", [{"id": "1", "url": "https://example.org/1", "content_html": html}]
    )
    entry = parse_feed(body, "https://example.org/feed.json").entries[0]
    assert entry.summary == '<p>Texte <a href="https://example.org/lien.html">lien</a></p>'
    assert entry.title is None and entry.published_at is None


# --- malformed feeds: each reason recorded, the rest read -----------------------------------


def _poll_and_store(
    db: Session,
    client: Client,
    settings: Settings,
    site: LocalSite,
    body: bytes | str,
    path: str = "/feed.json",
    ctype: str = "application/feed+json",
) -> tuple[PollOutcome, Source]:
    """Serve ``body`` at ``path``, poll it as a new feed source and store the poll."""
    site.add(path, body, content_type=ctype)
    src = Source(name="json", kind="feed", url=f"{site.base}{path}", owner="media")
    db.add(src)
    db.flush()
    out = poll_source(client, settings, SourceState(src.id, src.name, "feed", src.url))
    apply_poll(db, out, settings=settings)
    db.flush()
    db.refresh(src)
    return out, src


def _logged_reason(db: Session, source_id: int) -> str | None:
    return db.scalars(
        sa.select(FetchLog.reason).where(FetchLog.source_id == source_id, FetchLog.kind == "feed")
    ).one()


@pytest.mark.parametrize(
    ("body", "cause"),
    [
        (
            b'{"version": "https://jsonfeed.org/version/1.1", "items": [}',
            "not a feed: invalid JSON: Expecting value at line 1 column 59",
        ),
        (b"[" * 100_000, "not a feed: invalid JSON: RecursionError"),
        (
            b'{"data": [{"url": "https://example.org/a"}]}',
            'not a feed: JSON, but not a JSON Feed: its top-level "version" is missing',
        ),
        (
            b'{"version": "2.0", "items": []}',
            'not a feed: JSON, but not a JSON Feed: its top-level "version" is "2.0"',
        ),
        (
            b'[{"version": "https://jsonfeed.org/version/1.1"}]',
            "not a feed: JSON, but not a JSON Feed: the document is an array, not an object",
        ),
    ],
    ids=["invalid", "nested-too-deep", "no-version", "other-version", "array"],
)
def test_json_that_is_no_json_feed_is_a_permanent_error_cause_first(
    site: LocalSite, db: Session, client: Client, settings: Settings, body: bytes, cause: str
) -> None:
    out, src = _poll_and_store(db, client, settings, site, body)
    assert out.error_class == "permanent" and out.entries == []
    assert src.last_error is not None and src.last_error.startswith(cause), src.last_error
    assert src.last_error_class == "permanent" and src.consecutive_failures == 1
    assert _logged_reason(db, src.id) == src.last_error


@pytest.mark.parametrize("cut", [59, 120, -3], ids=["in-items", "in-a-string", "before-the-end"])
def test_a_json_feed_cut_short_is_a_transient_error_and_read_once_whole(
    site: LocalSite, db: Session, client: Client, settings: Settings, cut: int
) -> None:
    """A body that ends before its document does (its framing said complete: a server that
    stopped writing, a cache that kept half) is tried again later, as a cut RSS feed is read,
    not given up on for a day with a search for other feeds."""
    whole = json_feed(site.base, [_item(site.base, 1), _item(site.base, 2)])
    out, src = _poll_and_store(db, client, settings, site, whole[:cut])
    assert out.error_class == "transient" and out.entries == [] and out.suggested_feeds is None
    assert src.last_error is not None
    assert src.last_error.startswith("JSON Feed cut short: the body ends before its document does ("), (
        src.last_error
    )
    assert f"; {len(whole[:cut])} bytes received)" in src.last_error
    assert src.last_error_class == "transient" and src.consecutive_failures == 1
    assert src.next_poll_at is not None and src.last_polled_at is not None
    assert src.next_poll_at - src.last_polled_at < timedelta(hours=1)  # backoff, not the day
    assert _logged_reason(db, src.id) == src.last_error
    site.add("/feed.json", whole, content_type="application/feed+json")
    again = poll_source(client, settings, SourceState(src.id, src.name, "feed", src.url))
    apply_poll(db, again, settings=settings)
    db.flush()
    db.refresh(src)
    assert again.error is None and len(again.entries) == 2
    assert src.consecutive_failures == 0 and src.last_success_at is not None


BASE = "http://127.0.0.1:1"  # replaced by the site's base in the test


@pytest.mark.parametrize(
    ("items", "kept", "reason"),
    [
        ({"a": 1}, [], '1 JSON Feed problem(s): "items" is an object, not an array'),
        ("none", [], '1 JSON Feed problem(s): "items" is a string, not an array'),
        (
            [{"id": "sans-lien", "title": "Pas de lien"}, _item(BASE, 2)],
            [2],
            '1 JSON Feed problem(s): item 1 (id "sans-lien") has no http(s) "url", "external_url" or "id" (left out)',
        ),
        (
            [{"id": 7, "url": "mailto:redaction@example.org"}, 42, _item(BASE, 3)],
            [3],
            '2 JSON Feed problem(s): item 1 (id 7) has no http(s) "url", "external_url" or "id" (left out); item 2 is a number, not an object',
        ),
        (
            [
                _item(BASE, 1, date_published="pas une date"),
                {"id": "sans-lien", "date_published": "mardi"},
            ],
            [1],
            f'2 JSON Feed problem(s): item 1 (id "{BASE}/j/1.html"): "date_published" "pas une date" is not a date; item 2 (id "sans-lien") has no http(s) "url", "external_url" or "id" (left out)',
        ),
        (
            [_item(BASE, 1, title=["liste"], summary=3), {"id": "x", "url": f"{BASE}/j/nul\u0000.html"}],
            [1],
            f'4 JSON Feed problem(s): item 1 (id "{BASE}/j/1.html"): "title" is an array, not a string; item 1 (id "{BASE}/j/1.html"): "summary" is a number, not a string; item 2 (id "x"): "url" "{BASE}/j/nul\\u0000.html" holds a control character; and 1 more',
        ),
        (
            [{"url": f"{BASE}/j/{n}.html"} for n in range(1, 3)] + [{"id": n} for n in range(5)],
            [1, 2],
            '5 JSON Feed problem(s): item 3 (id 0) has no http(s) "url", "external_url" or "id" (left out); item 4 (id 1) has no http(s) "url", "external_url" or "id" (left out); item 5 (id 2) has no http(s) "url", "external_url" or "id" (left out); and 2 more',
        ),
    ],
    ids=[
        "items-object",
        "items-string",
        "item-without-url",
        "mailto-and-number",
        "dates-and-no-link",
        "wrong-types-and-nul-url",
        "many",
    ],
)
def test_malformed_items_are_recorded_and_the_rest_stored(
    site: LocalSite, db: Session, client: Client, settings: Settings, items: Any, kept: list[int], reason: str
) -> None:
    body = json_feed(site.base, json.loads(json.dumps(items).replace(BASE, site.base)))
    reason = reason.replace(BASE, site.base)
    out, src = _poll_and_store(db, client, settings, site, body)
    assert out.error is None
    assert [e.url for e in out.entries] == [f"{site.base}/j/{n}.html" for n in kept]
    warning = f"malformed feed, {len(kept)} entries read: {reason}"
    assert out.warning == warning
    assert (src.last_error, src.last_error_class, src.consecutive_failures) == (warning, "warning", 0)
    assert _logged_reason(db, src.id) == warning
    queued = db.scalars(
        sa.select(QueuedUrl.url).where(QueuedUrl.source_id == src.id).order_by(QueuedUrl.url)
    ).all()
    assert queued == sorted(e.url for e in out.entries)


def test_a_json_feed_whose_only_problem_is_its_dates_is_not_called_malformed(
    site: LocalSite, db: Session, client: Client, settings: Settings
) -> None:
    """f2afef3 made an RSS or Atom feed whose only fault is some bad entry dates warn "bad entry
    dates, ..."; a JSON Feed with a "date_published" of "hier" still opened "malformed feed,
    ...": the user looked for a broken document. Its entries are read and stored, undated; a
    JSON Feed malformed too still says so (above)."""
    items = [
        _item(site.base, 1, date_published="pas une date"),
        _item(site.base, 2, date_published="mardi", date_modified="2025-02-11T10:00:00+01:00"),
    ]
    out, src = _poll_and_store(db, client, settings, site, json_feed(site.base, items))
    warning = (
        f'bad entry dates, 2 entries read: 2 JSON Feed problem(s): item 1 (id "{site.base}/j/1.html"):'
        f' "date_published" "pas une date" is not a date; item 2 (id "{site.base}/j/2.html"):'
        ' "date_published" "mardi" is not a date'
    )
    assert out.error is None and out.warning == warning
    assert (src.last_error, src.last_error_class, src.consecutive_failures) == (warning, "warning", 0)
    assert _logged_reason(db, src.id) == warning
    assert [e.url for e in out.entries] == [f"{site.base}/j/{n}.html" for n in (1, 2)]
    assert out.entries[0].published_at is None and out.entries[1].published_explicit is False


def test_nul_and_lone_surrogates_in_a_title_are_stored_cleaned(
    site: LocalSite, db: Session, client: Client, settings: Settings
) -> None:
    """JSON escapes can carry NUL and half a surrogate pair, which no database column takes:
    the title is stored without NUL and with U+FFFD, the feed's other items too."""
    raw = (
        '{"version": "https://jsonfeed.org/version/1.1", "title": "Fil \\u0000", "items": ['
        f'{{"id": "1", "url": "{site.base}/j/1.html", "title": "Nul\\u0000 ici \\ud83d", "authors": [{{"name": "\\udc00Camille"}}]}},'
        f'{{"id": "2", "url": "{site.base}/j/2.html", "title": "Sain"}}]}}'
    )
    out, src = _poll_and_store(db, client, settings, site, raw.encode())
    assert out.error is None and out.warning is None
    rows = db.execute(
        sa.select(QueuedUrl.url, QueuedUrl.feed_title, QueuedUrl.feed_author)
        .where(QueuedUrl.source_id == src.id)
        .order_by(QueuedUrl.url)
    ).all()
    assert [tuple(r) for r in rows] == [
        (f"{site.base}/j/1.html", "Nul ici \ufffd", "\ufffdCamille"),
        (f"{site.base}/j/2.html", "Sain", None),
    ]
    assert src.last_error is None and src.new_items_count == 2


def test_a_json_feed_over_the_byte_cap_is_refused_and_one_under_it_read(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    import dataclasses

    items = [_item(site.base, n, content_text="x" * 500) for n in range(300)]
    site.add("/feed.json", json_feed(site.base, items), content_type="application/feed+json")
    out = poll_source(client, settings, SourceState(1, "j", "feed", f"{site.base}/feed.json"))
    assert out.error is None and len(out.entries) == 300
    small = dataclasses.replace(settings, max_bytes=100_000)
    out = poll_source(client, small, SourceState(1, "j", "feed", f"{site.base}/feed.json"))
    assert out.error_class == "permanent" and "byte cap" in (out.error or "") and out.entries == []


# --- discovery ---------------------------------------------------------------------------


def test_discovery_suggests_a_json_feed_the_home_page_advertises(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    site.add("/old.xml", "gone", status=404, content_type="text/plain")
    site.add(
        "/",
        '<html><head><link rel="alternate" type="application/feed+json" title="JSON" href="/feed.json">'
        "</head><body>Accueil</body></html>",
    )
    site.add("/feed.json", json_feed(site.base, [_item(site.base, 1)]), content_type="application/feed+json")
    out = poll_source(client, settings, SourceState(1, "x", "feed", f"{site.base}/old.xml"))
    assert out.suggested_feeds is not None
    assert out.suggested_feeds["feeds"] == [
        {"url": f"{site.base}/feed.json", "title": "Fil JSON", "entries": 1}
    ]


def test_discovery_tries_feed_json_when_nothing_is_advertised(
    site: LocalSite, client: Client, settings: Settings
) -> None:
    """A site whose only feed is a JSON Feed at /feed.json, linked from nowhere: the usual
    paths include it (before: /feed/, /rss.xml, /feed.xml only, and no suggestion)."""
    site.add("/old.xml", "gone", status=404, content_type="text/plain")
    site.add("/", "<html><head><title>Accueil</title></head><body>Accueil</body></html>")
    site.add("/feed.json", json_feed(site.base, [_item(site.base, 1)]), content_type="application/feed+json")
    out = poll_source(client, settings, SourceState(1, "x", "feed", f"{site.base}/old.xml"))
    assert out.suggested_feeds is not None
    assert out.suggested_feeds["feeds"] == [
        {"url": f"{site.base}/feed.json", "title": "Fil JSON", "entries": 1}
    ]
    assert len(site.hits("/feed.json")) == 1


# --- any JSON value in any place ----------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
_KEYS = [
    "id",
    "url",
    "external_url",
    "title",
    "summary",
    "content_text",
    "content_html",
    "date_published",
    "date_modified",
    "authors",
    "author",
    "tags",
]
_ITEM = st.dictionaries(st.sampled_from(_KEYS), _JSON | st.text(max_size=30), max_size=8)


@given(items=st.lists(_ITEM | _JSON, max_size=6), title=_JSON, authors=_JSON)
@settings_(max_examples=150, deadline=None)
def test_any_json_in_a_json_feed_gives_storable_entries_or_reasons(
    items: list[Any], title: Any, authors: Any
) -> None:
    body = json.dumps({"version": V11, "title": title, "authors": authors, "items": items}).encode()
    parsed = parse_feed(body, "https://example.org/feed.json", "application/feed+json")
    for entry in parsed.entries:
        assert entry.url.startswith(("http://", "https://"))
        for value in (entry.url, entry.title, entry.author, entry.summary, parsed.title, parsed.bozo_reason):
            assert value is None or (value.encode("utf-8") and "\x00" not in value)
        assert entry.published_at is None or entry.published_at.tzinfo is not None
    assert len(parsed.entries) <= sum(isinstance(i, dict) for i in items)
    if not all(isinstance(i, dict) for i in items) or not isinstance(title, str | None):
        assert parsed.bozo_reason is not None  # what was left out or ignored is said


@given(body=st.binary(max_size=200))
@settings_(max_examples=150, deadline=None)
def test_any_body_opening_like_json_is_a_json_feed_or_says_why_not(body: bytes) -> None:
    try:
        parse_feed(b"{" + body, "https://example.org/feed.json", "application/feed+json")
    except FeedError as exc:
        assert str(exc).startswith(
            ("not a feed: invalid JSON: ", "not a feed: JSON, but not a JSON Feed: ", "JSON Feed cut short: ")
        )


def test_an_item_s_own_language_is_its_row_s_declared_language(
    site: LocalSite, db: Session, client: Client, settings: Settings
) -> None:
    """A JSON Feed 1.1 item's `language` was dropped: an English item of a French feed was
    queued as declared French (url_queue.feed_language, the article's declared language when
    its page declares none). It comes before the feed's; an item without one takes the feed's."""
    items = [
        _item(site.base, 1, language="en-GB"),
        _item(site.base, 2),
        _item(site.base, 3, language=" "),
        _item(site.base, 4, language="de", tags=["KI"]),
    ]
    out, src = _poll_and_store(db, client, settings, site, json_feed(site.base, items))
    assert out.error is None and out.warning is None
    assert [e.language for e in out.entries] == ["en-GB", None, None, "de"]
    rows = db.execute(
        sa.select(QueuedUrl.url, QueuedUrl.feed_language).where(QueuedUrl.source_id == src.id)
    ).all()
    assert dict(rows) == {
        f"{site.base}/j/1.html": "en",
        f"{site.base}/j/2.html": "fr",
        f"{site.base}/j/3.html": "fr",
        f"{site.base}/j/4.html": "de",
    }


def test_a_feed_that_says_it_is_finished_is_read_and_said(
    site: LocalSite, db: Session, client: Client, settings: Settings
) -> None:
    """`"expired": true` (JSON Feed: the feed will not update again) was ignored: the source
    looked healthy while it could give nothing new. Its items are read (they were published)
    and the poll is a warning saying so, in sources.last_error."""
    body = json_feed(site.base, [_item(site.base, 1)], expired=True)
    out, src = _poll_and_store(db, client, settings, site, body)
    assert [e.url for e in out.entries] == [f"{site.base}/j/1.html"]
    assert src.last_error_class == "warning"
    assert 'the feed says it is finished ("expired": true): it will not update again' in (
        src.last_error or ""
    )
    for not_finished in (False, "true", None):
        parsed = parse_feed(json_feed(site.base, [_item(site.base, 1)], expired=not_finished), site.base)
        assert parsed.bozo_reason is None, not_finished


def test_a_finished_feed_is_no_malformed_feed_and_its_health_says_so(
    site: LocalSite, db: Session, client: Client, settings: Settings
) -> None:
    """`"expired": true` was counted as a problem of the feed, so a well-formed finished feed
    was reported as "malformed feed, 1 entries read: 1 JSON Feed problem(s): ...". JSON Feed
    1.1 allows it: the feed is read normally (no bozo reason, not malformed), and the finish is
    said in the source's health columns (last_error, last_error_class 'warning', which the
    source_health view shows as health 'warning'), before any real problem of the feed."""
    body = json_feed(site.base, [_item(site.base, 1), _item(site.base, 2)], expired=True)
    out, src = _poll_and_store(db, client, settings, site, body)
    assert out.error is None and len(out.entries) == 2
    assert out.warning is not None and "malformed" not in out.warning, out.warning
    parsed = parse_feed(body, site.base)
    assert parsed.expired and not parsed.malformed and parsed.bozo_reason is None
    assert out.warning.startswith('the feed says it is finished ("expired": true)')
    assert src.last_error == out.warning and src.last_error_class == "warning"
    health = db.execute(sa.text("SELECT health FROM source_health WHERE id = :id"), {"id": src.id}).scalar()
    assert health == "warning"
    # a finished feed with a real problem says both, the finish first
    site.add("/broken.json", json_feed(site.base, [_item(site.base, 1), {"id": 7}], expired=True))
    out = poll_source(client, settings, SourceState(0, "broken", "feed", f"{site.base}/broken.json"))
    assert out.warning is not None
    finished, malformed = out.warning.split("; malformed feed, 1 entries read: ")
    assert finished.startswith('the feed says it is finished ("expired": true)')
    assert (
        malformed
        == '1 JSON Feed problem(s): item 2 (id 7) has no http(s) "url", "external_url" or "id" (left out)'
    )
