"""bench/fetch_probe.py runs as bench/README.md shows it, at a tiny size: every path fetches
robots.txt and the feed of every source from the loopback server and the run leaves no
process behind, nor does a SIGTERM in the middle of it (bench/unwind.py). Not timed (the
figures are the bench's business)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


def test_the_probe_fetches_every_source_by_every_path() -> None:
    marker = uuid.uuid4().hex  # in the environment of the probe and of its server child
    done = subprocess.run(
        [sys.executable, "bench/fetch_probe.py", "--sources", "5", "--latency", "0.01", "--repeat", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "VEILLE_TEST_PROBE": marker},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    runs = re.findall(
        r"^rep (\d) (\w+) .*; (\d+) feeds .*, (\d+) robots\.txt 404, (\d+) requests$", done.stdout, re.M
    )
    paths = {name for _, name, *_ in runs}
    assert {"threads", "httpx", "h11"} <= paths, done.stdout
    assert len(runs) == 2 * len(paths), done.stdout
    for _, name, feeds, robots, requests in runs:
        assert (feeds, robots, requests) == ("5", "5", "10"), (name, done.stdout)
    summary = done.stdout.split("summary", 1)[1]
    assert re.search(r"threads .*ratio 1\.00; CPU .*ratio 1\.00", summary), summary
    left = _marked(marker)
    assert not left, f"the probe left processes behind: {left}"


def test_a_probe_stopped_by_sigterm_leaves_no_process() -> None:
    """SIGTERM (a timeout, a job runner) once the server child is up: the probe unwinds and
    stops it (before, the probe died at once and its server ran on, reparented)."""
    marker = uuid.uuid4().hex
    with subprocess.Popen(
        [sys.executable, "bench/fetch_probe.py", "--sources", "200", "--latency", "0.2", "--repeat", "3"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "VEILLE_TEST_PROBE": marker},
    ) as probe:
        try:
            assert probe.stdout is not None
            for line in probe.stdout:  # printed once the server answers, before the first path
                if "requests in flight: ideal" in line:
                    break
            running = _marked(marker)
            probe.send_signal(signal.SIGTERM)
            code = probe.wait(30)
        finally:
            probe.kill()
            left = _marked(marker)
            for pid in left:  # not left to run on after a failure
                os.kill(pid, signal.SIGKILL)
    assert len(running) >= 2, f"the probe and its server child should have been running: {running}"
    assert code == 143, f"exit {code}: not unwound"
    assert not left, f"the probe left processes behind: {left}"


def _marked(marker: str) -> list[int]:
    """The processes whose environment carries ``marker`` (the probe's children too)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get("VEILLE_TEST_PROBE") == marker:
                found.append(proc.pid)
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            continue
    return found


def test_the_probe_server_counts_a_request_before_it_answers() -> None:
    """The probe resets the request count between runs: a request counted only after its
    answer left could land in the next run's count once the client had its answer (11
    requests where 10 were made, under load). With the count held, no answer comes; once
    released, the answer comes with the request counted."""
    import multiprocessing as mp
    import socket

    from bench.poll import host, serve

    ports, ready = mp.Array("i", 1), mp.Event()
    sent, requests = mp.Value("q", 0), mp.Value("q", 0)
    server = mp.Process(target=serve, args=(1, 0.0, 1, ports, ready, sent, requests), daemon=True)
    server.start()
    try:
        assert ready.wait(30)
        with socket.create_connection((host(0), ports[0]), timeout=10) as conn:
            with requests.get_lock():  # the server cannot count while this is held
                conn.sendall(b"GET /robots.txt HTTP/1.1\r\nHost: probe\r\n\r\n")
                conn.settimeout(1.0)
                try:
                    early = conn.recv(1024)
                except TimeoutError:
                    early = b""
            assert early == b"", f"answered before the request was counted: {early!r}"
            conn.settimeout(10)
            assert conn.recv(1024).startswith(b"HTTP/1.1 404")
            assert requests.value == 1
    finally:
        server.terminate()
        server.join(5)
