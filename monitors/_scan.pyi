"""Compiled topic-matcher scan for monitors.judge.matcher (monitors/_scan.c): the matches
Matcher.scan_python gives, per part: piece -> owner -> [(first token, token count)]."""

from typing import Any

def scan(
    lower: list[bytes],
    run: bytes,
    children: list[dict[bytes, int]],
    ends: list[tuple[int, ...]],
    prefix_ends: list[tuple[tuple[bytes, int], ...]],
    root_prefix: tuple[tuple[bytes, int], ...],
    patterns: tuple[tuple[Any, ...], ...],
    owners: int,
    parts: int,
    /,
) -> list[dict[int, dict[int, list[tuple[int, int]]]]]: ...
