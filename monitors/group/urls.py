"""Canonical URLs: one article, one URL, whatever feed, share button or AMP page we found it through.

``canonicalize_url`` is the identity key for articles (the URL half of deduplication), so it
must be idempotent and must not merge genuinely different pages. It only uses the standard
library plus the public-suffix data shipped with courlan (``tld``) to find registrable domains.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from urllib.parse import parse_qsl, quote, urljoin, urlsplit, urlunsplit

from courlan import extract_domain

__all__ = ["MAX_URL_BYTES", "canonicalize_url", "host_of", "same_site"]

_SCHEMES = frozenset({"http", "https"})
#: Longest URL accepted, in UTF-8 bytes, as given and in canonical form: the sitemap protocol's
#: limit, and below what PostgreSQL can index (a btree entry holds at most 2704 bytes; a longer
#: URL in the unique keys of ``url_queue``, ``url_listings`` or ``sightings`` failed the poll).
MAX_URL_BYTES = 2048
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Host prefixes that name a variant of the same site, not a different site.
_VARIANT_HOST_PREFIXES = ("www.", "m.", "mobile.")
_WWW_N = re.compile(r"^www\d+\.")

# Tracking parameters, matched on the lower-cased key.
_TRACKING_KEYS = frozenset(
    {
        "xtor",
        "xtref",
        "xts",
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "yclid",
        "igshid",
        "igsh",
        "gbraid",
        "wbraid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "epik",
        "_hsenc",
        "_hsmi",
        "hsctatracking",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "vero_conv",
        "wt_mc",
        "wt.mc_id",
        "cmpid",
        "ocid",
        "s_cid",
        "s_kwcid",
        "spm",
        "echobox",
        "sr_share",
        "ito",
        "xtcr",
        "fb_action_ids",
        "fb_action_types",
        "fb_source",
        "fb_ref",
        "action_object_map",
        "action_type_map",
        "action_ref_map",
        "__twitter_impression",
        "smid",
        "smtyp",
        "cmp",
        "cmp_id",
        "at_xt",
        "amp_js_v",
        "usqp",
        "ncid",
        "ns_mchannel",
        "ns_source",
        "ns_campaign",
        "ns_linkname",
        "ns_fee",
    }
)
# Tracking key prefixes (utm_source, at_medium, pk_campaign, ...).
_TRACKING_PREFIXES = ("utm_", "at_", "pk_", "mtm_", "matomo_", "piwik_", "hsa_", "ga_", "oly_")
# "ref" and "ref_src" are also real parameters on some sites; drop them only when the value is
# clearly a referral label (social network, newsletter, RSS...), e.g. ref=twitter, ref_src=twsrc^tfw.
_REFERRAL_VALUE = re.compile(
    r"^(?:twsrc|tw|twitter|x|fb|facebook|linkedin|lnkd|instagram|insta|whatsapp|wa|telegram"
    r"|reddit|flipboard|gnews|google|googlenews|rss|feed|newsletter|nl|email|mail|share|social"
    r"|sharebar|push|notif|notification|hp|homepage|home|app|android|ios|msn|yahoo"
    r")(?:\b|[_\-.^:]).*$|^(?:twsrc|tw|twitter|x|fb|facebook|rss|newsletter|nl|email|share|social"
    r"|push|app|hp|home|homepage)$",
    re.IGNORECASE,
)
# Query parameters that only select the AMP rendering of the same article.
_AMP_PARAMS = {"outputtype": {"amp"}, "amp": {"", "1", "true", "yes"}}

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Characters kept literally in a path (RFC 3986 pchar + "/"), everything else is percent-encoded.
_PATH_SAFE = frozenset(_UNRESERVED | set("!$&'()*+,;=:@/"))
_PCT = re.compile(r"%([0-9A-Fa-f]{2})")
# A path of characters kept literally and no escape: _normalize_percent gives it back as it is.
_PLAIN_PATH = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/]*")
# What str.isspace() calls a space, and the C0 controls (tests/test_urls.py checks every code point):
# refused in the host (and the rest of the authority), as a browser does.
_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f]")
# The C0 controls and NEL (the C1 control str.isspace() counts): refused anywhere.
_CONTROL = re.compile(r"[\x00-\x1f\x85]")
_HEX = "0123456789ABCDEF"
# The host and port of a netloc whose host is an IPv6 literal: "[::1]" or "[::1]:8080".
_BRACKETED = re.compile(r"\[[^\[\]]*\](?::[0-9]*)?")


def _is_tracking(key: str, value: str) -> bool:
    """True for parameters that identify a campaign or a click, never the page itself."""
    k = key.lower()
    if k in _TRACKING_KEYS or k.startswith(_TRACKING_PREFIXES):
        return True
    if k in {"ref", "ref_src", "ref_url", "referrer", "src", "source"}:
        return bool(_REFERRAL_VALUE.match(value))
    return False


def _is_amp_param(key: str, value: str) -> bool:
    allowed = _AMP_PARAMS.get(key.lower())
    return allowed is not None and value.lower() in allowed


def _normalize_percent(part: str, safe: frozenset[str]) -> str:
    """RFC 3986 normalisation: decode escaped unreserved chars, upper-case hex, escape the rest.

    Escapes of reserved characters (e.g. ``%2F``) are kept, since decoding them changes meaning.
    """
    if safe is _PATH_SAFE and _PLAIN_PATH.fullmatch(part):
        return part  # the loop below would copy it character by character (a URL's paths mostly)
    out: list[str] = []
    i, n = 0, len(part)
    while i < n:
        ch = part[i]
        if ch == "%" and _PCT.match(part, i):
            byte = int(part[i + 1 : i + 3], 16)
            decoded = chr(byte)
            out.append(decoded if decoded in _UNRESERVED else "%" + _HEX[byte >> 4] + _HEX[byte & 15])
            i += 3
            continue
        if ch in safe:
            out.append(ch)
        else:
            out.extend("%" + _HEX[b >> 4] + _HEX[b & 15] for b in ch.encode("utf-8"))
        i += 1
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    """Resolve "." and ".." segments (RFC 3986 section 5.2.4) and collapse empty segments."""
    segments: list[str] = []
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if segments:
                segments.pop()
            continue
        segments.append(seg)
    return "/" + "/".join(segments) if segments else "/"


def _strip_amp_path(path: str) -> str:
    """Drop AMP markers from a path: an "amp" segment anywhere, ".amp" / ".amp.html" suffixes."""
    segments = [s for s in path.split("/") if s and s.lower() != "amp"]
    if segments:
        last = segments[-1]
        low = last.lower()
        if low.endswith(".amp.html"):
            last = last[: -len(".amp.html")] + ".html"
        elif low.endswith(".amp") and len(last) > 4:
            last = last[: -len(".amp")]
        segments[-1] = last
    return "/" + "/".join(segments)


@lru_cache(maxsize=4096)
def _registrable(host: str) -> str | None:
    """eTLD+1 of a host (private suffixes such as github.io count as suffixes), None if none."""
    return extract_domain(f"http://{host}/")


def _strip_variant_prefixes(host: str) -> str:
    """Remove www./m./mobile. prefixes as long as what is left is still the same registrable site."""
    domain = _registrable(host)
    if domain is None:
        return host
    changed = True
    while changed:
        changed = False
        match = _WWW_N.match(host)
        prefix = (
            match.group(0) if match else next((p for p in _VARIANT_HOST_PREFIXES if host.startswith(p)), None)
        )
        if prefix and len(host) - len(prefix) >= len(domain):
            host = host[len(prefix) :]
            changed = True
    return host


@lru_cache(maxsize=4096)
def _normalize_host(raw_host: str) -> str:
    """A host lower-cased, in ASCII (IDNA), without its www./m. prefixes (cached: the entries
    of a feed share their host)."""
    host = raw_host.strip().rstrip(".").lower()
    if not host:
        raise ValueError("URL has no host")
    if ":" in host:  # urlsplit's hostname of "[::1]": an IPv6 literal, without its brackets
        try:
            if "%" in host:  # a zone ("fe80::1%25eth0") names an interface of one machine
                raise ValueError("a zone identifier has no meaning on the web")
            return f"[{ipaddress.IPv6Address(host).compressed}]"
        except ValueError as exc:
            raise ValueError(f"invalid IPv6 host {raw_host!r}: {exc}") from None
    if re.fullmatch(r"[0-9a-z.\-_:]+", host):
        ascii_host = host
    else:
        try:
            ascii_host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise ValueError(f"invalid international host name {raw_host!r}: {exc}") from exc
    if not re.fullmatch(r"[0-9a-z](?:[0-9a-z.\-_]*[0-9a-z])?", ascii_host):
        raise ValueError(f"invalid host name {raw_host!r}")
    return _strip_variant_prefixes(ascii_host)


def _split(url: str) -> tuple[str, str, int | None, str, str]:
    """Parse and validate; returns (scheme, normalised host, port or None, path, query)."""
    if not isinstance(url, str):
        raise ValueError(f"URL must be a string, got {type(url).__name__}")
    text = url.strip()
    if not text:
        raise ValueError("empty URL")
    # a space in the path or the query ("/mon article.html", a CMS's file name) is escaped
    # below (%20), as browsers do (WHATWG URL): refused, the article was never fetched
    if _CONTROL.search(text):
        raise ValueError(f"URL contains control characters: {url!r}")
    if len(text) > MAX_URL_BYTES // 4 and len(text.encode("utf-8", "surrogatepass")) > MAX_URL_BYTES:
        raise ValueError(f"URL longer than {MAX_URL_BYTES} bytes: {text[:80]!r}...")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"malformed URL {url!r}: {exc}") from exc
    if _SPACE_OR_CONTROL.search(parts.netloc):
        raise ValueError(f"URL contains whitespace in its host (or port, user info): {url!r}")
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    if not parts.hostname:
        raise ValueError(f"URL has no host: {url!r}")
    if "[" in parts.netloc and not _BRACKETED.fullmatch(parts.netloc.rpartition("@")[2]):
        raise ValueError(f"malformed URL {url!r}: stray characters around the bracketed IPv6 host")
    host = _normalize_host(parts.hostname)
    if port == _DEFAULT_PORTS[scheme]:
        port = None
    return scheme, host, port, parts.path, parts.query


def _canonical_query(query: str) -> str:
    """The query without tracking and AMP parameters, sorted by key, every key and value escaped
    alike. A repeated key keeps its values in their order (``?id=2&id=1`` is ``id`` 1 to PHP,
    ``?id=1&id=2`` is 2: sorting the values made them one URL). Escapes that are not UTF-8
    (``%E9``, a Latin-1 "é") keep their bytes: decoded with the replacement character,
    ``?q=caf%E9`` and ``?q=caf%E8`` were one URL."""
    pairs = [
        (k, v)
        for k, v in parse_qsl(query, keep_blank_values=True, errors="surrogateescape")
        if k and not _is_tracking(k, v) and not _is_amp_param(k, v)
    ]
    pairs.sort(key=lambda pair: pair[0])  # stable: a repeated key's values stay in order
    return "&".join(_quote(k) + ("=" + _quote(v) if v else "") for k, v in pairs)


def _quote(part: str) -> str:
    return quote(part, safe="", errors="surrogateescape")


def _canonical(url: str) -> str:
    scheme, host, port, path, query = _split(url)
    # Dot segments, AMP suffixes and empty segments can uncover one another ("x.amp.amp",
    # "..amp"): iterate to a fixed point so the result is idempotent. Empty segments are dropped,
    # which also strips the trailing slash (the root stays "/").
    for _ in range(8):
        new_path = _strip_amp_path(_remove_dot_segments(_normalize_percent(path, _PATH_SAFE)))
        if new_path == path:
            break
        path = new_path
    netloc = host if port is None else f"{host}:{port}"
    canonical = urlunsplit((scheme, netloc, path, _canonical_query(query), ""))
    if len(canonical) > MAX_URL_BYTES:  # ASCII: every other character is escaped
        raise ValueError(f"URL longer than {MAX_URL_BYTES} bytes once normalised: {canonical[:80]!r}...")
    return canonical


def canonicalize_url(url: str, rel_canonical: str | None = None) -> str:
    """Canonical form of an article URL, used as its identity across feeds, shares and AMP pages.

    Lower-cases scheme and host, drops default ports, "www."/"m."/"mobile." host prefixes, AMP
    variants, fragments, user info and tracking parameters, sorts the remaining query, strips
    the trailing slash (except for the root) and normalises percent-encoding. ``rel_canonical``
    (the page's ``<link rel="canonical">``, possibly relative) wins when it is on the same site;
    a canonical pointing to another site is ignored (syndication partners must not absorb our
    source), and so is one naming the site's home page from another page (a template's tag).
    Idempotent. Raises ValueError for anything that is not an absolute http(s) URL, and for a
    URL longer than :data:`MAX_URL_BYTES` (given or normalised).
    """
    canonical = _canonical(url)
    if rel_canonical and rel_canonical.strip():
        try:
            candidate = _canonical(urljoin(url.strip(), rel_canonical.strip()))
        except ValueError:
            return canonical
        if same_site(canonical, candidate) and not _is_home(candidate, canonical):
            return candidate
    return canonical


def _is_home(candidate: str, page: str) -> bool:
    """A canonical naming the site's home page from another page: a template's fixed tag
    (a framework layout or an SEO plugin writes the home page on every page), not the
    page's identity. Taken as given, every article of the site was one URL, each new one
    stored as a revision of the last."""
    return urlsplit(candidate).path == "/" and not urlsplit(candidate).query and candidate != page


def host_of(url: str) -> str:
    """Normalised host (no www./m. prefix, no default port), the key for per-host rate limits."""
    _, host, port, _, _ = _split(url)
    return host if port is None else f"{host}:{port}"


def _site_key(url: str) -> str:
    _, host, port, _, _ = _split(url)
    domain = _registrable(host)
    if domain is not None:
        return domain
    # IP addresses, localhost and other hosts without a public suffix: the host and port are
    # the site (two local test servers on different ports are different sites).
    return host if port is None else f"{host}:{port}"


def same_site(a: str, b: str) -> bool:
    """True when both URLs belong to the same registrable domain (e.g. lemonde.fr).

    Hosts without a registrable domain (IPs, localhost) compare by host and port. Raises
    ValueError if either URL is invalid.
    """
    return _site_key(a) == _site_key(b)
