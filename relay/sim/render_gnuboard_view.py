"""Gnuboard 5 article pages (basic skin view.skin.php and view_comment.skin.php).

#bo_v holds the title, the author's sideview menu, the body in #bo_v_con (editor images
turned into absolute thumbnails inside an a.view_image link, an ad block injected), prev/next
links and the comments (#bo_vc). With bo_use_list_view on, the board list follows.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from relay.sim.board import SimBoard
from relay.sim.markup import attr, fake_comments, g5_text, inject_ad, local, meta_charset
from relay.sim.records import PageView, SimPost
from relay.sim.render_gnuboard import layout, list_block, post_href, sideview


def _comments(board: SimBoard, host: str, post: SimPost) -> str:
    items = []
    for cid, name, text, when in fake_comments(post):
        at = local(board, when)
        items.append(f"""
    <article id="c_{cid}" >
        <div class="pf_img"><img src="{host}/img/no_profile.gif" alt="no_profile" width="22" height="22"></div>
        <div class="cm_wrap">
            <header style="z-index:2">
                <h2>{g5_text(name)}님의  댓글</h2>
                {sideview(board, host, name)}
                <span class="sound_only">작성일</span>
                <span class="bo_vc_hdinfo"><i class="fa fa-clock-o" aria-hidden="true"></i> <time datetime="{at:%Y-%m-%dT%H:%M:%S%z}">{at:%y-%m-%d %H:%M}</time></span>
            </header>
            <!-- 댓글 출력 -->
            <div class="cmt_contents">
                <p>
                    {g5_text(text)}
                </p>
            </div>
        </div>
    </article>""")  # noqa: E501
    return f"""<button type="button" class="cmt_btn"><span class="total"><b>댓글</b> {post.comments}</span><span class="cmt_more"></span></button>
<!-- 댓글 시작 {{ -->
<section id="bo_vc">
    <h2>댓글목록</h2>{"".join(items) or '<p id="bo_vc_empty">등록된 댓글이 없습니다.</p>'}
</section>
<!-- }} 댓글 끝 -->"""  # noqa: E501


def view_block(
    board: SimBoard, host: str, post: SimPost, neighbours: tuple[SimPost | None, SimPost | None]
) -> str:
    """view.skin.php: #bo_v with the body in #bo_v_con, prev/next links, comments."""
    at = local(board, post.published)
    body = post.body_html
    if post.image:
        # get_view_thumbnail(): editor images become absolute, wrapped in a view_image link
        image = post.image
        viewer = f"{host}/bbs/view_image.php?bo_table={board.name}&amp;fn={quote(image)}"
        body = re.sub(
            r'<img src="' + re.escape(attr(image)) + r'"([^>]*)>',
            lambda m: (
                f'<a href="{viewer}" target="_blank" class="view_image">'
                f'<img src="{attr(host + image)}"{m.group(1)}></a>'
            ),
            body,
            count=1,
        )
    body = inject_ad(body, f"g5{post.id % 997}")
    prev_post, next_post = neighbours
    nav = ""
    for css, label, other in (("btn_prv", "이전글", prev_post), ("btn_next", "다음글", next_post)):
        if other is not None:
            date = local(board, other.published).strftime("%y.%m.%d")
            nav += (
                f'<li class="{css}"><span class="nb_tit"><i class="fa fa-chevron-up" aria-hidden="true"></i> {label}</span>'  # noqa: E501
                f'<a href="{post_href(board, host, other.id, None)}">{g5_text(other.title)}</a>'
                f' <span class="nb_date">{date}</span></li>'
            )
    return f"""
<script src="{host}/js/viewimageresize.js"></script>

<!-- 게시물 읽기 시작 {{ -->

<article id="bo_v" style="width:100%">
    <header>
        <h2 id="bo_v_title">
                        <span class="bo_v_tit">
            {g5_text(post.title)}</span>
        </h2>
    </header>

    <section id="bo_v_info">
        <h2>페이지 정보</h2>
        <div class="profile_info">
            <div class="pf_img"><img src="{host}/img/no_profile.gif" alt="profile_image"></div>
            <div class="profile_info_ct">
                <span class="sound_only">작성자</span> <strong>{sideview(board, host, post.author)}</strong><br>
                    <span class="sound_only">댓글</span><strong><a href="#bo_vc"> <i class="fa fa-commenting-o" aria-hidden="true"></i> {post.comments}건</a></strong>
                <span class="sound_only">조회</span><strong><i class="fa fa-eye" aria-hidden="true"></i> {post.id % 400 + 11}회</strong>
                <strong class="if_date"><span class="sound_only">작성일</span><i class="fa fa-clock-o" aria-hidden="true"></i> {at:%y-%m-%d %H:%M}</strong>
            </div>
        </div>
    </section>

    <section id="bo_v_atc">
        <h2 id="bo_v_atc_title">본문</h2>
        <div id="bo_v_share">
            <ul class="bo_v_snswr"><li><a href="https://www.facebook.com/sharer/sharer.php?u={quote(host + board.article_path(post.id))}" target="_blank" class="sns_f">페이스북</a></li></ul>
        </div>

        <!-- 본문 내용 시작 {{ -->
        <div id="bo_v_con">{body}</div>
                <!-- }} 본문 내용 끝 -->

    </section>

    <ul class="bo_v_nb">
        {nav}
    </ul>

    {_comments(board, host, post)}
</article>
<!-- }} 게시판 읽기 끝 -->

<script>
$(function() {{
    $("a.view_image").click(function() {{
        window.open(this.href, "large_image", "location=yes,links=no,toolbar=no,top=10,left=10,width=10,height=10,resizable=yes,scrollbars=no,status=no");
        return false;
    }});
    $("#bo_v_atc").viewimageresize();
}});
</script>
<!-- }} 게시글 읽기 끝 -->
"""  # noqa: E501


def article_page(board: SimBoard, host: str, post: SimPost, view: PageView | None,
                 link_page: int | None,
                 neighbours: tuple[SimPost | None, SimPost | None]) -> str:  # fmt: skip
    content = view_block(board, host, post, neighbours)
    if view is not None:  # bo_use_list_view: the list under the article
        content += list_block(board, host, view, link_page)
    return layout(board, host, f"{post.title} > {board.title}", content)


def missing_page(board: SimBoard, host: str) -> str:
    """alert(): Gnuboard answers a deleted wr_id with HTTP 200 and a script that goes back."""
    charset = meta_charset(board, html5=True)
    return f"""<!doctype html>
<html lang="ko">
<head>
{charset}<title>오류안내 페이지 | {g5_text(board.title)}</title>
</head>
<body>
<script>
alert("글이 존재하지 않습니다.\\n\\n글이 삭제되었거나 이동된 경우입니다.");
document.location.replace("{host}/bbs/board.php?bo_table={board.name}");
</script>
<noscript>
<div id="validation_check">
    <h1>다음 항목에 오류가 있습니다.</h1>
    <p class="cbg">글이 존재하지 않습니다.<br><br>글이 삭제되었거나 이동된 경우입니다.</p>
</div>
</noscript>
</body>
</html>
"""
