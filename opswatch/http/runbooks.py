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

from opswatch.http.pages import html_page
from opswatch.knowledge.runbooks import link_is_valid
from opswatch.models import Runbook

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
    return html_page(status, title, "OpsWatch runbook", body)
