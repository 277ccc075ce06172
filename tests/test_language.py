"""Language detection invariants: determinism, "und" on short input, French with English."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

from monitors.judge.language import (
    LanguageResult,
    clean_sample,
    detect_language,
)
from monitors.language_tags import normalize_declared_language
from monitors.ngram_profiles import _get_model, _ngram_rows

FR = (
    "Le sommet organisé les 10 et 11 février par Emmanuel Macron sur l'intelligence artificielle "
    "s'inscrit davantage dans une logique de communication pour séduire les investisseurs."
)
FR_TECH = (
    "La start-up a migré son back-end dans le cloud et entraîne ses modèles dans des data centers "
    "loués à des hyperscalers ; le CTO parle de machine learning et de time-to-market."
)
EN = "World leaders gather in Paris for a two-day summit on artificial intelligence this week."


def test_french_and_english() -> None:
    assert detect_language(FR).language == "fr"
    assert detect_language(EN).language == "en"


def test_french_full_of_english_tech_words_is_french() -> None:
    assert detect_language(FR_TECH).language == "fr"
    assert detect_language("Le cloud et les data centers de la start-up").language == "fr"


@pytest.mark.parametrize("text", ["", "   ", "IA", "Paris 2025", "hi there", "12 345 678", "x y"])
def test_und_on_short_or_empty(text: str) -> None:
    assert detect_language(text) == LanguageResult("und", 0.0)


def test_a_text_too_short_to_read_takes_the_declared_language() -> None:
    """Before, a name or a two-word title on a page declaring German was "und", as on a page
    declaring nothing: the page's word was ignored where the text says nothing (5 of the 120
    titles of ../shared/corpus). Confidence 0 says the text did not tell."""
    assert detect_language("Anna Keller", declared="de") == LanguageResult("de", 0.0)
    assert detect_language("Glossar - B", declared="de-DE") == LanguageResult("de", 0.0)
    assert detect_language("Sommet IA", declared="fra") == LanguageResult("fr", 0.0)
    assert detect_language("", title="Sommet IA", declared="fr") == LanguageResult("fr", 0.0)
    # nothing to read at all, a language veille cannot call, or no language: still "und"
    for text, declared in (
        ("", "fr"),
        ("12 345", "fr"),
        ("Anna Keller", "br"),
        ("Anna Keller", "gsw"),
        ("Anna Keller", "xx"),
        ("Anna Keller", None),
    ):
        assert detect_language(text, declared=declared) == LanguageResult("und", 0.0)


def test_a_text_read_and_left_in_doubt_stays_und_whatever_is_declared() -> None:
    """An Italian headline on a page declaring French: the text argues against French even
    with its prior (best 0.59), so "und", not the declared language."""
    assert detect_language("La Juventus vince ancora e resta in corsa", declared="fr").language == "und"


def test_confidence_in_unit_interval() -> None:
    for text in (FR, FR_TECH, EN, "Der KI-Gipfel in Paris beginnt am Montag mit Reden"):
        result = detect_language(text)
        assert 0.0 <= result.confidence <= 1.0


def test_deterministic_across_calls() -> None:
    texts = [FR, FR_TECH, EN, "Sommet IA : la Chine signe, Washington s'abstient"]
    first = [detect_language(t) for t in texts]
    for _ in range(5):
        assert [detect_language(t) for t in texts] == first


def test_deterministic_across_threads() -> None:
    texts = [FR, FR_TECH, EN, "Il vertice di Parigi sull'intelligenza artificiale si chiude"] * 10
    expected = [detect_language(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(detect_language, texts))
    assert got == expected


def test_title_is_read_with_text() -> None:
    assert detect_language(FR, title="Sommet sur l'IA").language == "fr"
    # a title alone still gets an answer when long enough
    assert detect_language("", title="Le sommet sur l'IA s'ouvre lundi à Paris").language == "fr"


def test_all_caps_headline() -> None:
    assert detect_language("J'AI TESTÉ LE NOUVEAU TGV ENTRE PARIS ET LYON").language == "fr"


# titles of tests/eval/language.jsonl that are misread alone (fr, it, und) and are English
SHORT_ENGLISH = [
    "Activists protest outside Paris AI summit",
    "Macron unveils 109 billion euros of AI investment",
    "Microsoft to spend 80 billion dollars on AI data centres",
]


@pytest.mark.parametrize("title", SHORT_ENGLISH)
def test_a_declared_language_decides_a_short_text_the_text_leaves_in_doubt(title: str) -> None:
    assert detect_language(title).language != "en"
    assert detect_language(title, declared="en").language == "en"


def test_a_declared_language_does_not_override_a_clear_text() -> None:
    """A template's lang="en" on a French article (7 of 108 real pages declared a wrong
    language, all of them "en"): the text wins, and so does a short one in doubt of nothing."""
    assert detect_language(FR, declared="en").language == "fr"
    assert detect_language(FR_TECH, declared="en").language == "fr"
    assert detect_language(EN, declared="fr").language == "en"
    assert (
        detect_language("", title="Le sommet sur l'IA s'ouvre lundi à Paris", declared="en").language == "fr"
    )


@pytest.mark.parametrize("declared", ["xx", "qq", "xyz", "qaa", "und", "mul", None])
def test_a_declared_code_that_is_no_iso_language_changes_nothing(declared: str | None) -> None:
    for text in (*SHORT_ENGLISH, FR, "Sommet IA : la Chine signe, Washington s'abstient"):
        assert detect_language(text, declared=declared) == detect_language(text)


# our own sentences in languages langdetect's profiles do not know
REGIONAL = {
    "br": "Ar vugale a ya d'ar skol bemdez gant o mamm. Brezhoneg a vez komzet c'hoazh e kalz a "
    "gêrioù, met nebeutoc'h a dud yaouank a gomz anezhañ bremañ.",
    "oc": "Lo vilatge es plan polit e la gent i son braves. Cada matin los enfants van a l'escòla e "
    "los vièlhs parlan encara occitan a l'ostal.",
    "co": "U paese hè chjucu ma a ghjente hè brava. Ogni mane i zitelli vanu à a scola è i vechji "
    "parlanu sempre corsu in casa.",
    "eu": "Herria txikia da baina jendea oso atsegina da. Goizero haurrak eskolara joaten dira eta "
    "zaharrek euskaraz hitz egiten dute etxean.",
}


@pytest.mark.parametrize("code", sorted(REGIONAL))
def test_a_text_declared_in_a_language_the_profiles_do_not_know_is_und(code: str) -> None:
    """Before, the declared Breton, Occitan, Corsican or Basque changed nothing and each text
    was called by its nearest profile: Hungarian (0.70), Catalan (0.64), Italian (0.99),
    Slovene (0.61); their first sentences Turkish (1.0), French (0.999, the short-text lean to
    French), Italian (0.97), Portuguese (1.0). The page says which language it is and veille
    cannot identify it: "und" (the declared code is stored beside it)."""
    text, headline = REGIONAL[code], REGIONAL[code].split(".")[0]
    assert detect_language(text, declared=code) == LanguageResult("und", 0.0)
    assert detect_language(headline, declared=code) == LanguageResult("und", 0.0)
    # the text alone is still read as its nearest profile: the declaration is what tells
    assert detect_language(text).language not in ("und", code)


# our own words, in Alsatian (Swiss German's ISO 639-2 code "gsw"), a language with no profile
ALSATIAN = (
    "D'Kinder gehn jeder Morje in d'Schüel un d'Alte redde noch elsässisch deheim. Im Dorf "
    "gitt's e Bäckerei un e Wirtschaft, wo mer am Sunndi z'sämme hockt."
)


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("gsw", ALSATIAN),
        ("gsw-FR", ALSATIAN),
        ("bre", REGIONAL["br"]),
        ("oci", REGIONAL["oc"]),
        ("cos", REGIONAL["co"]),
        ("eus", REGIONAL["eu"]),
        ("baq", REGIONAL["eu"]),
    ],
)
def test_a_three_letter_code_of_a_language_the_profiles_do_not_know_is_und(code: str, text: str) -> None:
    """Before, a three-letter declared code was dropped as if none was declared (normalize gave
    None, and detect_language ignored it): an Alsatian page under lang="gsw" was German (1.0),
    Breton under "bre" Hungarian, while "br" gave "und"."""
    assert detect_language(text, declared=code) == LanguageResult("und", 0.0)
    assert detect_language(text.split(".")[0], declared=code) == LanguageResult("und", 0.0)


@pytest.mark.parametrize(("code", "two_letters"), [("eng", "en"), ("fre", "fr"), ("fra", "fr")])
def test_a_three_letter_code_of_a_known_language_is_the_same_prior(code: str, two_letters: str) -> None:
    """ISO 639-2/3 codes (MARC and library feeds write "eng", "fre", "ger") weigh as the
    two-letter one: before, "eng" was ignored and these English headlines stayed fr or und."""
    for title in (*SHORT_ENGLISH, "Sommet IA : la Chine signe, Washington s'abstient"):
        assert detect_language(title, declared=code) == detect_language(title, declared=two_letters)
    for title in SHORT_ENGLISH:
        assert detect_language(title, declared="eng").language == "en"
    headline = "Die Regierung plant neue Wohnungen in den Städten"
    for code in ("ger", "deu"):
        assert detect_language(headline, declared=code) == detect_language(headline, declared="de")


def test_norwegian_declared_as_bokmal_or_nynorsk_is_the_profiles_norwegian() -> None:
    headline = "Regjeringen vil bygge flere boliger i byene"
    assert detect_language(headline, declared="nb") == detect_language(headline, declared="no")
    assert detect_language(headline, declared="nn") == detect_language(headline, declared="no")
    assert detect_language(headline, declared="nob") == detect_language(headline, declared="no")


ARABIC = "أعلنت وزارة الصحة اليوم عن إطلاق حملة وطنية جديدة للتطعيم ضد الإنفلونزا في جميع المدارس"
CHINESE = (
    "国家卫生健康委员会今天宣布，在全国范围内启动新的流感疫苗接种运动。"
    "这次运动将覆盖所有学校和医院，并持续到明年三月。专家表示，接种疫苗是预防流感最有效的方法。"
)


@pytest.mark.parametrize(
    ("text", "macro", "members"),
    [
        # Najdi, Egyptian, Levantine, Mesopotamian Arabic (the last two named by ISO 639-3 only,
        # not by CLDR's English names); a region changes nothing
        (ARABIC, "ar", ("ars", "arz", "apc", "acm", "ars-SA", "arz-EG")),
        # Cantonese, Mandarin, Wu, Hakka, Min Nan, Min Dong (ISO 639-3 only)
        (CHINESE, "zh", ("yue", "cmn", "wuu", "hak", "nan", "cdo", "yue-Hans")),
    ],
    ids=["arabic", "chinese"],
)
def test_a_language_inside_a_macrolanguage_is_read_as_it(
    text: str, macro: str, members: tuple[str, ...]
) -> None:
    """A page declaring an individual language of an ISO 639-3 macrolanguage (Najdi Arabic
    "ars", Cantonese "yue") is read through that macrolanguage, whose profile is built on its
    written standard: on main the declaration, a language the profiles do not know, made clear
    Arabic and Chinese text "und", though undeclared it read ar/zh at 1.0."""
    assert detect_language(text) == LanguageResult(macro, 1.0)
    for code in members:
        assert detect_language(text, declared=code) == detect_language(text, declared=macro), code
        # too short to read: the page's word for it, as for the macrolanguage declared
        assert detect_language(text[:6], declared=code) == LanguageResult(macro, 0.0), code


def test_a_macrolanguage_member_is_not_read_as_a_neighbour_the_profiles_know() -> None:
    """Only the macrolanguage itself stands in: Standard Malay "zsm" (and "ms") has no profile
    and stays "und" (Indonesian "id", its fellow member, is not it); a language in no
    macrolanguage (Swiss German "gsw", Breton "br") stays unknown; Swahili "swh" is "sw", Dari
    "prs" (CLDR: "fa_AF") and Iranian "pes" Persian "fa"."""
    malay = "Kerajaan mengumumkan kempen vaksinasi baharu di semua sekolah dan hospital di seluruh negara"
    for code in ("zsm", "ms", "gsw", "br"):
        assert detect_language(malay, declared=code) == LanguageResult("und", 0.0), code
    swahili = "Serikali imetangaza kampeni mpya ya chanjo katika shule na hospitali zote nchini"
    assert detect_language(swahili, declared="swh") == detect_language(swahili, declared="sw")
    persian = "وزارت بهداشت امروز از آغاز کارزار تازه واکسیناسیون در همه مدرسه‌ها خبر داد"
    for code in ("prs", "pes", "fa-AF"):
        assert detect_language(persian, declared=code) == detect_language(persian, declared="fa")
        assert detect_language(persian[:8], declared=code) == LanguageResult("fa", 0.0), code


def test_filipino_is_the_profiles_tagalog() -> None:
    """CLDR writes Tagalog "fil" (Filipino, its standard form); the profiles call it "tl"."""
    headline = "Ang mga bata ay pumapasok sa paaralan tuwing umaga kasama ang kanilang ina"
    assert detect_language(headline, declared="fil") == detect_language(headline, declared="tl")
    assert detect_language(headline, declared="tgl") == detect_language(headline, declared="tl")


# our own: an English headline opening a French text, the page's h1 kept by extraction
HEADLINE = "Black Friday: the best deals on laptops and phones"
BODY = "Les enseignes cassent les prix. Les clients se pressent dans les magasins dès l'ouverture."


def test_a_title_the_text_already_holds_is_read_once() -> None:
    """Before, the title was read before a text that starts with it: twice in the sample, the
    English headline weighed double (confidence 0.31 for French instead of 0.42)."""
    once = detect_language(BODY, title=HEADLINE)
    assert detect_language(f"{HEADLINE}\n{BODY}", title=HEADLINE) == once
    # case and spacing aside, and after a dateline
    assert detect_language(f"{HEADLINE.upper()}\n{BODY}", title=HEADLINE) == detect_language(
        f"{HEADLINE.upper()}\n{BODY}"
    )
    dated = f"Publié le 28 novembre\n{HEADLINE.replace(' ', '  ')}\n{BODY}"
    assert detect_language(dated, title=HEADLINE) == detect_language(dated)
    # a title the text does not hold is still read with it
    assert once != detect_language(BODY)


def test_clean_sample_strips_noise_and_caps_length() -> None:
    sample = clean_sample("Voir https://example.org/a?b=1 et a.b@example.fr, snake_case 2025 10h30")
    assert "http" not in sample and "@" not in sample and "snake_case" not in sample
    assert not any(ch.isdigit() for ch in sample)
    assert len(clean_sample("mot " * 5000)) <= 2000


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("fr-FR", "fr"),
        ("FR", "fr"),
        ("en_US", "en"),
        (" fr ", "fr"),
        ("fra", "fr"),
        # three-letter codes (ISO 639-2/3) through CLDR's aliases; deprecated two-letter ones too
        ("fre", "fr"),
        ("ENG", "en"),
        ("ger", "de"),
        ("deu-DE", "de"),
        ("bre", "br"),
        ("oci", "oc"),
        ("baq", "eu"),
        ("nob", "nb"),
        ("iw", "he"),
        # a language with no two-letter code keeps its own
        ("gsw", "gsw"),
        ("gsw-CH", "gsw"),
        ("haw", "haw"),
        ("fil", "fil"),
        ("tgl", "fil"),
        # a member of an ISO 639-3 macrolanguage CLDR's names lack (Levantine Arabic, Dari)
        ("apc", "apc"),
        # CLDR aliases carrying a region or a script keep their language (main dropped them)
        ("prs-AF", "fa"),
        ("swc", "sw"),
        ("swc-CD", "sw"),
        ("sh", "sr"),
        ("hbs", "sr"),
        ("tl", "tl"),
        # three letters naming no language
        ("xyz", None),
        ("und", None),
        ("mul", None),
        ("zxx", None),
        ("", None),
        (None, None),
        ("  ", None),
        ("français", None),
        ("x", None),
    ],
)
def test_normalize_declared_language(value: str | None, expected: str | None) -> None:
    assert normalize_declared_language(value) == expected


@pytest.fixture(scope="module")
def langdetect_factory() -> DetectorFactory:
    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    return factory


@pytest.mark.parametrize(
    "text",
    [
        FR,
        FR_TECH,
        EN,
        "L'IA : « sommet » à Paris, l’Élysée — 10-11 février !",
        "NASA and the EU sign an MoU on AI; the CEO of OpenAI attends",
        "Привет мир, это тест на русском языке with some English",
        "Hà Nội là thủ đô của Việt Nam",
        "東京で人工知能サミットが開かれた",
        "L'IA 🤖 au sommet de Paris 😀",  # beyond the BMP: one code unit each
        "𝐀B et 𝐀𝐁C : l'IA à PARIS",  # upper case beyond the BMP ends an all-capitals pair
    ],
)
def test_ngrams_are_langdetects(text: str, langdetect_factory: DetectorFactory) -> None:
    """The n-grams scored are exactly those langdetect's own Detector extracts."""
    detector = langdetect_factory.create()
    detector.append(text)
    detector.cleaning_text()
    model = _get_model()
    expected = [model.index[g] for g in detector._extract_ngrams()]
    assert _ngram_rows(text, model) == expected


def test_upper_stand_in_is_upper_case_and_in_no_profile() -> None:
    """The stand-in for upper-case characters beyond the BMP must end all-capitals runs as they
    do and must never match a profile n-gram."""
    from monitors.ngram_profiles import _NO_GRAM, _UPPER_STAND_IN

    assert _UPPER_STAND_IN.isupper() and not _NO_GRAM.isupper()
    profile_chars = {ch for gram in _get_model().index for ch in gram}
    assert _UPPER_STAND_IN not in profile_chars and _NO_GRAM not in profile_chars


# --- the compiled n-gram sums (monitors/_ngrams.c) against the numpy path ---------------------


def _compiled() -> Any:
    return pytest.importorskip("monitors._ngrams", reason="monitors._ngrams is not compiled (no C compiler?)")


def test_the_compiled_sums_name_the_module_that_uses_them() -> None:
    """monitors/_ngrams.c's comments and module doc name the Python path it twins
    (``_spaced``, the numpy path): each module, file and function it names exists. 810bf6c
    moved them to monitors/ngram_profiles.py; the C file still named monitors.language."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    source = (root / "monitors" / "_ngrams.c").read_text("utf-8")
    named = set(re.findall(r"\bmonitors(?:[./]\w+)+", source)) - {"monitors._ngrams", "monitors/_ngrams.c"}
    assert named
    for name in sorted(named):
        parts = name.removesuffix(".py").replace("/", ".").split(".")
        for end in range(len(parts), 0, -1):  # the longest prefix that is a module
            module = root.joinpath(*parts[:end]).with_suffix(".py")
            if module.exists():
                break
        else:
            raise AssertionError(f"{name}: no such module")
        text = module.read_text("utf-8")
        for attribute in parts[end:]:
            assert re.search(rf"^(?:def |class )?{attribute}\b", text, re.M), f"{name}: no {attribute}"


def _both_paths(sample: str) -> tuple[list[float] | None, list[float] | None]:
    from monitors.ngram_profiles import _numpy_log_likelihood, _spaced

    ngrams = _compiled()
    model = _get_model()
    assert model.packed is not None  # compiled, so the model packs its index
    compiled = ngrams.log_likelihood(_spaced(sample), model.packed, model.log_probs)
    return compiled, _numpy_log_likelihood(sample, model)


def _eval_texts() -> list[str]:
    from pathlib import Path

    from monitors.judge.evaluation import read_labelled

    texts = []
    for name in ("language.jsonl", "relevance.jsonl"):
        for item in read_labelled(Path(__file__).parent / "eval" / name):
            texts.append(f"{item.get('title') or ''}\n{item['text']}")
    return texts


def test_compiled_sums_equal_numpy_on_eval_sets() -> None:
    """Same log-likelihoods, to the last bit, on every eval text: cleaned (as detection runs it)
    and raw, whole (past the sample's cap)."""
    texts = _eval_texts()
    assert len(texts) >= 320
    differ = []
    for text in texts:
        for sample in (clean_sample(text), text):
            compiled, reference = _both_paths(sample)
            if compiled != reference:
                differ.append(sample[:60])
    assert not differ


@pytest.mark.parametrize(
    "text",
    [
        FR,
        "NASA and the EU sign an MoU on AI; the CEO of OpenAI attends",
        "ÉLYSÉE ET MATIGNON : L'IA À PARIS",
        "Hà Nội là thủ đô của Việt Nam",
        "東京で人工知能サミットが開かれた",
        "L'IA 🤖 au sommet de Paris 😀",
        "𝐀B et 𝐀𝐁C : l'IA à PARIS",
        "a",
        "",
        "   ",
        "x😀",
        "Le sommet \ud800 de Paris",  # a lone surrogate (JSON input can carry one): one code unit
    ],
)
def test_compiled_sums_equal_numpy(text: str) -> None:
    compiled, reference = _both_paths(text)
    assert compiled == reference


@given(
    st.text(
        alphabet=st.sampled_from(list("aeiosnt AEIOSNT éèàçÉÀ’'-ßœ ПпЖжИи 東京 😀𝐀𝐁 ÂẠạ\u0301\ud800")),
        max_size=80,
    )
)
@settings(max_examples=400, deadline=None)
def test_compiled_sums_equal_numpy_fuzzed(text: str) -> None:
    compiled, reference = _both_paths(text)
    assert compiled == reference


def test_lone_surrogate_is_read_not_raised() -> None:
    """A lone surrogate (JSON lines may carry "\\ud800") is one code unit that no profile holds."""
    from monitors.ngram_profiles import _numpy_log_likelihood

    text = "Le sommet de Paris \ud800 sur l'intelligence artificielle"
    assert detect_language(text).language == "fr"
    assert _numpy_log_likelihood(text, _get_model()) is not None


def test_compiled_sums_reject_a_foreign_index() -> None:
    ngrams = _compiled()
    model = _get_model()
    with pytest.raises(ValueError, match="build_index"):
        ngrams.log_likelihood(" le sommet ", b"\x00" * 100, model.log_probs)
    with pytest.raises(ValueError, match="a row per indexed code"):
        ngrams.log_likelihood(" le sommet ", model.packed, model.log_probs[:10])
    with pytest.raises(TypeError):
        ngrams.log_likelihood(b" le sommet ", model.packed, model.log_probs)
    with pytest.raises(ValueError, match="uint64"):
        ngrams.build_index(model.codes.astype("float64"))


def test_the_model_cached_on_disk_is_the_model_built_from_the_profiles(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each worker reads the arrays from VEILLE_DATA_DIR/cache instead of langdetect's profiles
    (issue 19: half a second of CPU per worker); a damaged cache file is built again."""
    from monitors import ngram_profiles

    monkeypatch.setenv("VEILLE_DATA_DIR", str(tmp_path))
    path = ngram_profiles._cache_file()
    assert path is not None and path.parent == tmp_path / "cache"
    built = ngram_profiles._build_model()
    ngram_profiles._write_cached(path, built)
    cached = ngram_profiles._read_cached(path)
    assert cached is not None
    assert cached.languages == built.languages
    for name in ("log_probs", "codes", "packed"):
        a, b = getattr(cached, name), getattr(built, name)
        assert (a is None and b is None) or (a.dtype == b.dtype and np.array_equal(a, b))
    grams = sorted(_profile_grams(), key=ngram_profiles._gram_code)
    assert cached.index == {g: i for i, g in enumerate(grams)}
    path.write_bytes(path.read_bytes()[:1000])  # a writer that died half-way
    assert ngram_profiles._read_cached(path) is None
    monkeypatch.setattr(ngram_profiles, "_model", None)
    assert ngram_profiles._get_model().codes.tolist() == built.codes.tolist()  # built again, rewritten
    assert ngram_profiles._read_cached(path) is not None


def _profile_grams() -> list[str]:
    """langdetect's n-grams, as it loads them."""
    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    return list(factory.word_lang_prob_map)


MIXED = (
    "Le président a annoncé un plan pour l'intelligence artificielle. "
    "The president announced a plan for artificial intelligence today."
)


def test_confidence_of_a_text_in_two_languages_says_so() -> None:
    """Half French, half English: the language is one of them, its confidence about a half
    (before: 1.0, the whole sample's posterior, which naive Bayes pushes to 0 or 1 whatever
    the text); a text in one language keeps a confidence near 1 sentence by sentence too."""
    mixed = detect_language(MIXED)
    assert mixed.language in ("fr", "en")
    assert 0.3 <= mixed.confidence <= 0.7, mixed
    five = detect_language(
        "Der Gipfel beginnt in Paris. Le sommet commence à Paris. The summit begins in Paris. "
        "La cumbre empieza en París. Il vertice comincia a Parigi."
    )
    assert five.confidence < 0.5, five
    for text in (FR + " " + FR_TECH, EN + " " + EN.replace("this week", "next week")):
        assert detect_language(text).confidence >= 0.99
    assert detect_language(MIXED) == mixed  # deterministic


def test_a_short_first_sentence_joins_the_next_one() -> None:
    """A text opening with a short sentence ("Bonjour.") and one more ended detect_language in
    an IndexError (the page's analysis failed: "analysis failed: IndexError"); with more
    sentences, the short one was joined to the wrong one and the last sentence was not read
    (French, then English: confidence 1.0, the English sentence unseen)."""
    from monitors.judge.language import _sentences

    french = "Le président a annoncé un plan pour l'intelligence artificielle aujourd'hui."
    english = "The president announced a plan for artificial intelligence today."
    assert detect_language(f"Bonjour. {french}").language == "fr"
    assert _sentences(f"Oui. {french} {english}") == [f"Oui. {french}", english]
    assert detect_language(f"Oui. {french} {english}").confidence < 0.7


# Our own sentences (Taipei, Hong Kong, Beijing, Tokyo, Seoul news of no particular day)
TRADITIONAL_TAIPEI = (
    "台北市政府今天宣布，明年起將擴大公共運輸補助，讓通勤族每月只需支付一千元就能無限搭乘捷運與公車。"
)
TRADITIONAL_HONG_KONG = (
    "香港立法會昨日通過新的房屋政策，政府將在未來五年興建更多公營房屋，以縮短市民輪候時間。"
)
SIMPLIFIED_BEIJING = (
    "北京市政府今天宣布，明年起将扩大公共交通补贴，让通勤族每月只需支付一千元就能无限乘坐地铁和公交。"
)
JAPANESE_KANJI_HEAVY = (
    "東京都議会は本日、来年度予算案を可決した。防災対策費と子育て支援費が過去最大規模となる。"
)
KOREAN_WITH_HANJA = (
    "北 미사일 발사에 정부가 긴급회의를 소집했다. 국방부는 추가 도발 가능성에 대비해 경계 태세를 강화했다."
)


@pytest.mark.parametrize(
    "text",
    [TRADITIONAL_TAIPEI, TRADITIONAL_HONG_KONG, SIMPLIFIED_BEIJING],
    ids=["taipei", "hong-kong", "beijing"],
)
@pytest.mark.parametrize("declared", [None, "zh-TW", "zh-HK", "zh-Hant", "zh"])
def test_chinese_with_no_hangul_is_not_korean(text: str, declared: str | None) -> None:
    """langdetect's Korean profile holds Han characters (Hanja: 2% of its letters), and it
    outscored Chinese on these Chinese news sentences: on main each read "ko" at 0.72-1.0,
    declared zh-TW or not. A text whose letters hold no Hangul cannot be Korean."""
    result = detect_language(text, declared=declared)
    assert result.language == "zh", result
    assert result.confidence >= 0.99, result


def test_the_script_still_lets_korean_with_hanja_and_japanese_with_kanji_through() -> None:
    """The rule only removes languages the scripts rule out: Korean with a Hanja headline word is
    Korean, Japanese with many kanji (and kana) Japanese, and a Chinese text quoting a Korean name
    in Hangul (under a tenth of its letters) is still not Korean."""
    assert detect_language(KOREAN_WITH_HANJA) == LanguageResult("ko", 1.0)
    assert detect_language(JAPANESE_KANJI_HEAVY) == LanguageResult("ja", 1.0)
    assert detect_language(JAPANESE_KANJI_HEAVY, declared="zh-TW").language == "ja"
    assert detect_language(TRADITIONAL_TAIPEI + "（김민수）").language == "zh"


def test_the_scripts_each_language_is_written_in_come_from_its_profile() -> None:
    from monitors.judge.language import _language_scripts

    languages = _get_model().languages
    scripts = dict(zip(languages, _language_scripts(languages), strict=True))
    assert scripts["ko"] == {"HANGUL"}
    assert scripts["ja"] == {"CJK", "KANA"}
    assert scripts["zh-tw"] == scripts["zh-cn"] == {"CJK"}
    assert scripts["fr"] == scripts["en"] == {"LATIN"}
    assert scripts["ru"] == {"CYRILLIC"}


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("台北捷運新路線今天正式通車營運", "zh"),
        ("北京地铁新线路今天正式开通运营", "zh"),
        ("東京の新しい地下鉄路線が今日開業した", "ja"),
    ],
    ids=["traditional", "simplified", "japanese"],
)
def test_a_sentence_written_without_spaces_is_not_one_word(text: str, language: str) -> None:
    """An unspaced Chinese or Japanese sentence of 15-18 characters was one word for the
    short-text rule (3 words at least), so undeclared it was "und" on main. Letters of scripts
    written without spaces count one word per CHARS_PER_WORD."""
    assert detect_language(text).language == language
    # still too short to read: a name, two characters
    assert detect_language(text[:4]) == LanguageResult("und", 0.0)


def test_a_script_no_profile_writes_rules_out_no_language() -> None:
    """Armenian rules out every language, so none is: the n-grams decide, as before the rule;
    Japanese of kanji alone, no kana, reads as Chinese, declared "ja" or not."""
    from monitors.judge.language import _impossible

    model = _get_model()
    armenian = "Կառավարությունը այսօր հայտարարեց նոր ծրագրի մասին, որը կօգնի գյուղացիներին"
    assert _impossible(armenian, model) is None
    assert _impossible(FR, model) is None
    ruled_out = _impossible(TRADITIONAL_TAIPEI, model)
    assert ruled_out is not None
    assert {lang for lang, out in zip(model.languages, ruled_out, strict=True) if not out} == {
        "ja",
        "zh-cn",
        "zh-tw",
    }
    kanji_only = "東京都知事選挙告示、候補者各氏首都圏交通政策発表"
    assert detect_language(kanji_only).language == "zh"


def test_kanji_alone_on_a_page_declaring_japanese_is_japanese() -> None:
    """Japanese of kanji alone, no kana, read "zh" on main even declared "ja" (at 0.998): every
    Han character weighs for Chinese, whose profile is all Han (Japanese's 38%), so such a text
    cannot tell the two apart and the page's word decides, with confidence 0 (the text did not).
    Undeclared, or declared Chinese, it is Chinese as before; Japanese with kana is read."""
    kanji_only = "東京都知事選挙告示、候補者各氏首都圏交通政策発表"
    assert detect_language(kanji_only, declared="ja") == LanguageResult("ja", 0.0)
    assert detect_language(kanji_only, declared="ja-JP") == LanguageResult("ja", 0.0)
    assert detect_language(kanji_only, declared="zh").language == "zh"
    assert detect_language(JAPANESE_KANJI_HEAVY, declared="ja") == LanguageResult("ja", 1.0)
    # what the text decides is kept: Korean (Hangul) on a page declaring ja
    assert detect_language(KOREAN_WITH_HANJA, declared="ja").language == "ko"


def test_a_short_text_in_a_script_its_declared_language_is_not_written_in_is_not_it() -> None:
    """A text too short to read was in the page's declared language before the scripts were
    looked at: Cyrillic on a page declaring "en" read "en" on main. The scripts rule a
    language out at any length; such a text is "und"."""
    assert detect_language("Москва сегодня", declared="en") == LanguageResult("und", 0.0)
    assert detect_language("서울 개막", declared="zh") == LanguageResult("und", 0.0)
    assert detect_language("Paris", declared="ru") == LanguageResult("und", 0.0)
    # in a script the declared language is written in: its word, as before
    assert detect_language("Москва сегодня", declared="ru") == LanguageResult("ru", 0.0)
    assert detect_language("東京", declared="ja") == LanguageResult("ja", 0.0)
    assert detect_language("Glossar - B", declared="de") == LanguageResult("de", 0.0)


# our own: a Chinese news item and a Japanese one, each of two sentences, no space between them
CHINESE_TWO = "国家统计局今天发布数据显示，今年前三个季度经济同比增长。专家认为，消费和出口的回暖是主要原因。"
JAPANESE_TWO = (
    "気象庁によると、大型の台風が週末にかけて九州地方に接近する見込みです。"
    "各自治体は住民に早めの避難を呼びかけています。"
)


def test_chinese_and_japanese_sentences_end_at_their_full_stops() -> None:
    """Sentences were cut at a space after . ! ? or …: a Chinese or Japanese text, written with
    。！？ and no space, was one sentence, and half Chinese, half Japanese read "ja" at 1.0 on
    main. Cut at 。！？ too (closing quotes kept with their sentence), it is about 0.5."""
    from monitors.judge.language import _sentences

    assert _sentences(CHINESE_TWO) == [
        "国家统计局今天发布数据显示，今年前三个季度经济同比增长。",
        "专家认为，消费和出口的回暖是主要原因。",
    ]
    quoted = "他说：「今天的会议讨论了明年的预算和人事安排。」大家都同意这个看法，会议顺利结束！"
    assert _sentences(quoted + "真的吗？我们明天会再讨论这个问题。") == [
        "他说：「今天的会议讨论了明年的预算和人事安排。」",
        "大家都同意这个看法，会议顺利结束！真的吗？",  # too short alone: joins the one before
        "我们明天会再讨论这个问题。",
    ]
    mixed = detect_language(CHINESE_TWO + JAPANESE_TWO)
    assert mixed.language in {"zh", "ja"} and mixed.confidence < 0.7, mixed
    assert detect_language(JAPANESE_TWO) == LanguageResult("ja", 1.0)
    assert detect_language(CHINESE_TWO) == LanguageResult("zh", 1.0)


def test_a_chinese_text_with_a_shorter_english_part_is_chinese() -> None:
    """A text is in the language of most of its words (Han counted as the length thresholds
    count it, a word every two characters): a Chinese text ending with a shorter English sentence,
    or a Chinese headline around an English product name, read "en" on main (declared "zh" or
    not): a Chinese profile gives Latin letters almost nothing, an English one Han more. One
    whose English part is the longer is English; French with a Chinese name stays French."""
    chinese_then_english = (
        "华为今天在深圳发布了新款手机。这款手机搭载了最新的芯片。"
        "The phone will be available in Europe next month."
    )
    for declared in (None, "zh"):
        assert detect_language(chinese_then_english, declared=declared).language == "zh"
    assert detect_language("苹果公司发布了新产品 iPhone Pro Max Ultra Edition").language == "zh"
    english_then_chinese = (
        "We are committed to open and inclusive AI for everyone on the planet. 人工智能峰会在巴黎举行。"
    )
    assert detect_language(english_then_chinese).language == "en"
    french_with_a_name = "Le président a reçu à l'Élysée son homologue 习近平 pour un dîner."
    assert detect_language(french_with_a_name).language == "fr"


def test_the_eval_counts_the_words_of_unspaced_titles(tmp_path: Any) -> None:
    """The eval's buckets counted words with \\w+: an unspaced Chinese title was one word, so in
    no "titles of 5-10 words" bucket, and a Chinese text of 30 words in no "texts of 20+ words"
    one. They count as detection does, one word for every 2 Han or kana letters."""
    from monitors.judge.evaluation import evaluate_language

    path = tmp_path / "language.jsonl"
    lines = [
        {"id": "zh-t", "text": "北京今日迎来今冬首场降雪", "language": "zh", "kind": "title"},
        {"id": "zh", "text": CHINESE_TWO, "language": "zh", "kind": "text"},
        {
            "id": "en-t",
            "text": "Macron unveils 109 billion euros of AI investment",
            "language": "en",
            "kind": "title",
        },
    ]
    path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines), "utf-8")
    report = evaluate_language(path)
    assert (report["n_titles"], report["n_long_texts"]) == (2, 1)
