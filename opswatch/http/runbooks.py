"""The runbook page: the View Runbook button's target, opened by a signed link, no login.

A runbook is written by people and read by everyone its link reaches, so its
markdown is rendered without raw HTML (shown escaped, as text) and with links
only to safe schemes; the Content-Security-Policy forbids scripts, frames and
every fetch besides, should anything slip through.

Some inputs (200,000 characters of ``![``) take markdown-it seconds to parse:
pages are rendered off the event loop, once per runbook version and process.
"""

from __future__ import annotations

import html
import uuid
from collections import OrderedDict
from datetime import UTC, datetime

from markdown_it import MarkdownIt
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from opswatch.knowledge.runbooks import link_is_valid
from opswatch.models import Runbook

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
# markdown-it's own check lets data:image URLs through; a runbook needs none.
_UNSAFE_SCHEMES = ("javascript:", "vbscript:", "file:", "data:")
# Deeper nesting costs parse time and no runbook needs it (markdown-it's default is 100).
MAX_NESTING = 20
RENDERED_VERSIONS = 16
_rendered: OrderedDict[tuple[uuid.UUID, datetime], str] = OrderedDict()


class _SafeMarkdown(MarkdownIt):
    """markdown-it's "js-default": CommonMark with tables and strikethrough, raw HTML
    escaped rather than passed through."""

    def __init__(self) -> None:
        super().__init__("js-default", {"html": False, "maxNesting": MAX_NESTING})

    def validateLink(self, url: str) -> bool:
        return not url.strip().lower().startswith(_UNSAFE_SCHEMES)


_markdown = _SafeMarkdown()


def render_markdown(text: str) -> str:
    return str(_markdown.render(text))


async def _rendered_body(runbook: Runbook) -> str:
    version = (runbook.id, runbook.updated_at)
    body = _rendered.get(version)
    if body is None:
        body = await run_in_threadpool(render_markdown, runbook.body or "")
        _rendered[version] = body
        while len(_rendered) > RENDERED_VERSIONS:
            _rendered.popitem(last=False)
    _rendered.move_to_end(version)
    return body


async def runbook_page(request: Request) -> Response:
    """``GET /runbooks/{slug}?t=<tenant id>&sig=``: 403 unless signed, 404 if gone."""
    slug = request.path_params["slug"]
    tenant_id = request.query_params.get("t", "")
    if not link_is_valid(tenant_id, slug, request.query_params.get("sig", "")):
        return _page(403, "Forbidden", "<p>This runbook link is incomplete or not valid.</p>")
    runbook = await Runbook.get_or_none(tenant_id=uuid.UUID(tenant_id), slug=slug)
    if runbook is None:
        return _page(404, "Not found", "<p>No such runbook; it may have been renamed.</p>")
    await runbook.fetch_related("services")
    return _page(200, runbook.title, _header(runbook) + await _rendered_body(runbook))


def _header(runbook: Runbook) -> str:
    e = html.escape
    lines = []
    for label, values in (
        ("Alerts", runbook.alertnames or []),
        ("Services", sorted(s.name for s in runbook.services)),
        ("Tags", runbook.tags or []),
    ):
        if values:
            chips = "".join(f"<span class='chip'>{e(str(v))}</span>" for v in values)
            lines.append(f"<p>{label}: {chips}</p>")
    updated = runbook.updated_at.astimezone(UTC)
    lines.append(
        f"<p>Updated <time datetime='{e(updated.isoformat())}'>"
        f"{e(updated.strftime('%Y-%m-%d %H:%M UTC'))}</time></p>"
    )
    return f"<header>{''.join(lines)}</header><hr>"


def _page(status: int, title: str, body: str) -> HTMLResponse:
    page = (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)} · OpsWatch runbook</title>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        "<meta name='robots' content='noindex'>"
        f"<style>{STYLE}</style></head>"
        f"<body><main><h1>{html.escape(title)}</h1>{body}</main></body></html>"
    )
    return HTMLResponse(page, status_code=status, headers=HEADERS)
