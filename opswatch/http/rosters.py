"""REST for rosters: who is on call, calendar feeds, and the handoff report page."""

from __future__ import annotations

import html
import uuid
from datetime import UTC, datetime
from typing import Any

import pendulum
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from opswatch.errors import OpsWatchError
from opswatch.http.pages import STYLE, html_page
from opswatch.http.rest import caller, error, error_of
from opswatch.models import Handoff
from opswatch.rosters import feeds, handoffs, oncall
from opswatch.rosters.rosters import get_roster

CALENDAR_TYPE = "text/calendar; charset=utf-8"


def parse_instant(raw: str | None, field: str) -> datetime:
    """ISO 8601; without an offset it means UTC. A "+" sent unencoded in a query
    string arrives as a space, so a space before the offset is read as "+"."""
    if raw is None or not raw.strip():
        return datetime.now(UTC)
    text = raw.strip().replace(" ", "+")
    try:
        parsed = pendulum.parse(text, exact=True)
    except (ValueError, pendulum.parsing.exceptions.ParserError):
        parsed = None
    if not isinstance(parsed, pendulum.DateTime):
        raise _BadInstant(field, raw)
    return datetime.fromtimestamp(parsed.timestamp(), UTC)


class _BadInstant(OpsWatchError):
    http_status = 400
    code = "invalid_parameter"

    def __init__(self, field: str, raw: str) -> None:
        super().__init__(
            f"{field}: {raw!r} is not an ISO 8601 instant, like 2026-05-01T08:00:00Z", field=field
        )


async def roster_oncall(request: Request) -> Response:
    """``GET /api/v1/rosters/{id}/oncall?at=``: the holder, their shift and local times."""
    principal = await caller(request)
    if isinstance(principal, JSONResponse):
        return principal
    try:
        at = parse_instant(request.query_params.get("at"), "at")
        roster = await get_roster(principal.tenant, request.path_params["roster_id"], "id")
        found = await oncall.answer(roster, at)
    except OpsWatchError as failure:
        return error_of(failure)
    return JSONResponse(found.as_json())


async def roster_calendar(request: Request) -> Response:
    return _calendar(await feeds.roster_feed(request.path_params["token"]))


async def user_calendar(request: Request) -> Response:
    return _calendar(await feeds.user_feed(request.path_params["token"]))


def _calendar(body: bytes | None) -> Response:
    if body is None:
        return error(404, "not_found", "no such calendar; the link may have been replaced")
    return Response(
        body, media_type=CALENDAR_TYPE, headers={"Cache-Control": "private, max-age=300"}
    )


# The shared look, with the alerts table across the page and ruled by rows.
REPORT_STYLE = STYLE + (
    "table{width:100%}td,th{text-align:left;border:0;border-bottom:1px solid #d0d7de}"
)


async def handoff_report(request: Request) -> Response:
    """The page linked from handoff notices: signed link, no login."""
    try:
        roster_id = uuid.UUID(request.path_params["roster_id"])
        handoff_id = uuid.UUID(request.path_params["handoff_id"])
    except ValueError:
        return _page(404, "Not found", "<p>No such handoff.</p>")
    signature = request.query_params.get("sig", "")
    if not handoffs.link_is_valid(handoff_id, signature):
        return _page(404, "Not found", "<p>No such handoff, or the link is incomplete.</p>")
    handoff = await Handoff.get_or_none(id=handoff_id, roster_id=roster_id)
    if handoff is None:
        return _page(404, "Not found", "<p>No such handoff.</p>")
    return _page(200, f"Handoff: {handoff.report['roster']['name']}", _report_html(handoff.report))


def _report_html(report: dict[str, Any]) -> str:
    e = html.escape
    out, inc = report["outgoing"], report["incoming"]
    rows = "".join(
        "<tr>"
        f"<td>{e(a['severity'].upper())}</td><td>{e(a['title'])}</td>"
        f"<td>{e(a['cluster'] or '')}</td><td>{e(a['status'])}</td>"
        f"<td>{e(a['acknowledged_by'] or ('investigating' if a['investigating'] else ''))}</td>"
        f"<td><code>{e(a['short_id'])}</code></td>"
        "</tr>"
        for a in report["alerts"]
    )
    by_severity = ", ".join(f"{n} {e(s)}" for s, n in report["open"]["by_severity"].items())
    return (
        f"<p>At <time>{e(report['at'])}</time> the pager of <strong>{e(report['roster']['name'])}"
        f"</strong> passed from <strong>{e(out['name'] or 'nobody')}</strong>"
        f" ({e(out['roster_name'] or '')}, {e(out['source'])}) to "
        f"<strong>{e(inc['name'] or 'nobody')}</strong>"
        f" ({e(inc['roster_name'] or '')}, {e(inc['source'])}).</p>"
        f"<p>Open at the handoff: {report['open']['total']}"
        f"{f' ({by_severity})' if by_severity else ''}.</p>"
        "<table><thead><tr><th>Severity</th><th>Alert</th><th>Cluster</th><th>Status</th>"
        "<th>Who</th><th>Id</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _page(status: int, title: str, body: str) -> HTMLResponse:
    return html_page(status, title, "OpsWatch", body, style=REPORT_STYLE)
