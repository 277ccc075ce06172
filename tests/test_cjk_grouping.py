"""Copies, near-duplicates and stories in scripts written without spaces (Chinese, Japanese),
on texts we wrote: a run of such characters was one "word" (a clause), so two copies shared
words only where whole clauses were untouched, and no text reached a story's seed length."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitors.group.copies import _TOKEN as TOKEN
from monitors.group.copies import compare, profile, split_words
from monitors.group.dedup import is_near_duplicate, signature
from monitors.group.stories import JOIN_THRESHOLD, StoryIndex, cosine, features, word_count

T0 = datetime(2025, 5, 14, 8, tzinfo=UTC)

# A report on a new metro line (Chinese).
METRO = (
    "上海市交通委员会周三宣布，连接浦东机场和虹桥枢纽的地铁新线路将于下个月正式开通运营。"
    "这条线路全长六十八公里，共设九座车站，列车最高时速可达一百六十公里。\n"
    "市交通委员会负责人在新闻发布会上表示，新线路开通后，两大机场之间的通行时间将从九十分钟缩短至"
    "四十分钟左右。该项目于五年前开工建设，总投资约三百九十亿元人民币。\n"
    "沿线居民普遍对新线路表示欢迎，认为这将大大方便日常出行。专家指出，新线路还将带动沿线区域的经济发展。"
)
# The same dispatch lightly edited inside its clauses: a dateline, other numerals, a word changed.
METRO_EDITED = (
    "新华社上海电 上海市交通委员会本周三宣布，连接浦东机场和虹桥枢纽的地铁新线路将于下月正式开通运营。"
    "这条线路全长68公里，共设9座车站，列车最高时速可达160公里。\n"
    "市交通委员会负责人在当天的新闻发布会上表示，新线路开通以后，两大机场之间的通行时间将从九十分钟缩短至"
    "四十分钟左右。该项目于五年前开工建设，总投资约三百九十亿元人民币。\n"
    "沿线居民普遍对新线路表示欢迎，认为这将极大方便日常出行。专家指出，新线路还将带动沿线区域的经济发展。"
)
# Another newsroom's report of the same opening, in its own words.
METRO_OTHER_NEWSROOM = (
    "连接上海两大机场的地铁新线路下月将开通。据上海市交通委员会介绍，新线路全长六十八公里，设有九座车站，"
    "列车最高时速一百六十公里，浦东机场至虹桥枢纽的通行时间将缩短至约四十分钟。"
    "这一工程投资约三百九十亿元，历时五年建成。不少市民表示，期待新线路早日开通，方便前往机场。"
)
# An unrelated report (floods).
FLOODS = (
    "受持续强降雨影响，广东省北部多个县市出现严重洪涝灾害。当地政府已紧急转移受灾群众两万余人，"
    "并启动防汛二级应急响应。气象部门预计，未来三天该地区仍将有大到暴雨，提醒民众注意防范山洪和地质灾害。"
    "救援人员正在全力搜救被困人员，目前已有三人遇难，五人失踪。"
)
# Free school meals in Tokyo (Japanese), its feed summary, and an unrelated earthquake report.
MEALS = (
    "東京都は水曜日、来年四月から都内の公立小中学校で給食費を完全に無償化すると発表した。"
    "対象となる児童と生徒は約六十万人で、必要な予算は年間およそ三百億円と見込まれている。"
    "知事は記者会見で、子育て世帯の経済的な負担を軽くし、安心して子どもを育てられる環境を整えたいと述べた。"
    "保護者からは歓迎の声が上がる一方、財源の確保を懸念する意見も出ている。"
)
MEALS_SUMMARY = (
    "東京都は水曜日、来年四月から都内の公立小中学校で給食費を完全に無償化すると発表した。"
    "対象となる児童と生徒は約六十万人。"
)
EARTHQUAKE = (
    "大阪府の沿岸部で昨夜、震度五弱の地震が発生した。気象庁によると、震源の深さは約十キロで、"
    "津波の心配はないという。一部の地域では停電が起き、鉄道各線が一時運転を見合わせた。"
    "けが人の情報は今のところ入っていない。府は災害対策本部を設置し、被害状況の確認を急いでいる。"
)


def test_a_run_without_spaces_is_cut_into_character_bigrams() -> None:
    assert split_words(TOKEN, "AI法案 le 12 mai, 東京都は") == [
        "AI",
        "法案",
        "le",
        "12",
        "mai",
        "東京",
        "京都",
        "都は",
    ]
    assert split_words(TOKEN, "中 et 日") == ["中", "et", "日"]
    text = "La ministre a annoncé 1,7 milliard d'euros"
    assert split_words(TOKEN, text) == TOKEN.findall(text)  # a text with spaces: as before


def test_an_edited_chinese_copy_is_a_near_duplicate_and_another_report_is_not() -> None:
    metro = signature(METRO)
    assert is_near_duplicate(metro, signature(METRO_EDITED))
    assert not is_near_duplicate(metro, signature(METRO_OTHER_NEWSROOM))
    assert not is_near_duplicate(metro, signature(FLOODS))


def test_a_japanese_summary_is_contained_in_its_article() -> None:
    evidence = compare(profile(MEALS_SUMMARY, "ja"), profile(MEALS, "ja"))
    assert evidence.rule == "containment", evidence
    assert compare(profile(EARTHQUAKE, "ja"), profile(MEALS, "ja")).rule is None
    assert compare(profile(METRO_OTHER_NEWSROOM, "zh-cn"), profile(METRO, "zh-cn")).rule is None


def test_chinese_and_japanese_reports_form_stories_of_their_events() -> None:
    assert cosine(features(METRO), features(METRO_OTHER_NEWSROOM)) >= JOIN_THRESHOLD
    assert cosine(features(METRO), features(FLOODS)) < JOIN_THRESHOLD
    assert cosine(features(MEALS), features(EARTHQUAKE)) < JOIN_THRESHOLD
    index = StoryIndex()
    at = [T0 + timedelta(hours=h) for h in range(4)]
    metro = index.assign(1, features(METRO), at[0], word_count(METRO))
    other = index.assign(2, features(METRO_OTHER_NEWSROOM), at[1], word_count(METRO_OTHER_NEWSROOM))
    floods = index.assign(3, features(FLOODS), at[2], word_count(FLOODS))
    meals = index.assign(4, features(MEALS), at[3], word_count(MEALS))
    quake = index.assign(5, features(EARTHQUAKE), at[3], word_count(EARTHQUAKE))
    assert metro.created and other.story_id == metro.story_id
    assert floods.created and meals.created and quake.created
    assert len({metro.story_id, floods.story_id, meals.story_id, quake.story_id}) == 4


# A Chinese report naming people and a firm in Latin letters, and a paragraph of its follow-up
# (Chinese), and a Japanese sentence: the names sit against the ideographs and kana, no space.
BRIDGE = (
    "法国总统Emmanuel Macron周一在巴黎宣布，Valorine公司将在里昂附近投资42亿欧元建设数据中心。"
    "公司负责人Hélène Corbière表示，工程将于秋季开工，预计创造数百个就业岗位。"
)
BRIDGE_PARAGRAPH = (
    "Hélène Corbière透露，Valorine数据中心工程将于秋季开工，总投资42亿欧元，创造数百个就业岗位。"
)
SUMMIT_JA = "パリで開かれたサミットで、Emmanuel Macron大統領とSam Altman氏が会談した。「Valorineは重要だ」"


def test_paragraphs_in_context_read_names_written_against_chinese_or_japanese() -> None:
    """monitors.judge.context read its names with the bare word pattern, for which a Latin name
    and the ideographs or kana after it are one word ("macron与openai的sam"), where the story
    features cut them apart (e:macron): the names of a Chinese or Japanese text matched none of
    its features, so a paragraph of it shared no distinctive name with its article and was never
    lifted in context. The names are now read from the words the features are made of."""
    from monitors.judge.context import names, propagate, shared_names
    from monitors.judge.relevance import RelevanceResult
    from monitors.judge.topic import load_topic

    assert names(SUMMIT_JA) == {
        "emmanuel": "emmanuel macron",
        "macron": "emmanuel macron",
        "sam": "sam altman",
        "altman": "sam altman",
    }  # not "Valorine", first word after a corner bracket
    found = names(BRIDGE)
    assert {k for k in features(BRIDGE) if k.startswith("e:")} == {f"e:{name}" for name in found}
    assert found["corbiere"] == found["helene"] == "helene corbiere"
    a, b = features(BRIDGE), features(BRIDGE_PARAGRAPH)
    shared, distinct = shared_names(b, a, names(BRIDGE_PARAGRAPH), found, lambda f: True)
    assert shared == ["e:corbiere", "e:helene", "e:valorine", "n:42"] and distinct == 3, shared

    topic = load_topic()
    # the rules' verdicts, as they would be: the article relevant by an anchor, the paragraph a
    # short text they did not find relevant
    seed = RelevanceResult(
        0.9, True, [], {"matched": {"x": {"group": "anchor", "contribution": 2.0}}}, topic.version
    )
    short = RelevanceResult(0.1, False, [], {"short_text": {"words": 30}}, topic.version)
    batch = [{"id": "a", "text": BRIDGE}, {"id": "p", "text": BRIDGE_PARAGRAPH}]
    lifted = propagate(topic, batch, [seed, short], max_share=1.0)[1]
    assert lifted.relevant and lifted.evidence["context"]["neighbour_id"] == "a", lifted.evidence
