"""Judging a page: extraction, metadata, language and topic relevance."""
