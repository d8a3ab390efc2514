"""Pages as Gnuboard 5 (5.4+) renders them with the basic theme and the basic board skin.

Structure follows gnuboard5 skin/board/basic/list.skin.php and view.skin.php and lib's
get_list()/get_sideview()/get_paging(): #bo_list table rows, tr.bo_notice (notices on page 1
only), td.td_num2 (number, "공지", or "열람중" for the open post), td.td_subject > div.bo_tit
(a.bo_cate_link with the 말머리 when the board uses categories, the post link, then a "N새글"
new icon and span.cnt_cmt *outside* the link), td.td_name holding the sideview pop-up menu
(the name plus hidden menu text), td.td_num (hits, a number too), td.td_datetime (HH:MM
today, MM-DD otherwise, in the board's zone). Links are absolute (G5_URL) with &amp;. The
aside holds latest posts of *another* board. Article pages are in render_gnuboard_view; they
reuse this module's layout, list and sideview.
"""

from __future__ import annotations

from urllib.parse import quote

from relay.sim.board import SimBoard
from relay.sim.markup import (
    attr,
    crc,
    g5_text,
    is_guest,
    is_new,
    local,
    meta_charset,
)
from relay.sim.records import PageView, SimPost

VER = "171222"


def _mb_id(author: str) -> str:
    return f"user{crc(author) % 100000:05d}"


def sideview(board: SimBoard, host: str, author: str) -> str:
    """get_sideview(): the name link plus a hidden pop-up menu, twice (noscript copy).
    With the board's sideview off, get_list() prints a plain span.sv_member / span.sv_guest."""
    bbs = f"{host}/bbs"
    name = g5_text(author)
    if not board.sideview:
        return f'<span class="{"sv_guest" if is_guest(author) else "sv_member"}">{name}</span>'
    if is_guest(author):
        search = f"{bbs}/board.php?bo_table={board.name}&amp;sca=&amp;sfl=wr_name,1&amp;stx={name}"
        link = (
            f'<a href="{search}" title="{name} 이름으로 검색" class="sv_guest" rel="nofollow"'
            f' onclick="return false;">{name}</a>'
        )
        menu = f'<span class="sv">\n<a href="{search}">이름으로 검색</a>\n</span>\n'
    else:
        mb = _mb_id(author)
        link = (
            f'<a href="{bbs}/profile.php?mb_id={mb}" class="sv_member" title="{name} 자기소개"'
            f' target="_blank" rel="nofollow" onclick="return false;"><span class="profile_img">'
            f'<img src="{host}/img/no_profile.gif" alt="no_profile" width="22" height="22">'
            f"</span> {name}</a>"
        )
        menu = (
            '<span class="sv">\n'
            f'<a href="{bbs}/memo_form.php?me_recv_mb_id={mb}" onclick="win_memo(this.href);'
            ' return false;">쪽지보내기</a>\n'
            f'<a href="{bbs}/formmail.php?mb_id={mb}&amp;name={quote(author)}&amp;email=" '
            'onclick="win_email(this.href); return false;">메일보내기</a>\n'
            f'<a href="{bbs}/profile.php?mb_id={mb}" onclick="win_profile(this.href);'
            ' return false;">자기소개</a>\n'
            f'<a href="{bbs}/board.php?bo_table={board.name}&amp;sca=&amp;sfl=mb_id,1&amp;'
            f'stx={mb}">아이디로 검색</a>\n'
            f'<a href="{bbs}/new.php?mb_id={mb}" class="link_new_page" '
            'onclick="check_goto_new(this.href, event);">전체게시물</a>\n'
            "</span>\n"
        )
    noscript = f'<noscript class="sv_nojs">{menu}</noscript>'
    return f'<span class="sv_wrap">\n{link}\n{menu}\n{noscript}</span>'


def post_href(board: SimBoard, host: str, post_id: int, link_page: int | None) -> str:
    return attr(host + board.article_path(post_id, link_page))


def row_href(board: SimBoard, host: str, post: SimPost, link_page: int | None) -> str:
    path = board.row_path(post, link_page)
    return attr(path if post.link is not None else host + path)


def _category_link(board: SimBoard, host: str, post: SimPost) -> str:
    """The basic skin's a.bo_cate_link before the title, when the board uses categories."""
    if not (board.use_category and post.category):
        return ""
    href = attr(f"{host}/bbs/board.php?bo_table={board.name}&sca={quote(post.category)}")
    return f'<a href="{href}" class="bo_cate_link">{g5_text(post.category)}</a>'


def _datetime2(board: SimBoard, post: SimPost) -> str:
    when, today = local(board, post.published), local(board, board.now()).date()
    return f"{when:%H:%M}" if when.date() == today else f"{when:%m-%d}"


def _row(board: SimBoard, host: str, i: int, number: int | None, post: SimPost,
         view: PageView, link_page: int | None) -> str:  # fmt: skip
    if post.notice:
        num = '<strong class="notice_icon">공지</strong>'
    elif view.current == post.id:
        num = '<span class="bo_current">열람중</span>'
    else:
        num = str(number)
    css = ("bo_notice" if post.notice else "") + (" even" if i % 2 == 0 else " ")
    new = '<span class="new_icon">N<span class="sound_only">새글</span></span>' if is_new(
        board, post) else ""  # fmt: skip
    hits = post.id % 400 + 11
    hot = '<i class="fa fa-heart" aria-hidden="true"></i>' if hits >= 300 else ""
    file_icon = '<i class="fa fa-download" aria-hidden="true"></i>' if post.image else ""
    cmt = (
        '<span class="sound_only">댓글</span><span class="cnt_cmt">'
        f'{post.comments}</span><span class="sound_only">개</span>'
        if post.comments
        else ""
    )
    return f"""
        <tr class="{css}">
                        <td class="td_num2">
            {num}            </td>

            <td class="td_subject" style="padding-left:0px">
                                <div class="bo_tit">
                    {_category_link(board, host, post)}
                    <a href="{row_href(board, host, post, link_page)}">
                                                                        {g5_text(post.title)}                    </a>
                    {new}{hot}{file_icon}                    {cmt}                </div>
            </td>
            <td class="td_name sv_use">{sideview(board, host, post.author)}</td>
            <td class="td_num">{hits}</td>
            <td class="td_datetime">{_datetime2(board, post)}</td>

        </tr>"""  # noqa: E501


def _paging(board: SimBoard, host: str, view: PageView) -> str:
    url = attr(f"{host}/bbs/board.php?bo_table={board.name}&page=")
    first = ((view.page - 1) // 10) * 10 + 1
    last = min(view.total_pages, first + 9)
    out = []
    if view.page > 1:
        out.append(f'<a href="{url}1" class="pg_page pg_start">처음</a>')
    if first > 1:
        out.append(f'<a href="{url}{first - 1}" class="pg_page pg_prev">이전</a>')
    if view.total_pages > 1:
        for k in range(first, last + 1):
            if k == view.page:
                out.append(
                    f'<span class="sound_only">열린</span><strong class="pg_current">{k}</strong>'
                    '<span class="sound_only">페이지</span>'
                )
            else:
                page_label = '<span class="sound_only">페이지</span>'
                out.append(f'<a href="{url}{k}" class="pg_page">{k}{page_label}</a>')
    if view.total_pages > last:
        out.append(f'<a href="{url}{last + 1}" class="pg_page pg_next">다음</a>')
    if view.page < view.total_pages:
        out.append(f'<a href="{url}{view.total_pages}" class="pg_page pg_end">맨끝</a>')
    if not out:
        return ""
    return '<nav class="pg_wrap"><span class="pg">' + "\n".join(out) + "\n</span></nav>"


def list_block(board: SimBoard, host: str, view: PageView, link_page: int | None) -> str:
    rows = [(None, p) for p in view.notices] + [(n, p) for n, p in view.rows]
    body = (
        "".join(_row(board, host, i, n, p, view, link_page) for i, (n, p) in enumerate(rows))
        or '<tr><td colspan="5" class="empty_table">게시물이 없습니다.</td></tr>'
    )
    sort = attr(f"{host}/bbs/board.php?bo_table={board.name}&sop=and&sst=")
    tail = attr(f"&sod=desc&sfl=&stx=&sca=&page={view.page}")
    return f"""
<!-- 게시판 목록 시작 {{ -->
<div id="bo_list" style="width:100%">

    <form name="fboardlist" id="fboardlist" action="{host}/bbs/board_list_update.php" onsubmit="return fboardlist_submit(this);" method="post">

    <input type="hidden" name="bo_table" value="{board.name}">
    <input type="hidden" name="sfl" value="">
    <input type="hidden" name="stx" value="">
    <input type="hidden" name="spt" value="">
    <input type="hidden" name="sca" value="">
    <input type="hidden" name="sst" value="wr_num, wr_reply">
    <input type="hidden" name="sod" value="">
    <input type="hidden" name="page" value="{view.page}">
    <input type="hidden" name="sw" value="">

    <!-- 게시판 페이지 정보 및 버튼 시작 {{ -->
    <div id="bo_btn_top">
        <div id="bo_list_total">
            <span>Total {view.total_count + len(board.notices):,}건</span>
            {view.page} 페이지
        </div>

        <ul class="btn_bo_user">
            <li>
                <button type="button" class="btn_bo_sch btn_b01 btn" title="게시판 검색"><i class="fa fa-search" aria-hidden="true"></i><span class="sound_only">게시판 검색</span></button>
            </li>
            <li><a href="{host}/bbs/write.php?bo_table={board.name}" class="btn_b01 btn" title="글쓰기"><i class="fa fa-pencil" aria-hidden="true"></i><span class="sound_only">글쓰기</span></a></li>
        </ul>
    </div>
    <!-- }} 게시판 페이지 정보 및 버튼 끝 -->

    <div class="tbl_head01 tbl_wrap">
        <table>
        <caption>{g5_text(board.title)} 목록</caption>
        <thead>
        <tr>
            <th scope="col">번호</th>
            <th scope="col">제목</th>
            <th scope="col">글쓴이</th>
            <th scope="col"><a href="{sort}wr_hit{tail}">조회 </a></th>
            <th scope="col"><a href="{sort}wr_datetime{tail}">날짜  </a></th>
        </tr>
        </thead>
        <tbody>{body}
        </tbody>
        </table>
    </div>
    <!-- 페이지 -->
    {_paging(board, host, view)}
    <!-- 페이지 -->
    </form>

    <!-- 게시판 검색 시작 {{ -->
    <div class="bo_sch_wrap">
        <fieldset class="bo_sch">
            <h3>검색</h3>
            <form name="fsearch" method="get">
            <input type="hidden" name="bo_table" value="{board.name}">
            <input type="hidden" name="sca" value="">
            <input type="hidden" name="sop" value="and">
            <label for="sfl" class="sound_only">검색대상</label>
            <select name="sfl" id="sfl">
                <option value="wr_subject" selected="selected">제목</option><option value="wr_content">내용</option><option value="wr_subject||wr_content">제목+내용</option><option value="wr_name,1">글쓴이</option><option value="wr_name,0">글쓴이(코)</option>            </select>
            <label for="stx" class="sound_only">검색어<strong class="sound_only"> 필수</strong></label>
            <div class="sch_bar">
                <input type="text" name="stx" value="" required id="stx" class="sch_input" size="25" maxlength="20" placeholder=" 검색어를 입력해주세요">
                <button type="submit" value="검색" class="sch_btn"><i class="fa fa-search" aria-hidden="true"></i><span class="sound_only">검색</span></button>
            </div>
            <button type="button" class="bo_sch_cls" title="닫기"><i class="fa fa-times" aria-hidden="true"></i><span class="sound_only">닫기</span></button>
            </form>
        </fieldset>
        <div class="bo_sch_bg"></div>
    </div>
    <script>
    jQuery(function($){{
        $(".btn_bo_sch").on("click", function() {{ $(".bo_sch_wrap").toggle(); }})
        $('.bo_sch_bg, .bo_sch_cls').click(function(){{ $('.bo_sch_wrap').hide(); }});
    }});
    </script>
    <!-- }} 게시판 검색 끝 -->
</div>
<!-- }} 게시판 목록 끝 -->
"""  # noqa: E501


def layout(board: SimBoard, host: str, title: str, content: str) -> str:
    charset = meta_charset(board, html5=True)
    notice_board = attr(f"{host}/bbs/board.php?bo_table=notice")
    return f"""<!doctype html>
<html lang="ko">
<head>
{charset}<meta name="viewport" content="width=device-width,initial-scale=1.0,minimum-scale=0,maximum-scale=10,user-scalable=yes">
<meta name="HandheldFriendly" content="true">
<meta name="format-detection" content="telephone=no">
<meta http-equiv="imagetoolbar" content="no">
<meta http-equiv="X-UA-Compatible" content="IE=edge">
<title>{g5_text(title)}</title>
<link rel="stylesheet" href="{host}/theme/basic/css/default.css?ver={VER}">
<link rel="stylesheet" href="{host}/js/font-awesome/css/font-awesome.min.css?ver={VER}">
<link rel="stylesheet" href="{host}/skin/board/basic/style.css?ver={VER}">
<!--[if lte IE 8]>
<script src="{host}/js/html5.js"></script>
<![endif]-->
<script>
// 자바스크립트에서 사용하는 전역변수 선언
var g5_url       = "{host}";
var g5_bbs_url   = "{host}/bbs";
var g5_is_member = "";
var g5_is_admin  = "";
var g5_is_mobile = "";
var g5_bo_table  = "{board.name}";
var g5_sca       = "";
var g5_editor    = "smarteditor2";
var g5_cookie_domain = "";
</script>
<script src="{host}/js/jquery-1.12.4.min.js?ver={VER}"></script>
<script src="{host}/js/jquery-migrate-1.4.1.min.js?ver={VER}"></script>
<script src="{host}/js/jquery.menu.js?ver={VER}"></script>
<script src="{host}/js/common.js?ver={VER}"></script>
<script src="{host}/js/wrest.js?ver={VER}"></script>
<script src="{host}/js/placeholders.min.js?ver={VER}"></script>
</head>
<body>

<!-- 상단 시작 {{ -->
<div id="hd">
    <h1 id="hd_h1">{g5_text(title)}</h1>
    <div id="skip_to_container"><a href="#container">본문 바로가기</a></div>

    <div id="tnb">
        <div class="inner">
            <ul id="hd_qnb">
                <li><a href="{host}/bbs/faq.php">FAQ</a></li>
                <li><a href="{host}/bbs/qalist.php">Q&amp;A</a></li>
                <li><a href="{host}/bbs/new.php">새글</a></li>
                <li><a href="{host}/bbs/current_connect.php" class="visit">접속자<strong class="visit-num">3</strong></a></li>
            </ul>
        </div>
    </div>
    <div id="hd_wrapper">
        <div id="logo">
            <a href="{host}"><img src="{host}/img/logo.png" alt="{attr(board.title)}"></a>
        </div>
        <ul class="hd_login">
            <li><a href="{host}/bbs/register.php">회원가입</a></li>
            <li><a href="{host}/bbs/login.php">로그인</a></li>
        </ul>
    </div>
    <nav id="gnb">
        <h2>메인메뉴</h2>
        <div class="gnb_wrap">
            <ul id="gnb_1dul">
                <li class="gnb_1dli"><a href="{attr(host + board.list_path(1))}" target="_self" class="gnb_1da">{g5_text(board.title)}</a></li>
                <li class="gnb_1dli"><a href="{notice_board}" target="_self" class="gnb_1da">공지사항</a></li>
            </ul>
        </div>
    </nav>
</div>
<!-- }} 상단 끝 -->

<hr>

<!-- 콘텐츠 시작 {{ -->
<div id="wrapper">
    <div id="container_wr">
    <div id="container">
        <h2 id="container_title"><span title="{attr(board.title)}">{g5_text(board.title)}</span></h2>
{content}
    </div>
    <div id="aside">
        <section class="lt">
            <h2 class="lt_title"><a href="{notice_board}">공지사항</a></h2>
            <ul>
                <li class="basic_li"><a href="{notice_board}&amp;wr_id=12"> 서버 점검 안내 (새벽 2시~4시)</a>
                <div class="lt_info"><span class="lt_nick"><span class="sv_member">최고관리자</span></span><span class="lt_date">01-03</span></div></li>
                <li class="basic_li"><a href="{notice_board}&amp;wr_id=9"> 개인정보처리방침 개정 안내</a>
                <div class="lt_info"><span class="lt_nick"><span class="sv_member">최고관리자</span></span><span class="lt_date">12-18</span></div></li>
            </ul>
            <a href="{notice_board}" class="lt_more"><span class="sound_only">공지사항</span>더보기</a>
        </section>
    </div>
</div>
</div>
<!-- }} 콘텐츠 끝 -->

<hr>

<!-- 하단 시작 {{ -->
<div id="ft">
    <div id="ft_wr">
        <div id="ft_link" class="ft_cnt">
            <a href="{host}/bbs/content.php?co_id=company">회사소개</a>
            <a href="{host}/bbs/content.php?co_id=privacy">개인정보처리방침</a>
            <a href="{host}/bbs/content.php?co_id=provision">서비스이용약관</a>
        </div>
    </div>
    <div id="ft_copy">Copyright &copy; <b>소유하신 도메인.</b> All rights reserved.</div>
    <button type="button" id="top_btn"><i class="fa fa-arrow-up" aria-hidden="true"></i><span class="sound_only">상단으로</span></button>
    <script>
    $(function() {{ $("#top_btn").on("click", function() {{ $("html, body").animate({{scrollTop:0}}, '500'); return false; }}); }});
    </script>
</div>
<!-- }} 하단 끝 -->

<script>
$(function() {{
    // 폰트 리사이즈 쿠키있으면 실행
    font_resize("container", get_cookie("ck_font_resize_rmv_class"), get_cookie("ck_font_resize_add_class"));
}});
</script>

</body>
</html>
"""  # noqa: E501


def list_page(board: SimBoard, host: str, view: PageView, link_page: int | None) -> str:
    title = f"{board.title} {view.page} 페이지"
    return layout(board, host, title, list_block(board, host, view, link_page))


def zero_rows_page(board: SimBoard, host: str) -> str:
    """After a theme change the list is drawn by a script: the HTML has no rows."""
    content = f"""<div id="bo_list_app" data-bo-table="{board.name}"></div>
<script src="{host}/theme/newtheme/js/board-app.js?ver={VER}"></script>"""
    return layout(board, host, board.title, content)
