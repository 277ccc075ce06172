"""The web archives as a source of past pages: discovery through their CDX APIs (or, for
CC-NEWS, its monthly WARC lists), captures fetched from the archive (never from the site)."""
