"""Grouping: canonical URLs, copies and near-duplicates, stories."""
