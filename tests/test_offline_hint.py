"""A run in which every fetch failed before reaching a server (the machine offline, its DNS
down) ends with that cause first, in the run's verdict (its state message, report and the
command's last line), rather than N failures of its own each.

Unresolvable hosts use the reserved ``.invalid`` top-level domain and refused connections a
closed local port: no real network is needed.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import sqlalchemy as sa

from flows.outcome import judge_run, offline_hint
from tests.site import LocalSite, seed_site, write_sources
from tests.test_direct_cycle import _run, direct  # noqa: F401 - direct: the fixture, no flow may start

DNS = "host nouvelles.invalid does not resolve (DNS: Name or service not known)"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _row(error: str, **counts: int) -> dict[str, object]:
    row: dict[str, object] = {
        "source": "s",
        "poll": "error" if error else "ok",
        "error": error,
        "new_urls": 0,
    }
    return row | {k: counts.get(k, 0) for k in ("stored", "duplicates", "relevant", "failed", "retry")}


def test_the_hint_needs_every_fetch_to_have_reached_no_server() -> None:
    refused = "connection refused by 127.0.0.1:9"
    assert offline_hint([DNS, DNS.replace("nouvelles", "journal")]) == (
        "every fetch failed to resolve its host: is the network up?"
    )
    assert offline_hint([DNS, refused, "timeout: no connection to x.fr"]) == (
        "every fetch failed before reaching a server (1 host did not resolve, 1 host refused the "
        "connection, 1 host took no connection in time): is the network up?"
    )
    assert offline_hint([DNS]) is None  # one host that does not resolve says nothing of the network
    assert offline_hint([DNS, "HTTP 404 Not Found"]) is None  # a server answered
    assert offline_hint([DNS, "timeout: no answer from x.fr"]) is None  # connected, then slow
    outcome = judge_run([_row(DNS), _row(DNS, retry=3)], [], False)
    assert outcome.status == "failed"
    hint = "every fetch failed to resolve its host: is the network up?"
    assert outcome.message.startswith(f"Nothing could run ({hint}; 2 of 2 sources in error")
    # a page stored, or a source polled: some fetch reached its server
    assert "network" not in judge_run([_row(DNS), _row(DNS, stored=1)], [], False).message
    assert "network" not in judge_run([_row(DNS), _row(DNS), _row("")], [], False).message


@pytest.mark.usefixtures("direct", "clean_db")
def test_an_offline_run_says_so_first(site: LocalSite, tmp_path: Path) -> None:
    port = _closed_port()
    urls = {
        "dns": ["http://nouvelles.invalid/rss.xml", "http://journal.invalid/feed/"],
        "mixed": ["http://nouvelles.invalid/rss.xml", f"http://127.0.0.1:{port}/feed.xml"],
    }
    hints = {
        "dns": "every fetch failed to resolve its host: is the network up?",
        "mixed": "every fetch failed before reaching a server (1 host did not resolve, 1 host refused "
        "the connection): is the network up?",
    }
    for case, feeds in urls.items():
        sources = write_sources(
            tmp_path / f"{case}.toml",
            [{"name": f"{case}{i}", "kind": "feed", "url": u, "owner": "media"} for i, u in enumerate(feeds)],
        )
        code, out, err = _run(["run", "--all", "--sources", str(sources)])
        assert code == 3, out + err
        last = err.rstrip().splitlines()[-1]
        assert last.startswith(f"veille: Nothing could run ({hints[case]}; 2 of 2 sources in error)"), last


@pytest.mark.usefixtures("direct")
def test_a_run_where_one_server_answered_gives_no_such_hint(
    site: LocalSite, clean_db: sa.Engine, tmp_path: Path
) -> None:
    seed_site(site)
    sources = write_sources(
        tmp_path / "s.toml",
        [
            {"name": "ici", "kind": "feed", "url": f"{site.base}/feed.xml", "owner": "media"},
            {"name": "ailleurs", "kind": "feed", "url": "http://nouvelles.invalid/rss.xml", "owner": "media"},
        ],
    )
    code, out, err = _run(["run", "--all", "--sources", str(sources)])
    assert code == 1, out + err
    last = err.rstrip().splitlines()[-1]
    assert last.startswith("veille: Partly done (1 of 2 sources in error)") and "network" not in err
