"""Copies that survive real edits: containment, respun wording and translations (pure, no database).

MinHash/LSH (:mod:`monitors.group.dedup`) finds copies whose word 5-gram sets overlap (Jaccard >= 0.45).
Three kinds of copies escape it, and each has its own test here, all on the full texts of two
articles already known to be about one story (the candidates come from story assignment,
:mod:`monitors.group.stories`):

- **containment**: a feed's summary or a standfirst against the full article. The share of the
  shorter text's word 5-grams found in the longer one; the shorter text must have at least
  :data:`MIN_CONTAINED_WORDS` words (a headline alone is not a copy of anything).
- **respun wording**: the same text with synonyms, retyped quotes, a sentence added or cut. The
  longest common subsequence of the two texts' words (in order) covers most of the shorter
  text, *and* the names and numbers ("anchors") appear in the same order. Independent reports
  of one event share names, numbers and a quote but not the order of most of their words.
- **translation**: a French article and its English edition. Words are mapped through a small
  bilingual list of common news words (:data:`BILINGUAL`, ours) and anchors (names, numbers,
  months) are language-neutral; the anchors align in order, and the mapped words either align
  in order or stand at about the same relative positions (translation moves words locally).

Precision first: every threshold sits above what the dev set's independent reports, rewrites
and same-entity pairs reach (see docs/stories.md for the figures).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher

__all__ = [
    "MAX_ORDERED_WORDS",
    "MIN_CONTAINED_WORDS",
    "UNDETERMINED",
    "CopyEvidence",
    "Profile",
    "compare",
    "profile",
]

#: The shorter text of a containment copy has at least this many words.
MIN_CONTAINED_WORDS = 30
#: Share of the shorter text's word 5-grams inside the longer one.
CONTAINMENT = 0.8
#: Edited containment: the shorter text's content words lie in order inside the longer one
#: (dev: independent rewrites reach 0.74), with its anchors in the same order.
ORDERED_CONTAINMENT = 0.85
ORDERED_ANCHORS = 0.8
#: Respun copy: in-order shared content words over the *longer* text's (a rewrite that respins
#: one paragraph and adds its own reaches 0.46 on dev; an edited copy 0.66), and in-order shared
#: anchors over the shorter text's.
RESPIN_WORDS = 0.6
RESPIN_ANCHORS = 0.6
#: Translation (different languages only): in-order shared anchors and mapped content words,
#: over the shorter text (dev: a translation 0.80 / 0.54, same-event rewrites <= 0.60 / 0.34).
TRANSLATION_ANCHORS = 0.7
TRANSLATION_WORDS = 0.45
#: ... or, with the same anchors, the share of the shorter text's mapped words found in the
#: other at about the same relative position (:func:`_aligned`: tolerates the local word-order
#: changes of translation, "systèmes de défense aérienne" / "air defence systems"). Chosen on
#: dev and on our own cases (tests/test_copies.py): translations 0.56-0.75, independent reports
#: of one event in the other language <= 0.27 when their anchors reach 0.7 (dev's 0.57 has
#: anchors 0.54).
TRANSLATION_ALIGNED = 0.5
#: Relative-position window and stem of :func:`_aligned`.
ALIGN_WINDOW = 0.12
ALIGN_STEM = 4
MIN_ANCHORS = 6
#: The in-order measures (content words and anchors: longest common subsequences, quadratic in
#: the worst case) read the first this many words of each text: a longer text (a 20,000-word
#: report) cost about 1 s a comparison, 30,000 words 13 s, up to 30 comparisons per stored
#: article while its story locks are held. Four pages, longer than nearly every news article
#: (dev's longest has 120 content words); the 5-gram containment and the length still take the
#: whole text. bench/copies.py measures it.
MAX_ORDERED_WORDS = 2000
#: Content words are compared on their first letters: a crude stem that also matches cognates
#: across French and English ("accessibilité"/"accessibility", "rénover"/"renovate").
CONTENT_STEM = 5

#: characters that show nothing and sit inside words: the soft hyphen, zero-width space and
#: (non-)joiners, the word joiner, a stray byte-order mark. Every fold deletes them (here, in
#: dedup's normalisation and in relevance's): made a space, they cut a word in two
#: ("intelli\u00adgence", "Ma\u00adcron")
INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff"

_QUOTES = str.maketrans(
    {
        **dict.fromkeys(INVISIBLE, None),
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032\u02bc\u00b4`", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb\u2039\u203a", '"'),
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
        **dict.fromkeys("\u00a0\u202f\u2009", " "),
    }
)
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|\w+", re.UNICODE)
#: Scripts written without spaces between words: Thai, Lao, Myanmar, Khmer, the Japanese
#: iteration marks, kana, the CJK ideographs (Korean puts spaces between its words). A run of
#: them is one ``\w+`` "word" (a clause, a sentence), which no other text shares: cut into
#: overlapping character bigrams (:func:`split_words`), as search engines index such text.
_UNSPACED = re.compile(
    "[\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3005-\u3007\u3040-\u30ff\u31f0-\u31ff"
    "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f]+"
)
_COMBINING = re.compile("[\u0300-\u036f]")


_THOUSANDS = re.compile(r"(?<=\d)[ ,](?=\d{3}\b)")


def fold(text: str) -> str:
    """NFKC, one character per quote/dash/space, accents dropped (case kept), thousands
    separators removed ("100 000" and "100,000" are one number)."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    return _THOUSANDS.sub("", _COMBINING.sub("", unicodedata.normalize("NFD", text)))


# Months and number words, language-neutral keys.
_MONTHS = {
    **{
        m: f"m{i}"
        for i, m in enumerate(
            [
                "janvier",
                "fevrier",
                "mars",
                "avril",
                "mai",
                "juin",
                "juillet",
                "aout",
                "septembre",
                "octobre",
                "novembre",
                "decembre",
            ],
            1,
        )
    },
    **{
        m: f"m{i}"
        for i, m in enumerate(
            [
                "january",
                "february",
                "march",
                "april",
                "may",
                "june",
                "july",
                "august",
                "september",
                "october",
                "november",
                "december",
            ],
            1,
        )
    },
}
_SCALE = {
    "milliard": "e9",
    "milliards": "e9",
    "billion": "e9",
    "billions": "e9",
    "bn": "e9",
    "md": "e9",
    "mds": "e9",
    "millions": "e6",
    "million": "e6",
    "m": "e6",
    "mn": "e6",
    "trillion": "e12",
}

# Common news words, French -> English (written for veille; a few hundred frequent words of
# political, economic and tech news). English words map to themselves, so both sides meet on
# the English form.
_BILINGUAL_PAIRS = """
president:president presidente:president premier:first ministre:minister gouvernement:government
etat:state etats:states unis:united europe:europe europeen:european europeenne:european
europeens:european europeennes:european commission:commission union:union sommet:summit
intelligence:intelligence artificielle:artificial ia:ai milliard:billion milliards:billion
million:million millions:million euros:euros euro:euro dollars:dollars investissement:investment
investissements:investment investir:invest fonds:fund initiative:initiative lance:launch
lancer:launch lancement:launch annonce:announce annonces:announce annoncer:announce
aujourd:today hui:today demain:tomorrow hier:yesterday lundi:monday mardi:tuesday
mercredi:wednesday jeudi:thursday vendredi:friday samedi:saturday dimanche:sunday
nouveau:new nouvelle:new nouveaux:new nouvelles:new grand:large grande:large grands:large
plus:more moins:less tous:all toutes:all chercheurs:researchers scientifiques:scientists
entreprises:companies entreprise:company societe:company societes:companies startups:startups
developpement:development developper:develop modeles:models modele:model recherche:research
innovation:innovation competitivite:competitiveness sante:health soins:care croissance:growth
ouverture:openness cooperation:cooperation talents:talent talent:talent partenariat:partnership
partenaires:partners public:public prive:private capital:capital infrastructure:infrastructure
infrastructures:infrastructure centres:centers centre:center donnees:data data:data
energie:energy nucleaire:nuclear electricite:electricity france:france francais:french
francaise:french pays:country monde:world mondial:global mondiale:global international:international
internationale:international securite:security economie:economy economique:economic
politique:policy politiques:policies loi:law lois:laws regles:rules regulation:regulation
reglementation:regulation declaration:declaration accord:agreement signe:signed signer:sign
vice:vice americain:american americaine:american americains:american chinois:chinese
chine:china britannique:british royaume:kingdom uni:united inde:india allemagne:germany
force:force bien:good approche:approach continent:continent avance:advanced avances:advanced
complexes:complex ouvert:open collaboratif:collaborative necessaire:needed permettre:allow
mobiliser:mobilise mobilisation:mobilise parlement:parliament assemblee:assembly nationale:national
national:national senat:senate depute:mp deputes:mps parti:party partis:parties elections:election
election:election vote:vote censure:censure motion:motion dissolution:dissolution budget:budget
demission:resignation demissionne:resigned nomme:appointed nomination:appointment reconduit:reappointed
tribunal:court condamnation:conviction condamne:convicted appel:appeal proces:trial prison:prison
peine:sentence ineligibilite:ineligibility juges:judges justice:justice police:police enquete:investigation
vol:theft bijoux:jewels musee:museum couronne:crown ministere:ministry culture:culture
discours:speech declare:said affirme:said selon:according centre:centre ville:city capitale:capital
semaine:week mois:month annee:year ans:years jour:day jours:days heures:hours fin:end debut:start
premiere:first deuxieme:second troisieme:third dernier:last derniere:last prochain:next prochaine:next
emplois:jobs emploi:job travail:work travailleurs:workers sociale:social social:social
numerique:digital technologie:technology technologies:technologies tech:tech puces:chips
calcul:computing puissance:power ordinateurs:computers superordinateurs:supercomputers
usines:factories giga:giga gigausines:gigafactories valorisation:valuation levee:round
actionnaire:shareholder actionnaires:shareholders principal:main conseil:board administration:administration
siege:seat part:stake participation:stake licorne:unicorn
avoir:have devenir:become devient:becomes veut:wants vouloir:want pouvoir:power peut:can doit:must
faut:must besoin:need besoins:needs rester:remain reste:remains permet:allows permis:allowed
construire:build construction:construction batir:build projet:project projets:projects plan:plan
site:site sites:sites terrain:land terrains:land region:region regions:regions regionale:regional
ville:city villes:cities local:local locaux:local habitants:residents population:population
president:president presidence:presidency chef:head chefs:heads dirigeants:leaders leader:leader
responsables:officials ministres:ministers opposition:opposition majorite:majority gauche:left
droite:right extreme:far crise:crisis accord:agreement negociations:negotiations reunion:meeting
rencontre:meeting conference:conference presse:press journalistes:journalists medias:media
article:article rapport:report etude:study chiffres:figures chiffre:figure hausse:rise baisse:fall
augmentation:increase prix:price prix:prices cout:cost couts:costs marche:market marches:markets
bourse:stock banque:bank banques:banks financement:financing financer:finance argent:money
dette:debt deficit:deficit impots:taxes taxe:tax entreprises:companies groupe:group groupes:groups
geant:giant geants:giants americain:american etrangers:foreign etranger:foreign pays:countries
mondiaux:global puissance:power puissances:powers souverainete:sovereignty independance:independence
strategie:strategy strategique:strategic avenir:future futur:future histoire:history historique:historic
annonce:announced annonce:announcement vante:praised promis:promised promet:promises
consommation:consumption electrique:electric reseau:grid reseaux:networks eau:water climat:climate
environnement:environment emissions:emissions carbone:carbon refroidissement:cooling serveurs:servers
gigawatts:gigawatts megawatts:megawatts capacite:capacity capacites:capacities besoins:needs
investisseurs:investors emirats:emirates arabes:arab canada:canada canadien:canadian
question:question questions:questions probleme:problem problemes:problems risque:risk risques:risks
droits:rights liberte:freedom libertes:freedoms democratie:democracy citoyens:citizens
ecole:school education:education formation:training universite:university universites:universities
hopital:hospital medecins:doctors malades:patients victimes:victims morts:dead blesses:injured
guerre:war paix:peace armee:army defense:defence militaire:military attaque:attack
lundi:monday matin:morning soir:evening soiree:evening nuit:night apres:after avant:before
"""
BILINGUAL: dict[str, str] = dict(pair.split(":") for pair in _BILINGUAL_PAIRS.split())


def split_words(pattern: re.Pattern[str], text: str) -> list[str]:
    """``pattern.findall(text)`` (the words of a text), each run of a script written without
    spaces (:data:`_UNSPACED`) cut into its overlapping character bigrams (one character alone
    stays itself): two texts in Chinese or Japanese then share words, shingles and features
    as texts with spaces do. A text without such a run gives ``pattern.findall(text)``."""
    if not _UNSPACED.search(text):
        return pattern.findall(text)
    return [word for word, _, _ in word_spans(pattern, text)]


def word_spans(pattern: re.Pattern[str], text: str) -> list[tuple[str, int, int]]:
    """The words of :func:`split_words`, each with where it starts and ends in ``text``, for a
    reader that looks around a word (a name's sentence, the gap to the next word)."""
    words: list[tuple[str, int, int]] = []
    at = 0
    for run in _UNSPACED.finditer(text):
        words += [(m.group(), m.start(), m.end()) for m in pattern.finditer(text, at, run.start())]
        start, chars = run.start(), run.group()
        if len(chars) == 1:
            words.append((chars, start, start + 1))
        else:
            words += [(chars[i : i + 2], start + i, start + i + 2) for i in range(len(chars) - 1)]
        at = run.end()
    return words + [(m.group(), m.start(), m.end()) for m in pattern.finditer(text, at)]


def is_unspaced(word: str) -> bool:
    """Whether a word of :func:`split_words` is a bigram (or a lone character) of a script
    written without spaces."""
    return bool(_UNSPACED.match(word))


def wordset(words: str) -> frozenset[str]:
    """The whitespace-separated words of a literal, as a frozenset."""
    return frozenset(words.split())


_STOP = wordset(
    """le la les l un une des de du d et ou a au aux en dans sur pour par avec sans ce cet cette ces
    son sa ses leur leurs notre nos votre vos qui que qu quoi dont ou est sont etre ete a ont avait
    avoir fait il elle ils elles on nous vous je tu se s ne n pas plus y lui meme aussi comme mais
    donc or ni car tout tres deja
    the a an of and or to in on at for by with from as is are was were be been has have had it its
    this that these those which who whom he she they we you i not but also more than into about
    will would can could their his her our after before"""
)


def _number_key(token: str, following: str | None) -> str:
    value = token.replace(",", ".") if token.count(",") == 1 and len(token.split(",")[1]) != 3 else token
    value = value.replace(",", "")
    if value.count(".") > 1 or (value.count(".") == 1 and len(value.split(".")[1]) == 3 and "," not in token):
        value = value.replace(".", "")
    scale = _SCALE.get(following or "", "")
    return f"#{value}{scale}"


@dataclass(frozen=True)
class Profile:
    """What the copy tests read from one text, computed once per article."""

    language: str | None
    words: tuple[str, ...]  # folded, lower-cased words in order
    content: tuple[str, ...]  # words without stop words, mapped to the shared (English) form
    anchors: tuple[str, ...]  # names, numbers and months in order, language-neutral
    # (content and anchors: of the first MAX_ORDERED_WORDS words)
    shingles: frozenset[int]  # hashes of word 5-grams


#: What language detection answers for a text too short or too mixed to tell
#: (:data:`monitors.judge.language.UNDETERMINED`): no language, not another one.
UNDETERMINED = "und"


def profile(text: str, language: str | None = None) -> Profile:
    """The words, mapped content words, anchors and 5-gram hashes of a text (content words and
    anchors of its first :data:`MAX_ORDERED_WORDS` words only); ``language``
    "und" is unknown (None): taken for a language, a French teaser detected "und" was a
    "translation" of an independent French report, the translation rule having no minimum
    length and looser thresholds than the same-language ones."""
    if language == UNDETERMINED:
        language = None
    folded = fold(text)
    raw = split_words(_TOKEN, folded)
    lower = [t.lower() for t in raw]
    anchors: list[str] = []
    for i, token in enumerate(raw[:MAX_ORDERED_WORDS]):
        low = lower[i]
        nxt = lower[i + 1] if i + 1 < len(lower) else ""
        prev = lower[i - 1] if i else ""
        if token[0].isdecimal():  # not isdigit(): "❶" or "፩" is a digit int() cannot read
            if len(token) <= 2 and nxt in _MONTHS:
                anchors.append(f"{_MONTHS[nxt]}-{int(token)}")  # "9 septembre"
            elif not (len(token) <= 2 and prev in _MONTHS):  # "September 9": done at the month
                anchors.append(_number_key(token, nxt))
        elif low in _MONTHS:
            if prev.isdecimal() and len(prev) <= 2:
                continue
            day = f"-{int(nxt)}" if nxt.isdecimal() and len(nxt) <= 2 else ""
            anchors.append(_MONTHS[low] + day)
        elif token[0].isupper() and len(token) > 1 and low not in _STOP and low not in BILINGUAL:
            anchors.append(low)
    content = tuple(
        BILINGUAL.get(w, w)[:CONTENT_STEM]
        for w in lower[:MAX_ORDERED_WORDS]
        if w not in _STOP and w not in _MONTHS and len(w) > 1 and not w[0].isdigit()
    )
    shingles = frozenset(hash(tuple(lower[i : i + 5])) for i in range(max(0, len(lower) - 4)))
    return Profile(language, tuple(lower), content, tuple(anchors), shingles)


def _lcs(a: tuple[str, ...], b: tuple[str, ...]) -> int:
    """Length of an in-order alignment of a and b (difflib's matching blocks, no junk heuristic)."""
    if not a or not b:
        return 0
    return sum(block.size for block in SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks())


def _aligned(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    """Share of the shorter word sequence whose words (cut to ALIGN_STEM letters) appear in the
    other within ALIGN_WINDOW of the same relative position, each word of the other used once."""
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    if not small:
        return 0.0
    where: dict[str, list[int]] = {}
    for j, word in enumerate(large):
        where.setdefault(word[:ALIGN_STEM], []).append(j)
    used: set[int] = set()
    hits = 0
    for i, word in enumerate(small):
        at = i / len(small)
        for j in where.get(word[:ALIGN_STEM], ()):
            if j not in used and abs(j / len(large) - at) <= ALIGN_WINDOW:
                used.add(j)
                hits += 1
                break
    return hits / len(small)


@dataclass(frozen=True)
class CopyEvidence:
    """Why two texts are (or are not) copies: the measures and the rule that fired (None: none)."""

    rule: str | None
    containment: float
    words: float
    words_longer: float
    anchors: float
    shorter_words: int


def _ratio(common: int, a: tuple[str, ...], b: tuple[str, ...]) -> float:
    shorter = min(len(a), len(b))
    return common / shorter if shorter else 0.0


def compare(a: Profile, b: Profile) -> CopyEvidence:
    """Are the two texts one article (containment, respun copy or translation)?"""
    shorter_words = min(len(a.words), len(b.words))
    small, large = (a, b) if len(a.shingles) <= len(b.shingles) else (b, a)
    containment = len(small.shingles & large.shingles) / len(small.shingles) if small.shingles else 0.0
    common = _lcs(a.content, b.content)
    words = _ratio(common, a.content, b.content)
    longer = max(len(a.content), len(b.content))
    words_longer = common / longer if longer else 0.0
    anchors = _ratio(_lcs(a.anchors, b.anchors), a.anchors, b.anchors)
    enough_anchors = min(len(a.anchors), len(b.anchors)) >= MIN_ANCHORS
    same_language = a.language == b.language or not a.language or not b.language
    long_enough = shorter_words >= MIN_CONTAINED_WORDS
    rule: str | None = None
    if long_enough and (
        containment >= CONTAINMENT
        or (same_language and words >= ORDERED_CONTAINMENT and anchors >= ORDERED_ANCHORS)
    ):
        rule = "containment"
    elif a.language and b.language and a.language != b.language:
        if enough_anchors and anchors >= TRANSLATION_ANCHORS:
            aligned = _aligned(a.content, b.content)
            if words >= TRANSLATION_WORDS or aligned >= TRANSLATION_ALIGNED:
                rule = "translation"
    elif long_enough and words_longer >= RESPIN_WORDS and anchors >= RESPIN_ANCHORS:
        rule = "respin"
    return CopyEvidence(
        rule, round(containment, 3), round(words, 3), round(words_longer, 3), round(anchors, 3), shorter_words
    )
