"""A page dated with a day or time that does not exist: refused with the reason a feed's date
gets (:func:`monitors.dates.unreal_fields`), in the article's ``extraction_evidence``."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from monitors.settings import Settings
from tests.site import LocalSite
from tests.test_faults import _poll_and_ingest
from tests.test_unreal_feed_dates import serve_one

BODY = " ".join(["Le sommet pour l'action sur l'intelligence artificielle s'ouvre à Paris."] * 20)
PAGE = (
    "<html><head><title>Sommet de l'IA</title>"
    '<meta property="article:published_time" content="2025-02-30T10:00:00+01:00">'
    '<meta property="article:modified_time" content="2025-13-02">'
    "</head><body><article><h1>Sommet de l'IA</h1><p>Publié le 31 février 2025 à 29h10</p>"
    f"<p>{BODY}</p></article></body></html>"
)


def test_a_page_dated_30_february_says_why_in_its_evidence(
    site: LocalSite, db: Session, settings: Settings
) -> None:
    """Before, each of these dates was refused as "unreadable", the reason a feed's date got
    for the same fields ("February 2025 has no day 30") not given."""
    url = serve_one(site, "/2025/02/30/sommet.html", PAGE, "Mon, 10 Feb 2025 09:00:00 +0100")
    assert _poll_and_ingest(site, db, settings) == {url: "stored"}
    rejected = db.execute(
        sa.text("SELECT extraction_evidence -> 'dates_rejected' FROM articles WHERE url = :url"), {"url": url}
    ).scalar_one()
    assert {
        "source": "meta article:published_time",
        "value": "2025-02-30T10:00:00+01:00",
        "why": "February 2025 has no day 30",
    } in rejected
    assert {
        "source": "meta article:modified_time",
        "value": "2025-13-02",
        "why": "there is no month 13",
    } in rejected
    phrase = {"source": "phrase publié le", "value": "Publié le 31 février 2025 à 29h10"}
    assert {**phrase, "why": "February 2025 has no day 31"} in rejected
    assert {"source": "url", "value": "/2025/02/30", "why": "February 2025 has no day 30"} in rejected
