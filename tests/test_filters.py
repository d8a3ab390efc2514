"""relay.core.filters: keywords (NFKC, casefold), RE2 regexes, include/exclude, and the errors.

The tables read as a specification: each row is a scenario a channel owner would write.
"""

from __future__ import annotations

import time

import pytest

from relay.core.filters import ACCEPT_ALL, DEFAULT_MATCH, compile_filter, fold

TITLE = "title"

# (scenario, include, exclude, match, fields, accepted)
CASES: list[tuple[str, list[str], list[str], list[str], dict[str, str], bool]] = [
    ("no patterns: everything passes", [], [], ["title"], {TITLE: "아무 글"}, True),
    ("korean keyword found", ["핫딜"], [], ["title"], {TITLE: "[핫딜] 라면 한 박스"}, True),
    ("korean keyword missing", ["핫딜"], [], ["title"], {TITLE: "오늘의 잡담"}, False),
    ("keyword inside a word", ["삼성"], [], ["title"], {TITLE: "삼성전자 갤럭시 특가"}, True),
    ("any include is enough", ["애플", "삼성"], [], ["title"], {TITLE: "삼성 TV"}, True),
    ("case folded", ["samsung"], [], ["title"], {TITLE: "SAMSUNG Galaxy"}, True),
    (
        "full-width text, half-width keyword",
        ["samsung"],
        [],
        ["title"],
        {TITLE: "ＳＡＭＳＵＮＧ"},
        True,
    ),
    (
        "full-width keyword, half-width text",
        ["ＳＡＭＳＵＮＧ"],
        [],
        ["title"],
        {TITLE: "samsung"},
        True,
    ),
    ("half-width katakana meets full-width", ["カタカナ"], [], ["title"], {TITLE: "ｶﾀｶﾅ"}, True),
    ("full-width digits", ["1000원"], [], ["title"], {TITLE: "１０００원 할인"}, True),
    (
        "ideographic space is a space",
        ["갤럭시 s25"],
        [],
        ["title"],
        {TITLE: "갤럭시\u3000S25"},
        True,
    ),
    ("compatibility jamo", ["ㅋㅋ"], [], ["title"], {TITLE: "ㅋㅋㅋ 웃긴 글"}, True),
    ("exclude drops a match", ["핫딜"], ["품절"], ["title"], {TITLE: "핫딜 품절"}, False),
    ("exclude alone", [], ["광고"], ["title"], {TITLE: "광고 아님"}, False),
    ("exclude alone, clean post", [], ["광고"], ["title"], {TITLE: "정상 글"}, True),
    ("exclude is folded too", [], ["ad"], ["title"], {TITLE: "[ＡＤ] 이벤트"}, False),
    ("only named fields", ["홍길동"], [], ["title"], {TITLE: "글", "author": "홍길동"}, False),
    ("author field", ["홍길동"], [], ["author"], {TITLE: "글", "author": "홍길동"}, True),
    (
        "several fields",
        ["핫딜"],
        [],
        ["title", "category"],
        {TITLE: "라면", "category": "핫딜"},
        True,
    ),
    ("excerpt field", ["쿠폰"], [], ["excerpt"], {TITLE: "라면", "excerpt": "쿠폰 적용가"}, True),
    ("missing field is empty", ["핫딜"], [], ["category"], {TITLE: "핫딜"}, False),
    ("regex", [r"re:\d+%\s*할인"], [], ["title"], {TITLE: "전품목 30% 할인"}, True),
    (
        "regex is case-insensitive",
        ["re:^rtx ?50[789]0"],
        [],
        ["title"],
        {TITLE: "RTX 5090 입고"},
        True,
    ),
    ("regex sees NFKC text", [r"re:\d{4}원"], [], ["title"], {TITLE: "１０００원"}, True),
    ("regex full-width pattern", ["re:ＳＡＭ"], [], ["title"], {TITLE: "sam"}, True),
    ("regex (?-i) is case-sensitive", ["re:(?-i)RTX"], [], ["title"], {TITLE: "rtx 5090"}, False),
    (
        "regex anchors per field",
        ["re:^홍"],
        [],
        ["title", "author"],
        {TITLE: "글", "author": "홍길동"},
        True,
    ),
    ("regex no match", [r"re:^\[공지\]"], [], ["title"], {TITLE: "공지 아님"}, False),
    ("regex exclude", ["핫딜"], [r"re:종료|마감"], ["title"], {TITLE: "핫딜 (마감)"}, False),
    ("keyword looking like regex is literal", ["a.b"], [], ["title"], {TITLE: "axb"}, False),
    ("literal re: keyword via regex", ["re:re:zero"], [], ["title"], {TITLE: "Re:Zero 2기"}, True),
]


@pytest.mark.parametrize(
    ("include", "exclude", "match", "fields", "accepted"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_filter_table(
    include: list[str],
    exclude: list[str],
    match: list[str],
    fields: dict[str, str],
    accepted: bool,
) -> None:
    post_filter = compile_filter(include, exclude, match, key="routes[0]")
    assert post_filter.accepts(fields) is accepted


def test_redos_pattern_stays_linear_on_a_hostile_title() -> None:
    """`(a+)+$` takes exponential time in a backtracking engine on "aaa…a!"; RE2 is linear."""
    hostile = "a" * 100_000 + "!"
    post_filter = compile_filter(
        ["re:(a+)+$", r"re:(a|aa)+b", "re:(.*a){20}z"], [], ["title"], key="r"
    )
    started = time.perf_counter()
    assert post_filter.accepts({TITLE: hostile}) is False
    assert post_filter.accepts({TITLE: hostile[:-1]}) is True  # "(a+)+$" matches all a's
    assert time.perf_counter() - started < 1.0  # generous: it takes about a millisecond


BAD: list[tuple[str, list[str], list[str], list[str], str]] = [
    ("backreference", ["ok", r"re:(a)\1"], [], ["title"], "routes[0].include[1]"),
    ("lookahead", [], ["re:foo(?=bar)"], ["title"], "routes[0].exclude[0]"),
    ("lookbehind", [], ["x", "y", "re:(?<!a)b"], ["title"], "routes[0].exclude[2]"),
    ("unbalanced", ["re:(핫딜"], [], ["title"], "routes[0].include[0]"),
    ("python's \\Z", [r"re:foo\Z"], [], ["title"], "routes[0].include[0]"),
    ("full-width paren becomes syntax", ["re:（주）삼성"], [], ["title"], "routes[0].include[0]"),
    ("empty keyword", [""], [], ["title"], "routes[0].include[0]"),
    ("blank keyword", ["핫딜", "\u3000"], [], ["title"], "routes[0].include[1]"),
    ("empty regex", [], ["re:"], ["title"], "routes[0].exclude[0]"),
    ("unknown field", ["핫딜"], [], ["title", "body"], "routes[0].match[1]"),
    ("no field", ["핫딜"], [], [], "routes[0].match"),
]


@pytest.mark.parametrize(
    ("include", "exclude", "match", "culprit"),
    [case[1:] for case in BAD],
    ids=[case[0] for case in BAD],
)
def test_bad_pattern_is_an_error_naming_its_key(
    include: list[str], exclude: list[str], match: list[str], culprit: str
) -> None:
    with pytest.raises(ValueError, match=r"^" + culprit.replace("[", r"\[").replace("]", r"\]")):
        compile_filter(include, exclude, match, key="routes[0]")


def test_refused_regex_says_what_re2_said() -> None:
    with pytest.raises(ValueError) as error:
        compile_filter([r"re:(a)\1"], [], ["title"], key="boards[1].routes[0]")
    message = str(error.value)
    assert message.startswith(r'boards[1].routes[0].include[0]: "re:(a)\1": RE2 cannot take it')
    assert "invalid escape sequence" in message


def test_a_bare_string_is_not_a_list() -> None:
    with pytest.raises(ValueError, match=r"^routes\[3\]\.include: must be a list"):
        compile_filter("핫딜", [], ["title"], key="routes[3]")


def test_filters_compare_by_their_patterns() -> None:
    one = compile_filter(["핫딜", "re:rtx"], [], ["title"], key="routes[0]")
    same = compile_filter(["핫딜", "re:rtx"], [], ["title"], key="boards[2].routes[5]")
    other = compile_filter(["핫딜"], [], ["title"], key="routes[0]")
    assert one == same and hash(one) == hash(same)
    assert one != other
    assert compile_filter([], [], DEFAULT_MATCH, key="x") == ACCEPT_ALL


def test_fold_is_nfkc_casefold() -> None:
    assert fold("ＳＡＭＳＵＮＧ") == "samsung"
    assert fold("Straße") == "strasse"
    assert fold("①") == "1"
