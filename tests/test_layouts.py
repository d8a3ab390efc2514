"""Layouts beyond the corpus: list styles that are not tables, as the engines' other skins
render them. Each page is written from the skin's template, not from the parser."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from relay.core.engines import GNUBOARD, RHYMIX
from relay.core.parse import ListPage, parse_list_page

SEOUL = ZoneInfo("Asia/Seoul")
NOW = datetime(2025, 2, 5, 18, 0, tzinfo=SEOUL)

GNUBOARD5_GALLERY = """<!doctype html><html lang="ko"><head><meta charset="utf-8"></head><body>
<div id="bo_gall" style="width:100%">
<form name="fboardlist" id="fboardlist" method="post">
<ul id="gall_ul" class="gall_row">
  <li class="gall_li col-gn-4">
    <div class="gall_box">
      <span class="sound_only">12</span>
      <div class="gall_con">
        <div class="gall_img"><a href="https://s.kr/bbs/board.php?bo_table=photo&amp;wr_id=31">
          <img src="https://s.kr/data/file/photo/thumb-1.jpg" alt="봄꽃"></a></div>
        <div class="gall_text_href">
          <a href="https://s.kr/bbs/board.php?bo_table=photo&amp;wr_id=31" class="bo_tit">
            봄꽃 사진 모음 <span class="new_icon">N<span class="sound_only">새글</span></span>
            <span class="sound_only">댓글</span><span class="cnt_cmt">+ 4</span>
            <span class="sound_only">개</span></a>
        </div>
        <div class="gall_info">
          <span class="sound_only">작성자 </span>
          <span class="profile_img"><a href="#" class="sv_member">사진가</a></span>
          <span class="gall_date"><span class="sound_only">작성일 </span>
            <i class="fa fa-clock-o" aria-hidden="true"></i> 02-04</span>
          <span class="gall_view"><span class="sound_only">조회 </span> 88</span>
        </div>
      </div>
    </div>
  </li>
  <li class="gall_li col-gn-4">
    <div class="gall_box"><div class="gall_con">
      <div class="gall_img"><a href="https://s.kr/bbs/board.php?bo_table=photo&amp;wr_id=29">
        <span class="no_image">no image</span></a></div>
      <div class="gall_text_href"><a href="https://s.kr/bbs/board.php?bo_table=photo&amp;wr_id=29"
        class="bo_tit">노을</a></div>
      <div class="gall_info"><span class="profile_img"><a href="#" class="sv_guest">손님</a>
        </span><span class="gall_date">17:20</span></div>
    </div></div>
  </li>
</ul></form></div></body></html>"""

RHYMIX_WEBZINE = """<!doctype html><html><body><div class="bd">
<ol class="bd_lst bd_zine zine zine1 img_loadN">
  <li class="notice"><a class="hx" href="/news/1200">[공지] 이용 안내</a>
    <div class="rt_area"><span class="date">2025.01.02</span>
    <span class="author">관리자</span></div></li>
  <li><a href="/news/1290" class="thumb"><img src="/files/t.jpg"></a>
    <div class="rt_area"><h3 class="ngeb"><a class="hx" href="/news/1290">웹진형 목록의 글
      </a><a class="replyNum" href="/news/1290#comment">[7]</a></h3>
      <p>미리보기 본문…</p>
      <div class="info"><span class="date">25.02.05</span> <span class="author">기자</span>
      </div></div></li>
</ol></div></body></html>"""


def test_gnuboard5_gallery_skin() -> None:
    posts = parse_list_page(
        ListPage(GNUBOARD5_GALLERY, "https://s.kr/bbs/board.php?bo_table=photo", NOW, SEOUL),
        GNUBOARD,
    ).posts
    assert [(p.id, p.title, p.author, p.comments) for p in posts] == [
        ("31", "봄꽃 사진 모음", "사진가", 4),
        ("29", "노을", "손님", 0),
    ]
    assert posts[0].published == datetime(2025, 2, 4, tzinfo=SEOUL)
    assert posts[1].published == datetime(2025, 2, 5, 17, 20, tzinfo=SEOUL)


def test_rhymix_sketchbook5_webzine_list() -> None:
    posts = parse_list_page(ListPage(RHYMIX_WEBZINE, "https://x.kr/news", NOW, SEOUL), RHYMIX).posts
    assert [(p.id, p.title, p.notice, p.author, p.comments) for p in posts] == [
        ("1200", "[공지] 이용 안내", True, "관리자", 0),
        ("1290", "웹진형 목록의 글", False, "기자", 7),
    ]
    assert posts[1].published == datetime(2025, 2, 5, tzinfo=SEOUL)
    assert posts[1].url == "https://x.kr/news/1290"
