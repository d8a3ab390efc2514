"""Pages as Rhymix 2.x renders them with the default layout and the default board skin.

Structure follows rhymix/rhymix layouts/default/layout.html and modules/board/skins/default/
(list.html, _read.html, _comment.html): the "메뉴 건너뛰기" skip link first; an opened
article (div.board_read) above the list; notices as tr.notice whose number cell is td.notice
("공지"); rows with td.no (virtual number, or &raquo; for the open post), td.title (post link,
then a separate a.replyNum "[3]" link, then new/file icons), td.author, td.time (Y.m.d).
Bodies sit in div.read_body > div.xe_content, and comments carry xe_content too.
Links are site-relative (RX_BASEURL is "/"), so a parser must resolve them.
"""

from __future__ import annotations

from relay.sim.board import SimBoard
from relay.sim.markup import (
    attr,
    content_style,
    fake_comments,
    inject_ad,
    is_new,
    local,
    member_srl,
    meta_charset,
)
from relay.sim.records import PageView, SimPost

ICONS = "/modules/document/tpl/icons/default/"
ASSET_T = "1738713600"


def _url(board: SimBoard, path: str) -> str:
    return attr(path)


OTHER_MENUS = (("notice", "공지사항"), ("free", "자유게시판"), ("photo", "포토뉴스"))


def _menu(board: SimBoard) -> str:
    """GNB items: this board, then other boards of the site (not posts: parsers skip them)."""
    items = [(board.list_path(1), board.title, True)] + [
        (f"/{mid}" if board.url_style == "short" else f"/index.php?mid={mid}", label, False)
        for mid, label in OTHER_MENUS
        if mid != board.name
    ][:2]
    return "".join(
        f"""
				<li{' class="active"' if active else ""}>
					<a href="{attr(path)}">{attr(label)}</a>
				</li>"""
        for path, label, active in items
    )


def _query_url(board: SimBoard, **params: str) -> str:
    """Links the skin builds with getUrl() for actions (sort, write, tags): query form."""
    query = "&".join(f"{k}={v}" for k, v in {"mid": board.name, **params}.items())
    return attr(f"/index.php?{query}")


def layout(board: SimBoard, host: str, path: str, title: str, content: str, og: str = "") -> str:
    head_charset = meta_charset(board, html5=True)
    return f"""<!DOCTYPE html>
<html lang="ko">
<head>
<!-- META -->
{head_charset}<meta name="generator" content="Rhymix">
<meta name="viewport" content="width=device-width, initial-scale=1.0, user-scalable=yes" />
<meta name="csrf-token" content="9aQv2LmZr0tXe1Kc" />
<!-- TITLE -->
<title>{attr(title)}</title>
<!-- CSS -->
<link rel="stylesheet" href="/common/css/rhymix.min.css?t={ASSET_T}" />
<link rel="stylesheet" href="/layouts/default/default.layout.css?t={ASSET_T}" />
<link rel="stylesheet" href="/modules/board/skins/default/board.default.min.css?t={ASSET_T}" />
<!-- JS -->
<script src="/common/js/jquery-2.2.4.min.js?t={ASSET_T}"></script>
<script src="/common/js/rhymix.min.js?t={ASSET_T}"></script>
<!-- ICONS AND OTHER LINKS -->
<link rel="canonical" href="{attr(host + path)}" />
<!-- OTHER HEADERS -->
<meta property="og:site_name" content="{attr(board.title)}" />
<meta property="og:title" content="{attr(title)}" />
<meta property="og:url" content="{attr(host + path)}" />
{og}<script>
	var default_url = "{host}/";
	var current_url = "{host}{path}";
	var request_uri = "{host}/";
	var current_lang = xe.current_lang = "ko";
	var current_mid = "{board.name}";
	var enforce_ssl = false;
	var rewrite_level = {1 if board.url_style == "short" else 0};
</script>
</head>
<body class="color_scheme_light">
<div class="container">
	<p class="skip"><a href="#content">메뉴 건너뛰기</a></p>
	<header class="header">
		<h1>
			<a href="/" id="siteTitle">
				{attr(board.title)}
			</a>
		</h1>
		<div class="side">
			<!-- ACCOUNT -->
			<div class="account">
				<a href="{_query_url(board, act="dispMemberLoginForm")}">로그인</a>
				<a href="{_query_url(board, act="dispMemberSignUpForm")}">회원가입</a>
			</div>
			<!-- /ACCOUNT -->
			<!-- SEARCH -->
			<form action="/" method="get" class="search">
				<input type="hidden" name="vid" value="" />
				<input type="hidden" name="mid" value="{board.name}" />
				<input type="hidden" name="act" value="IS" />
				<input type="text" name="is_keyword" value="" required placeholder="검색" title="검색" />
				<input type="submit" value="검색" />
			</form>
			<!-- /SEARCH -->
		</div>
		<!-- GNB -->
		<nav class="gnb" id="gnb">
			<ul>{_menu(board)}
			</ul>
		</nav>
		<!-- /GNB -->
	</header>
	<div class="body sub">
		<!-- CONTENT -->
		<div class="content" id="content">
			{content}
		</div>
		<!-- /CONTENT -->
	</div>
</div>
<footer class="footer">
	<p>Powered by <a href="http://xpressengine.com/">XE</a>.</p>
</footer>
<!-- ETC -->
<div id="rhymix_alert"></div>
<div id="rhymix_debug_panel"></div>
<div id="rhymix_debug_button"></div>
<!-- BODY JS -->
<script src="/modules/board/skins/default/board.default.min.js?t={ASSET_T}"></script>
</body>
</html>
"""  # noqa: E501


def _author(post: SimPost) -> str:
    return (
        f'<a href="#popup_menu_area" class="member_{member_srl(post.author)}"'
        f' onclick="return false">{attr(post.author)}</a>'
    )


def _notice_row(board: SimBoard, post: SimPost, view: PageView, link_page: int | None) -> str:
    href = _url(board, board.row_path(post, link_page))
    marker = "&raquo;" if view.current == post.id else "공지"
    reply = ""
    if post.comments:
        reply = f"""
					<a href="{href}#comment" class="replyNum" title="Replies">
						[{post.comments}]
					</a>"""
    return f"""
			<tr class="notice">
				<td class="notice">
					{marker}
				</td>
				<td class="title">
					<a href="{href}">
						{attr(post.title)}
					</a>{reply}
				</td>
				<td class="author">{_author(post)}</td>
				<td class="time">{local(board, post.published):%Y.%m.%d}</td>
			</tr>"""


def _icons(board: SimBoard, post: SimPost) -> str:
    kinds = (["new"] if is_new(board, post) else []) + (["file"] if post.image else [])
    return "".join(
        f'<img src="{ICONS}{k}.gif" alt="{k}" title="{k}" style="margin-right:2px;" />'
        for k in kinds
    )


def _row(board: SimBoard, number: int, post: SimPost, view: PageView, link_page: int | None) -> str:
    href = _url(board, board.row_path(post, link_page))
    no = "&raquo;" if view.current == post.id else str(number)
    reply = (
        f'<a href="{href}#comment" class="replyNum" title="Replies">[{post.comments}]</a>'
        if post.comments
        else ""
    )
    return f"""
			<tr>
				<td class="no">
					{no}
				</td>
				<td class="title">
					<a href="{href}">{attr(post.title)}</a>
					{reply}
					{_icons(board, post)}
				</td>
				<td class="author">{_author(post)}</td>
				<td class="time">{local(board, post.published):%Y.%m.%d}</td>
			</tr>"""


def _pagination(board: SimBoard, view: PageView) -> str:
    first = ((view.page - 1) // 10) * 10 + 1
    last = min(view.total_pages, first + 9)
    links = []
    for n in range(first, last + 1):
        if n == view.page:
            links.append(f"<strong>{n}</strong> ")
        else:
            links.append(f'<a href="{_url(board, board.list_path(n))}">{n}</a>')
    end = _url(board, board.list_path(view.total_pages))
    return f"""
	<div class="pagination">
		<a href="{_url(board, board.list_path(1))}" class="direction prev"><span></span><span></span> 첫 페이지</a> 
		{chr(10).join(links)}
		<a href="{end}" class="direction next">끝 페이지 <span></span><span></span></a>
	</div>"""  # noqa: E501


def list_block(board: SimBoard, view: PageView, link_page: int | None) -> str:
    """The board list: table, pagination, search form. `link_page` is the `page` request
    parameter, which getUrl() carries into every post link (None when absent)."""
    if view.notices or view.rows:
        body = "\n			<!-- NOTICE -->"
        body += "".join(_notice_row(board, p, view, link_page) for p in view.notices)
        body += "\n			<!-- /NOTICE -->\n			<!-- LIST -->"
        body += "".join(_row(board, n, p, view, link_page) for n, p in view.rows)
        body += "\n			<!-- /LIST -->"
        pagination = _pagination(board, view)
    else:
        body = """
			<tr>
				<td colspan="4">
					<p style="text-align:center">게시물이 없습니다.</p>
				</td>
			</tr>"""
        pagination = ""
    return f"""<div class="board_list" id="board_list">
	<table width="100%" border="1" cellspacing="0" summary="List of Articles">
		<thead>
			<!-- LIST HEADER -->
			<tr>
				<th scope="col"><span>번호</span></th>
				<th scope="col" class="title"><span>제목</span></th>
				<th scope="col"><span>글쓴이</span></th>
				<th scope="col"><span><a href="{_query_url(board, sort_index="regdate", order_type="desc")}">날짜</a></span></th>
			</tr>
			<!-- /LIST HEADER -->
		</thead>
		<tbody>{body}
		</tbody>
	</table>
</div>
<div class="list_footer">{pagination}
	<div class="btnArea">
		<a href="{_query_url(board, act="dispBoardWrite")}" class="btn">쓰기</a>
	</div>
	<button type="button" class="bsToggle" title="검색">검색</button>
	<form action="/" method="get" onsubmit="return procFilter(this, search)" id="board_search" class="board_search" no-error-return-url="true">
		<input type="hidden" name="vid" value="" />
		<input type="hidden" name="mid" value="{board.name}" />
		<input type="hidden" name="category" value="" />
		<input type="text" name="search_keyword" value="" title="검색" class="iText" />
		<select name="search_target">
			<option value="title_content">제목+내용</option>
			<option value="title">제목</option>
			<option value="content">내용</option>
			<option value="comment">댓글</option>
			<option value="nick_name">닉네임</option>
			<option value="tag">태그</option>
		</select>
		<button type="submit" class="btn" onclick="xGetElementById('board_search').submit();return false;">검색</button>
	</form>
	<a href="{_query_url(board, act="dispBoardTagList")}" class="tagSearch" title="태그">태그</a>
</div>"""  # noqa: E501


def _comments(board: SimBoard, post: SimPost) -> str:
    items = []
    for cid, name, text, when in fake_comments(post):
        srl = member_srl(name)
        items.append(f"""
		<li class="fbItem" id="comment_{cid}">
			<div class="fbTopic">
				<a href="#popup_menu_area" class="fbName member_{srl}" onclick="return false">{attr(name)}</a>
				<span class="fbTime">{local(board, when):%Y.%m.%d %H:%M}</span>
			</div>
			<!--BeforeComment({cid},{srl})--><div class="comment_{cid}_{srl} rhymix_content xe_content">{attr(text)}</div><!--AfterComment({cid},{srl})-->
			<p class="action">
				<a href="{_query_url(board, document_srl=str(post.id), comment_srl=str(cid), act="dispBoardReplyComment")}" class="reply">댓글</a>
			</p>
		</li>""")  # noqa: E501
    return f"""<div class="feedback" id="comment">
	<div class="fbHeader">
		<h2>댓글 <em>{post.comments}</em></h2>
	</div>
	<ul class="fbList">{"".join(items)}
	</ul>
</div>"""


def read_block(board: SimBoard, post: SimPost) -> str:
    """The opened article as _read.html renders it, above the list."""
    srl = member_srl(post.author)
    content = content_style() + inject_ad(post.body_html, f"rx{post.id % 997}")
    permanent = _url(board, board.article_path(post.id))
    return f"""<div class="board_read">
	<!-- READ HEADER -->
	<div class="read_header">
		<h1>
			<a href="{permanent}">{attr(post.title)}</a>
		</h1>
		<p class="time">
			{local(board, post.published):%Y.%m.%d %H:%M}
		</p>
		<p class="meta">
			<a href="#popup_menu_area" class="member_{srl} author" onclick="return false">{attr(post.author)}</a>
			<span class="sum">
				<span class="read">조회 수:{post.id % 900 + 37}</span>
			</span>
		</p>
	</div>
	<!-- /READ HEADER -->
	<!-- READ BODY -->
	<div class="read_body">
		<!--BeforeDocument({post.id},{srl})--><div class="document_{post.id}_{srl} rhymix_content xe_content">{content}</div><!--AfterDocument({post.id},{srl})-->
	</div>
	<!-- /READ BODY -->
	<!-- READ FOOTER -->
	<div class="read_footer">
		<div class="tns">
			<a class="document_{post.id} action" href="#popup_menu_area" onclick="return false">이 게시물을</a>
			<ul class="sns">
				<li class="twitter link"><a href="https://twitter.com/">Twitter</a></li>
				<li class="facebook link"><a href="https://www.facebook.com/">Facebook</a></li>
			</ul>
			<script>
				var sTitle = '{attr(post.title)}';
				jQuery(function($){{
					$('.twitter>a').snspost({{ type : 'twitter', content : sTitle + ' {permanent}' }});
					$('.facebook>a').snspost({{ type : 'facebook', content : sTitle }});
				}});
			</script>
		</div>
		<div class="btnArea">
			<span class="etc">
				<a href="{_url(board, board.list_path(1))}" class="btn">목록</a>
			</span>
		</div>
	</div>
	<!-- /READ FOOTER -->
</div>
{_comments(board, post)}
"""  # noqa: E501


def list_page(board: SimBoard, host: str, path: str, view: PageView, link_page: int | None) -> str:
    content = f'<div class="board">\n{list_block(board, view, link_page)}\n</div>'
    return layout(board, host, path, board.title, content)


def article_page(
    board: SimBoard, host: str, path: str, post: SimPost, view: PageView, link_page: int | None
) -> str:
    og = '<meta property="og:type" content="article" />\n'
    if post.image:
        og += f'<meta property="og:image" content="{attr(host + post.image)}" />\n'
    blocks = read_block(board, post) + list_block(board, view, link_page)
    content = f'<div class="board">\n{blocks}\n</div>'
    return layout(board, host, path, f"{board.title} - {post.title}", content, og)


def missing_page(board: SimBoard, host: str, path: str) -> str:
    """What Rhymix shows (with HTTP 404) for a deleted or unknown document_srl."""
    content = """<div class="message error">
	<h1>존재하지 않는 글입니다.</h1>
	<p><a href="javascript:history.back()">이전 페이지로 돌아가기</a></p>
</div>"""
    return layout(board, host, path, board.title, content)


def zero_rows_page(board: SimBoard, host: str, path: str) -> str:
    """The layout after a skin change to a script-rendered list: no rows in the HTML."""
    content = f"""<div class="board">
	<div id="rx_board_app" data-mid="{board.name}" data-endpoint="/{board.name}/api/list"></div>
	<noscript>자바스크립트를 켜야 목록을 볼 수 있습니다.</noscript>
	<script src="/modules/board/skins/vue_board/app.js?t={ASSET_T}"></script>
</div>"""
    return layout(board, host, path, board.title, content)
