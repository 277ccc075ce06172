"""What veille learned about each site, in PostgreSQL: recurring blocks and title segments.

``site_blocks`` holds one row per (site, kind, fingerprint): ``kind`` is ``block`` (a line of
the extracted text) or ``title`` (a segment of the ``<title>``), ``pages`` how many stored
pages of the site carried it, ``sample`` its text (so a user can see what is removed). See
:mod:`monitors.boilerplate` for the rules.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

from monitors.boilerplate import MIN_PAGES, SiteProfile, fingerprint

_LOAD = text("SELECT kind, fingerprint, sample FROM site_blocks WHERE site = :site AND pages >= :min_pages")
_LEARN = text(
    "INSERT INTO site_blocks (site, kind, fingerprint, sample)"
    " SELECT :site, k, f, s FROM unnest(CAST(:kinds AS text[]), CAST(:fps AS bigint[]),"
    " CAST(:samples AS text[])) AS t(k, f, s)"
    " ON CONFLICT (site, kind, fingerprint) DO UPDATE"
    " SET pages = site_blocks.pages + 1, last_seen_at = now()"
)


def load_profile(session: Session, site: str, min_pages: int = MIN_PAGES) -> SiteProfile:
    """The site's boilerplate blocks and title affixes (those seen on ``min_pages`` pages)."""
    blocks: set[int] = set()
    affixes: list[str] = []
    for kind, fp, sample in session.execute(_LOAD, {"site": site, "min_pages": min_pages}):
        if kind == "block":
            blocks.add(fp)
        else:
            affixes.append(sample)
    return SiteProfile(site, frozenset(blocks), tuple(sorted(affixes)))


def learn(session: Session, site: str, blocks: dict[int, str], title_segments: list[str]) -> None:
    """Count one more page of ``site`` carrying these blocks and title segments."""
    rows = sorted(
        [("block", fp, sample[:200]) for fp, sample in blocks.items()]
        + [("title", fingerprint(seg), seg[:200]) for seg in dict.fromkeys(title_segments)]
    )
    rows = list({(k, f): (k, f, s) for k, f, s in rows}.values())
    if not site or not rows:
        return
    session.execute(
        _LEARN,
        {
            "site": site,
            "kinds": [r[0] for r in rows],
            "fps": [r[1] for r in rows],
            "samples": [r[2] for r in rows],
        },
    )
