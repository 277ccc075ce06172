"""Soft 404s, as judging reads them: :mod:`monitors.not_found` holds the rule, shared with
collection (a poll and an archive capture refuse such a page before any judging), which
imports no judging module."""

from __future__ import annotations

from monitors.not_found import ARTICLE_MIN_WORDS, soft_404

__all__ = ["ARTICLE_MIN_WORDS", "soft_404"]
