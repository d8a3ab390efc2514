"""A route's post filter: keywords and RE2 regular expressions from the config, applied to posts.

Pure: no I/O. It knows nothing of routes, of Telegram or of where the fields come from.

The patterns come from the config but the text they meet comes from the internet, so a
backtracking engine (Python's `re`) is out: `re:(a+)+$` against a long hostile title would pin
a CPU for minutes. Regular expressions run on RE2 (the `google-re2` binding, module `re2`),
whose time is linear in the text whatever the pattern. RE2 has no backreferences and no
lookaround; a pattern it refuses is a config error that names its key
(`routes[0].include[2]`), found when the config is loaded, never while posts are matched.

What is matched, and how:
- A keyword is a substring match on NFKC-casefolded text, pattern and text alike: "ＳＡＭＳＵＮＧ"
  (full-width), "Samsung" and "samsung" are one keyword, and half-width katakana meets its
  full-width form. A keyword that itself starts with "re:" is written as the regex `re:re:...`
  (":" is no regex syntax).
- A regex (`re:` prefix) sees the NFKC-normalised text, *not* casefolded, and is compiled
  case-insensitively (RE2's Unicode simple case folding); `(?-i)` turns that off. So full-width
  digits meet `\\d` and `re:samsung` meets "ＳＡＭＳＵＮＧ", while a pattern like `ß` still means
  "ß" (casefolding the text would have made it "ss" behind the author's back). The pattern is
  NFKC-normalised too, so that `re:ＳＡＭ` or compatibility jamo (ㅋ) meet the text's normal
  form; a full-width character that NFKC turns into regex syntax ("（" becomes "(") is refused,
  as it would silently change the pattern's meaning: escape the ASCII form instead.
- RE2 syntax differs from Python's in places: `\\z` (not `\\Z`) is the end of text.
- Each pattern is tried on each field named in `match` separately: "^" anchors at the start of
  the field, and no match spans the title and the author.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import re2  # google-re2: linear-time matching (see the module docstring)

REGEX_PREFIX = "re:"
FIELDS = ("title", "author", "category", "excerpt")  # what a pattern may be matched against
DEFAULT_MATCH = ("title",)
REGEX_MEMORY = 1 << 22  # bytes RE2 may use per pattern (4 MiB); its DFA falls back, still linear
_REGEX_SYNTAX = frozenset("\\^$.|?*+()[]{}")


def fold(text: str) -> str:
    """NFKC case folding (as Unicode's NFKC_Casefold, closely): the form keywords compare in.

    NFKC runs again after casefold because casefold can leave text that is not NFKC.
    """
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


@dataclass(frozen=True, slots=True)
class Pattern:
    """One include or exclude entry, compiled. Equal patterns compare equal (by source)."""

    source: str  # as written in the config, "re:" prefix included
    key: str = field(compare=False)  # the config key, e.g. routes[0].include[2]
    needle: str = field(compare=False, repr=False)  # folded keyword; "" for a regex
    regex: Any = field(compare=False, repr=False)  # compiled re2 pattern; None for a keyword

    def matches(self, folded: str, normalised: str) -> bool:
        """Whether this pattern is found in one field, given in both of its matching forms."""
        if self.regex is None:
            return self.needle in folded
        return self.regex.search(normalised) is not None


@dataclass(frozen=True, slots=True)
class PostFilter:
    """Include and exclude patterns and the fields they look at.

    A post passes when it matches any include (or there is none) and no exclude.
    """

    include: tuple[Pattern, ...] = ()
    exclude: tuple[Pattern, ...] = ()
    match: tuple[str, ...] = DEFAULT_MATCH

    @property
    def accepts_everything(self) -> bool:
        """True when there is nothing to filter on: callers may skip building the fields."""
        return not self.include and not self.exclude

    def accepts(self, fields: Mapping[str, str]) -> bool:
        """Whether a post with these fields ("title", "author", "category", "excerpt") passes.

        A field the mapping lacks counts as empty (a board whose reader gives no category).
        """
        if self.accepts_everything:
            return True
        forms = []
        for name in self.match:
            normalised = _nfkc(fields.get(name, ""))
            forms.append((fold(normalised), normalised))

        def found(patterns: tuple[Pattern, ...]) -> bool:
            return any(p.matches(f, n) for p in patterns for f, n in forms)

        if self.include and not found(self.include):
            return False
        return not found(self.exclude)


ACCEPT_ALL = PostFilter()


def compile_filter(
    include: Sequence[str], exclude: Sequence[str], match: Sequence[str], *, key: str
) -> PostFilter:
    """Compile a route's `include`, `exclude` and `match` lists; `key` prefixes error messages.

    Raises ValueError naming the culprit: `routes[0].include[2]: "re:(a)\\1": RE2 cannot take
    it (invalid escape sequence: \\1)`. Refused besides what RE2 refuses: empty patterns (an
    empty include would match everything, an empty exclude would drop everything), unknown
    field names, and an empty `match` (nothing could ever be found).
    """
    where = f"{key}." if key else ""
    for name, value in (("include", include), ("exclude", exclude), ("match", match)):
        if isinstance(value, str):  # a bare string would be read as a list of characters
            raise ValueError(f'{where}{name}: must be a list of strings, not "{value}"')
    fields = _check_match(match, f"{where}match")
    return PostFilter(
        include=tuple(
            compile_pattern(p, key=f"{where}include[{i}]") for i, p in enumerate(include)
        ),
        exclude=tuple(
            compile_pattern(p, key=f"{where}exclude[{i}]") for i, p in enumerate(exclude)
        ),
        match=fields,
    )


def _check_match(match: Sequence[str], key: str) -> tuple[str, ...]:
    if not match:
        raise ValueError(f"{key}: names no field (use e.g. {list(DEFAULT_MATCH)})")
    fields: list[str] = []
    for i, name in enumerate(match):
        if name not in FIELDS:
            raise ValueError(f"{key}[{i}]: {name!r} is not one of {', '.join(FIELDS)}")
        if name not in fields:
            fields.append(name)
    return tuple(fields)


def compile_pattern(source: str, *, key: str) -> Pattern:
    """One entry: a keyword, or a regex with the `re:` prefix. ValueError names `key`."""
    if not isinstance(source, str):
        raise ValueError(f"{key}: {source!r} is not a string")
    if not source.startswith(REGEX_PREFIX):
        needle = fold(source)
        if not needle.strip():
            raise ValueError(f"{key}: an empty keyword would match every post")
        return Pattern(source=source, key=key, needle=needle, regex=None)
    body = source[len(REGEX_PREFIX) :]
    if not body:
        raise ValueError(f'{key}: "{source}": an empty regular expression matches every post')
    for char in body:
        normal = _nfkc(char)
        if normal != char and _REGEX_SYNTAX.intersection(normal):
            raise ValueError(
                f'{key}: "{source}": {char!r} becomes {normal!r} in the normalised text and '
                f"pattern, which a regular expression reads as syntax; write \\{normal} for "
                "the literal character"
            )
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # RE2 would print every refused pattern on stderr
    options.max_mem = REGEX_MEMORY
    try:
        regex = re2.compile(_nfkc(body), options)
    except re2.error as e:
        reason = _reason(e)
        raise ValueError(
            f'{key}: "{source}": RE2 cannot take it ({reason}); RE2 has no backreferences '
            "or lookaround, and writes the end of text as \\z"
        ) from None
    return Pattern(source=source, key=key, needle="", regex=regex)


def _reason(error: Exception) -> str:
    """RE2's message: the binding gives it as bytes in args[0], with no attributes."""
    detail = error.args[0] if error.args else "refused"
    return detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)
