"""Why an article is relevant, in one line: the matched terms per zone and the sentence that
weighed most (from a relevance evidence dict), for search results, exports, the Atom feed and
run reports."""

from __future__ import annotations

from typing import Any

ZONE_ORDER = ("title", "lead", "body", "tail", "url")
SENTENCE_CHARS = 200


def why(evidence: dict[str, Any] | None, width: int | None = None) -> str:
    """ "title: A, B; lead: C x2; model: w:x, c:y | «best sentence»" (empty without evidence).

    ``width``: at most that many characters, for a line a person reads (a run report, a
    search hit): each zone keeps its strongest terms (by contribution) and says how many it
    leaves out ("body: IA x4, sommet, +9 more"), so every zone and the whole best sentence stay
    in view; a line cut in the middle lost the sentence, the part that says most. Exports,
    ``veille score`` and the feed give the whole line."""
    if not evidence:
        return ""
    per_zone: dict[str, list[tuple[str, float]]] = {}
    for name, match in (evidence.get("matched") or {}).items():
        strength = float(match.get("contribution") or 0.0)
        for zone, count in (match.get("zones") or {}).items():
            per_zone.setdefault(zone, []).append((name if count == 1 else f"{name} x{count}", strength))
    zones = [(zone, sorted(per_zone[zone])) for zone in ZONE_ORDER if zone in per_zone]
    extras = []
    short = evidence.get("short_text")
    if short and short.get("decided"):
        extras.append(_short_reason(short, (evidence.get("period") or {}).get("published_at")))
    context = evidence.get("context")
    if context and context.get("decided"):
        extras.append(_context_reason(context))
    model = evidence.get("model")
    if model and model.get("decided") and model.get("features"):
        extras.append("model: " + ", ".join(str(f[0]) for f in model["features"][:3]))
    sentence = (evidence.get("best_sentence") or "").strip()
    if len(sentence) > SENTENCE_CHARS:
        sentence = sentence[: SENTENCE_CHARS - 1].rstrip() + "…"
    shown = {zone: len(terms) for zone, terms in zones}
    line = _line(zones, shown, extras, sentence)
    while width is not None and len(line) > width:
        # the zone showing the most terms gives up its weakest (the later zone on a tie)
        zone = max(reversed(zones), key=lambda z: shown[z[0]])[0]
        if shown[zone] <= 1:
            break
        shown[zone] -= 1
        line = _line(zones, shown, extras, sentence)
    if width is not None and len(line) > width:  # one term a zone is still too long: cut it
        line = line[: max(width - 1, 0)].rstrip() + "…"
    return line


def _line(
    zones: list[tuple[str, list[tuple[str, float]]]], shown: dict[str, int], extras: list[str], sentence: str
) -> str:
    """The why line with ``shown[zone]`` of each zone's terms, its strongest, in name order."""
    parts = []
    for zone, terms in zones:
        keep = sorted(sorted(terms, key=lambda t: -t[1])[: shown[zone]])
        left = len(terms) - len(keep)
        parts.append(f"{zone}: {', '.join(name for name, _ in keep)}" + (f", +{left} more" if left else ""))
    line = "; ".join(parts + extras)
    if sentence:
        line = f"{line} | «{sentence}»" if line else f"«{sentence}»"
    return line


def _short_reason(short: dict[str, Any], published_at: str | None) -> str:
    """ "short text published in the peak 2025-02-01..2025-02-28: ai, entity" (or "in the
    active period", "undated", "naming 2025-02-10, in the peak ..." when its own words named a
    day of the peak): why a paragraph read on its own was kept. Evidence stored before the event
    groups existed was always decided in the peak."""
    if short.get("day") and short.get("peak"):
        start, end = short["peak"]
        when = f"naming {short['day']}, in the peak {start}..{end}"
    elif short.get("in_peak", True) and short.get("peak"):
        start, end = short["peak"]
        when = f"published in the peak {start}..{end}"
    else:
        when = "published in the active period" if published_at else "undated"
    themes = f" (themes: {' + '.join(short['theme'])})" if short.get("theme") else ""
    if short.get("bare"):
        themes += f" (the gathering: {' + '.join(short['bare'])})"
    return f"short text {when}: {', '.join(short['groups'])}{themes}"


def _context_reason(context: dict[str, Any]) -> str:
    """ "in context: like line 3 «Sommet IA: ...» (similarity 0.44; shared valorine, 4.2e9)": why
    a short text the rules missed was kept for its neighbour in the batch."""
    shared = ", ".join(str(f).split(":", 1)[-1] for f in context.get("shared") or ())
    title = context.get("neighbour_title") or ""
    return (
        f"in context: like line {context.get('neighbour')}"
        + (f" «{title}»" if title else "")
        + f" (similarity {context.get('similarity')}; shared {shared})"
    )
