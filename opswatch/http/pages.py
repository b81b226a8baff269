"""The shell of the pages OpsWatch serves behind signed links (runbooks, incidents,
handoff reports): one look, and headers that keep the link's signature and the page
to themselves."""

from __future__ import annotations

import html

from starlette.responses import HTMLResponse

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    # The link carries its signature: pages it links to must not see it.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "private, no-cache",
}
STYLE = (
    "body{font:16px/1.6 system-ui,sans-serif;color:#1f2328;max-width:52rem;margin:2rem auto;"
    "padding:0 1rem}h1,h2,h3{line-height:1.25}header p{color:#59636e;margin:.2rem 0}"
    ".chip{display:inline-block;background:#eef1f4;border-radius:1rem;padding:0 .6rem;"
    "margin:0 .25rem .25rem 0;font-size:.85rem}code{font:.9em ui-monospace,monospace;"
    "background:#f3f4f6;padding:.1rem .3rem;border-radius:4px}pre{background:#f3f4f6;"
    "padding:.8rem 1rem;border-radius:6px;overflow:auto}pre code{padding:0;background:none}"
    "blockquote{margin:0;padding:0 1rem;border-left:4px solid #d0d7de;color:#59636e}"
    "table{border-collapse:collapse}td,th{border:1px solid #d0d7de;padding:.3rem .6rem}"
    "img{max-width:100%}hr{border:0;border-top:1px solid #d0d7de}"
)


def html_page(status: int, title: str, site: str, body: str, style: str = STYLE) -> HTMLResponse:
    """A whole page: ``title`` as its heading, ``site`` after it in the window title."""
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)} · {html.escape(site)}</title>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<meta name='robots' content='noindex'>"
        f"<style>{style}</style></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )
    return HTMLResponse(page, status_code=status, headers=HEADERS)
