"""What veille learned about each site, in PostgreSQL: recurring blocks and title segments.

``site_blocks`` holds one row per (site, kind, fingerprint): ``kind`` is ``block`` (a line of
the extracted text) or ``title`` (a segment of the ``<title>``), ``pages`` how many stored
pages of the site carried it, ``sample`` its text (so a user can see what is removed). See
:mod:`monitors.judge.boilerplate` for the rules.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import text
from sqlalchemy.orm import Session

from monitors.judge.boilerplate import MIN_PAGES, SiteProfile, fingerprint

_LOAD = text("SELECT kind, fingerprint, sample FROM site_blocks WHERE site = :site AND pages >= :min_pages")
_LEARN = text(
    "INSERT INTO site_blocks (site, kind, fingerprint, sample)"
    " SELECT :site, k, f, s FROM unnest(CAST(:kinds AS text[]), CAST(:fps AS bigint[]),"
    " CAST(:samples AS text[])) AS t(k, f, s)"
    " ON CONFLICT (site, kind, fingerprint) DO UPDATE"
    " SET pages = site_blocks.pages + 1, last_seen_at = now()"
    " RETURNING pages"
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


def learn(
    session: Session,
    site: str,
    blocks: dict[int, str],
    title_segments: list[str],
    min_pages: int = MIN_PAGES,
) -> bool:
    """Count one more page of ``site`` carrying these blocks and title segments; whether
    the site's profile changed (a block or a segment reached ``min_pages`` pages)."""
    rows = sorted(
        [("block", fp, sample[:200]) for fp, sample in blocks.items()]
        + [("title", fingerprint(seg), seg[:200]) for seg in dict.fromkeys(title_segments)]
    )
    rows = list({(k, f): (k, f, s) for k, f, s in rows}.values())
    if not site or not rows:
        return False
    counts = session.execute(
        _LEARN,
        {
            "site": site,
            "kinds": [r[0] for r in rows],
            "fps": [r[1] for r in rows],
            "samples": [r[2] for r in rows],
        },
    ).scalars()
    return any(pages == min_pages for pages in counts)


class ProfileCache:
    """Site profiles kept between pages, so that a run reads a site's profile once, not once
    per page.

    An entry is dropped when this process learns that the site's profile changed (a block or
    a title segment reached :data:`MIN_PAGES` pages: :func:`learn` says so, the caller calls
    :meth:`invalidate` once that is committed), and in any case after ``ttl`` seconds (other
    processes learn too). Thread-safe: the ingest and backfill workers share one.
    """

    def __init__(
        self, ttl: float = 60.0, min_pages: int = MIN_PAGES, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl, self.min_pages, self._clock = ttl, min_pages, clock
        self._entries: dict[str, tuple[float, SiteProfile]] = {}
        self._lock = threading.Lock()
        self.loads = 0  # profiles read from the database (for tests and benches)

    def get(self, session: Session, site: str) -> SiteProfile:
        """The site's profile, from memory when it is fresh, else from ``site_blocks``."""
        now = self._clock()
        with self._lock:
            entry = self._entries.get(site)
            if entry is not None and now - entry[0] < self.ttl:
                return entry[1]
        profile = load_profile(session, site, self.min_pages)
        with self._lock:
            self._entries[site] = (now, profile)
            self.loads += 1
        return profile

    def invalidate(self, site: str) -> None:
        """Forget the site's profile (it changed): the next page reads it again."""
        with self._lock:
            self._entries.pop(site, None)
