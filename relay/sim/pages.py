"""Pages that are not the board's: web-server error pages and a bot challenge.

The challenge imitates Cloudflare's managed challenge ("Just a moment..."): a 403 (or 503)
with `cf-mitigated: challenge`, a script and no board markup, which a poller must report as
blocked rather than as an empty board.
"""

from __future__ import annotations

import html

CHALLENGE_HEADERS = {
    "Content-Type": "text/html; charset=UTF-8",
    "Server": "cloudflare",
    "cf-mitigated": "challenge",
    "CF-RAY": "8ed1c0ffee5a2b3c-ICN",
    "Cache-Control": "private, max-age=0, no-store, no-cache, must-revalidate",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def error_page(status: int, reason: str) -> str:
    """nginx's default error page."""
    title = html.escape(f"{status} {reason}".strip())
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )


def challenge_page(host: str) -> str:
    zone = html.escape(host)
    return f"""<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title><meta http-equiv="Content-Type" content="text/html; charset=UTF-8"><meta http-equiv="X-UA-Compatible" content="IE=Edge"><meta name="robots" content="noindex,nofollow"><meta name="viewport" content="width=device-width,initial-scale=1"><style>*{{box-sizing:border-box;margin:0;padding:0}}html{{line-height:1.15}}body{{display:flex;flex-direction:column;height:100vh;min-height:100vh}}.main-content{{margin:8rem auto;max-width:60rem;padding-left:1.5rem}}</style><meta http-equiv="refresh" content="390"></head><body class="no-js"><div class="main-wrapper" role="main"><div class="main-content"><noscript><div class="h2"><span id="challenge-error-text">Enable JavaScript and cookies to continue</span></div></noscript></div></div><script>(function(){{window._cf_chl_opt={{cvId: '3',cZone: "{zone}",cType: 'managed',cRay: '8ed1c0ffee5a2b3c',cH: 'kq1.Xr2s9',cUPMDTk: "\\/?__cf_chl_tk=Qm9hcmQtcmVsYXk",cFPWv: 'b',cITimeS: '1738716000'}};var cpo = document.createElement('script');cpo.src = '/cdn-cgi/challenge-platform/h/b/orchestrate/chl_page/v1?ray=8ed1c0ffee5a2b3c';window._cf_chl_opt.cOgUHash = location.hash === '' && location.href.indexOf('#') !== -1 ? '#' : location.hash;document.getElementsByTagName('head')[0].appendChild(cpo);}}());</script></body></html>"""  # noqa: E501
