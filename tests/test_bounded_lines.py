"""monitors.judge.lines.bounded_lines: a line over the cap is skipped in bounded reads."""

from __future__ import annotations

import io

import pytest

from monitors.judge.lines import SKIP_CHUNK, LineTooLong, bounded_lines


class _Watched(io.BytesIO):
    """A binary stream that keeps the longest piece one ``readline`` returned."""

    longest = 0

    def readline(self, size: int | None = -1, /) -> bytes:
        piece = super().readline(size)
        self.longest = max(self.longest, len(piece))
        return piece


def test_a_long_line_is_never_read_whole_and_the_next_lines_come_through() -> None:
    stream = _Watched(b"short\n" + b"x" * 1_000_000 + b"\nafter\n\nlast")
    assert list(bounded_lines(stream, 100)) == [
        b"short\n",
        LineTooLong(size=1_000_000, limit=100),
        b"after\n",
        b"\n",
        b"last",
    ]
    assert stream.longest <= max(101, SKIP_CHUNK)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"x" * 100 + b"\n", [b"x" * 100 + b"\n"]),  # exactly the cap, newline not counted
        (b"x" * 100, [b"x" * 100]),  # the last line, no newline
        (b"x" * 101, [LineTooLong(101, 100)]),  # one byte over, at the end of the input
        (b"x" * 101 + b"\ny", [LineTooLong(101, 100), b"y"]),
    ],
)
def test_the_cap_is_in_bytes_of_the_line_without_its_newline(data: bytes, expected: list[object]) -> None:
    assert list(bounded_lines(io.BytesIO(data), 100)) == expected


def test_a_text_stream_is_measured_in_utf8_bytes() -> None:
    # 60 characters, 120 bytes: over a cap of 100 though it has fewer characters
    assert list(bounded_lines(io.StringIO("é" * 60 + "\nok\n"), 100)) == [LineTooLong(120, 100), "ok\n"]
