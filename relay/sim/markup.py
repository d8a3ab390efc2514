"""Bits both engine renderers share: escaping as PHP does it, stable fake member ids, comment
text, and the noise real pages carry around and inside an article body (ad blocks, scripts).

Everything is deterministic (crc32, not `hash`), so a page renders to the same bytes on every
request and ETags stay stable while nothing changes.
"""

from __future__ import annotations

import html
import zlib
from datetime import datetime, timedelta

from relay.sim.board import SimBoard
from relay.sim.records import SimPost

COMMENT_TEXTS = (
    "기사 잘 봤습니다.",
    "이건 좀 더 지켜봐야 할 것 같네요.",
    "출처 링크도 같이 올려주시면 좋겠습니다.",
    "정리 감사합니다 👍",
    "후속 기사 나오면 또 올려주세요.",
    "제목만 보고 들어왔는데 내용이 다르네요.",
)
COMMENT_NAMES = ("지나가던개발자", "뉴스중독", "서초동주민", "익명의제보자", "경제덕후")

# Text of the ad blocks below: a parser that keeps them in a body excerpt is wrong.
AD_TEXT = "지금 가입하면 3만원 즉시 지급! 한정 이벤트"
AD_LABEL = "광고"


def attr(value: str) -> str:
    """An attribute or text value escaped like PHP's htmlspecialchars(ENT_QUOTES)."""
    return html.escape(value, quote=True).replace("&#x27;", "&#039;")


def g5_text(value: str) -> str:
    """Gnuboard's get_text(): quotes become &#034; and &#039;."""
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&#034;")
        .replace("'", "&#039;")
    )


def crc(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def member_srl(author: str) -> int:
    """A stable fake member number for an author name."""
    return 4 + crc(author) % 9000


def is_guest(author: str) -> bool:
    """Some authors post without an account (Gnuboard renders them as sv_guest)."""
    return author.startswith(("손님", "익명")) or crc(author) % 5 == 0


def local(board: SimBoard, when: datetime) -> datetime:
    return when.astimezone(board.tz)


def is_new(board: SimBoard, post: SimPost) -> bool:
    return board.now() - post.published < timedelta(hours=board.new_hours)


def fake_comments(post: SimPost) -> list[tuple[int, str, str, datetime]]:
    """(comment id, author, text, time) for a post's comment count, stable per post."""
    out = []
    for i in range(post.comments):
        seed = crc(f"{post.id}:{i}")
        out.append(
            (
                post.id + 1 + i,  # comments take document_srl numbers too: the ids' gaps
                COMMENT_NAMES[seed % len(COMMENT_NAMES)],
                COMMENT_TEXTS[seed % len(COMMENT_TEXTS)],
                post.published + timedelta(minutes=7 * (i + 1)),
            )
        )
    return out


def inject_ad(body_html: str, slot: str) -> str:
    """Insert an ad block after the first paragraph, as ad add-ons and themes do."""
    ad = (
        f'\n<div class="ad_in_content" data-ad-slot="{slot}">'
        f'<span class="ad_label">{AD_LABEL}</span>'
        '<ins class="adsbygoogle" style="display:block" data-ad-client="ca-pub-0000000000000000"'
        f' data-ad-slot="{slot}" data-ad-format="auto"></ins>'
        "<script>(adsbygoogle = window.adsbygoogle || []).push({});</script>"
        f'<a href="https://ad.example.net/click?slot={slot}" rel="sponsored nofollow"'
        f' target="_blank">{AD_TEXT}</a></div>\n'
    )
    cut = body_html.find("</p>")
    if cut < 0:
        return ad + body_html
    cut += len("</p>")
    return body_html[:cut] + ad + body_html[cut:]


def content_style() -> str:
    """Editors paste a <style> into content; its text is not body text."""
    return "<style>.xe_content p{margin:0 0 1em;line-height:1.8}.ad_label{font-size:11px}</style>"


def meta_charset(board: SimBoard, html5: bool) -> str:
    """The charset declaration in <head>, or none when the knob says so."""
    if not board.meta_charset:
        return ""
    label = "euc-kr" if board.encoding == "cp949" else "utf-8"
    if html5 and board.encoding == "utf-8":
        return f'<meta charset="{label}">\n'
    return f'<meta http-equiv="Content-Type" content="text/html; charset={label}">\n'
