"""Collecting: sources, HTTP, feeds, sitemaps, listing pages and the web archives."""
