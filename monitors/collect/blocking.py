"""Telling a site that blocks veille from one that is broken.

A 401, 403 or 429, or a challenge page (a small HTML page from a bot-protection service,
such as Cloudflare's "Just a moment...", served instead of the feed) means the site refuses
automated clients: retrying the same way or looking for another feed on the same site does
not help, a fallback URL (often a news sitemap the site publishes for search engines) may.
veille does not impersonate a browser; it says what blocked it.
"""

from __future__ import annotations

import re

BLOCKED = "blocked"  # the error class a blocked poll is recorded with
BLOCK_STATUSES = {401, 403, 429}
CHALLENGE_MAX_BYTES = 64 * 1024  # challenge pages are a few kB; larger bodies are not inspected

# (service, pattern) searched in a body of at most CHALLENGE_MAX_BYTES, lower-cased. Each
# pattern belongs to the service's block or challenge page, not to the scripts it injects
# into every page of a site behind it (Cloudflare's /cdn-cgi/challenge-platform/scripts,
# Imperva's /_Incapsula_Resource, PerimeterX's _pxAppId, AWS WAF's token SDK): those sites
# serve their feeds and pages fine.
_BODY_MARKERS: tuple[tuple[str, re.Pattern[bytes]], ...] = tuple(
    (service, re.compile(pattern.encode()))
    for service, pattern in (
        ("Cloudflare", r"<title>\s*just a moment\.\.\.\s*</title>"),
        ("Cloudflare", r"window\._cf_chl_opt|cf-chl-widget|/cdn-cgi/challenge-platform/h/[bg]/orchestrate/"),
        ("Cloudflare", r"<title>\s*attention required! \| cloudflare\s*</title>"),
        ("DataDome", r"captcha-delivery\.com|ct\.datado\.me|\bdd=\{'rt'"),
        (
            "Akamai",
            r"<title>\s*access denied\s*</title>[\s\S]{0,1000}"
            r"(?:edgesuite|reference(?:&#32;|\s)(?:#|&#35;))",
        ),
        ("Imperva", r"incapsula incident id"),
        ("PerimeterX", r"id=.px-captcha|captcha\.px-cdn\.net"),
        ("Sucuri", r"sucuri website firewall - access denied"),
        ("AWS WAF", r"window\.gokuprops|awswaf-captcha"),
    )
)


def _header_service(headers: dict[str, str]) -> tuple[str | None, bool]:
    """The protection service a response's headers name, and whether they say it is a
    challenge (not just that the site sits behind that service)."""
    if headers.get("cf-mitigated", "").lower() == "challenge":
        return "Cloudflare", True
    if any(h in headers for h in ("x-datadome", "x-dd-b", "x-datadome-cid")):
        return "DataDome", True
    if headers.get("x-amzn-waf-action", "").lower() in {"challenge", "captcha", "block"}:
        return "AWS WAF", True
    if "x-sucuri-block" in headers:
        return "Sucuri", True
    server = headers.get("server", "").lower()
    for name, service in (("cloudflare", "Cloudflare"), ("akamaighost", "Akamai"), ("sucuri", "Sucuri")):
        if name in server:
            return service, False
    if "x-iinfo" in headers or "incapsula" in headers.get("x-cdn", "").lower():
        return "Imperva", False
    return None, False


def challenge_service(headers: dict[str, str], body: bytes | None) -> str | None:
    """The bot-protection service whose challenge or block page this response is, if any.

    ``headers`` have lower-case names. Only a small body is inspected: a real page that
    quotes one of these strings is large, a challenge page is not.
    """
    service, challenge = _header_service(headers)
    if challenge:
        return service
    if not body or len(body) > CHALLENGE_MAX_BYTES:
        return None
    text = body.lower()
    for name, pattern in _BODY_MARKERS:
        if pattern.search(text):
            return name
    return None


def block_reason(status: int, reason: str, headers: dict[str, str], body: bytes | None) -> str | None:
    """Why this response is a refusal of automated clients, cause first, or None.

    ``reason`` is the response's status line reason (``Forbidden``). A 401/403/429 is always
    a block; another status only with a challenge page (Cloudflare answers 503 with one).
    """
    service = challenge_service(headers, body)
    status_text = f"HTTP {status} {reason}".strip()
    if service is not None and status < 400:
        return f"blocked: {service} challenge page instead of the document ({status_text})"
    if service is not None:
        return f"blocked: {status_text} ({service} challenge page)"
    if status in BLOCK_STATUSES:
        what = {401: "authentication required", 403: "access refused", 429: "rate limited"}[status]
        behind, _ = _header_service(headers)
        return f"blocked: {status_text} ({what}{f', served by {behind}' if behind else ''})"
    return None
