"""monitors/collect/archives/ without a server: CDX answers of any shape, collinfo dates, soft 404s."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from monitors.collect.archives.common import parse_cdx_time
from monitors.collect.archives.commoncrawl import crawls_covering, parse_collinfo, parse_commoncrawl_cdx
from monitors.collect.archives.wayback import WAYBACK_FIELDS, parse_wayback_cdx
from monitors.judge.not_found import soft_404
from monitors.settings import get_settings

cell = st.one_of(st.text(max_size=30), st.integers(), st.none(), st.just("20250210120000"))
row = st.one_of(st.lists(cell, min_size=1, max_size=9), cell)  # an empty row is the format's key separator


@given(st.lists(row, max_size=20), st.booleans())
def test_every_wayback_row_is_a_capture_or_a_recorded_malformed_line(rows: list[object], key: bool) -> None:
    body: list[object] = [list(WAYBACK_FIELDS), *rows]
    if key:
        body += [[], ["fr,x)/a 20250210"]]
    page = parse_wayback_cdx(json.dumps(body).encode(), get_settings())
    assert len(page.captures) + len(page.malformed) == len(rows)
    assert page.resume_key == ("fr,x)/a 20250210" if key else None)
    for capture in page.captures:
        assert capture.original.startswith(("http://", "https://"))
        assert capture.archived_url.endswith("id_/" + capture.original)


@given(
    st.lists(
        st.one_of(st.text(max_size=80), st.dictionaries(st.text(max_size=8), cell, max_size=8)), max_size=20
    )
)
def test_every_commoncrawl_line_is_a_capture_or_a_recorded_malformed_line(
    lines: list[str | dict[str, str | int | None]],
) -> None:
    text = [json.dumps(x) if isinstance(x, dict) else x for x in lines]
    text = [t.replace("\n", " ").replace("\r", " ") for t in text]
    body = "\n".join(text).encode("utf-8", "surrogatepass")
    page = parse_commoncrawl_cdx(body, get_settings())
    assert len(page.captures) + len(page.malformed) == len([t for t in body.splitlines() if t.strip()])


def test_cdx_timestamps_are_utc_and_may_be_short() -> None:
    assert parse_cdx_time("20250210123456") == datetime(2025, 2, 10, 12, 34, 56, tzinfo=UTC)
    assert parse_cdx_time("202502") == datetime(2025, 2, 1, tzinfo=UTC)


def test_crawls_cover_the_window_by_their_dates_or_their_week() -> None:
    crawls = parse_collinfo(
        json.dumps(
            [
                {
                    "id": "CC-MAIN-2025-08",
                    "cdx-api": "x",
                    "from": "2025-02-06T14:00:00",
                    "to": "2025-02-19T23:00:00",
                },
                {"id": "CC-MAIN-2025-13", "cdx-api": "y"},  # no dates: the fortnight before week 13
                {"name": "no id"},
            ]
        ).encode()
    )
    assert [c.id for c in crawls] == ["CC-MAIN-2025-08", "CC-MAIN-2025-13"]
    feb = crawls_covering(crawls, datetime(2025, 2, 1, tzinfo=UTC), datetime(2025, 2, 28, tzinfo=UTC))
    assert [c.id for c in feb] == ["CC-MAIN-2025-08"]
    march = crawls_covering(crawls, datetime(2025, 3, 15, tzinfo=UTC), datetime(2025, 3, 31, tzinfo=UTC))
    assert [c.id for c in march] == ["CC-MAIN-2025-13"]
    assert crawls_covering(crawls, datetime(2023, 1, 1, tzinfo=UTC), datetime(2023, 1, 31, tzinfo=UTC)) == []


def test_soft_404_reads_the_title_and_first_heading() -> None:
    assert soft_404(b"<html><title>Page introuvable - Le Monde</title></html>")
    assert soft_404(b"<html><title>Le Monde</title><h1>Erreur 404</h1></html>")
    assert (
        soft_404(b"<html><title>Sommet sur l'IA : Macron veut acc\xc3\xa9l\xc3\xa9rer</title></html>") is None
    )
