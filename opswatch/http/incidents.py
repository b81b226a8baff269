"""The incident page: a knowledge search hit's link, opened by a signed link, no login.

Read-only: what the incident is, what caused it and what fixed it, its alerts and
its timeline. Everything on it was written by people or sent by monitoring, so
all of it is shown as escaped plain text (line breaks kept); the headers are the
runbook page's, whose Content-Security-Policy forbids scripts and every fetch.

Three queries whatever the incident's size (the incident, at most ``MAX_ALERTS``
alerts, at most ``MAX_UPDATES`` timeline entries with their authors), and the page
is put together off the event loop, as a timeline may hold megabytes of text.
"""

from __future__ import annotations

import html
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from opswatch.http.pages import STYLE, html_page
from opswatch.knowledge.incidents import incident_link_is_valid, missing_knowledge
from opswatch.models import Alert, Incident, IncidentUpdate
from schema.knowledge import rule_text

MAX_ALERTS = 100
MAX_UPDATES = 200
_STYLE = (
    STYLE + ".missing{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;"
    "padding:.5rem .8rem}td{vertical-align:top}"
)


@dataclass(frozen=True)
class _Entry:
    kind: str
    text: str
    author: str | None
    at: datetime


@dataclass(frozen=True)
class _Shown:
    """What the page shows, loaded before it is rendered."""

    incident: Incident
    alerts: list[tuple[str, str, str]]  # short id, title, status
    more_alerts: bool
    timeline: list[_Entry]
    more_updates: bool


async def incident_page(request: Request) -> Response:
    """``GET /incidents/{incident_id}?t=<tenant id>&sig=``: 403 unless signed, 404 if gone."""
    incident_id = request.path_params["incident_id"]
    tenant_id = request.query_params.get("t", "")
    if not incident_link_is_valid(tenant_id, incident_id, request.query_params.get("sig", "")):
        return _page(403, "Forbidden", "<p>This incident link is incomplete or not valid.</p>")
    # Only ``incident_url`` makes valid signatures, and only over UUIDs.
    tenant, key = uuid.UUID(tenant_id), uuid.UUID(incident_id)
    incident = await Incident.get_or_none(id=key, tenant_id=tenant)
    if incident is None:
        return _page(404, "Not found", "<p>No such incident.</p>")
    alerts = (
        await Alert.filter(incident_id=key, tenant_id=tenant)
        .order_by("created_at", "id")
        .limit(MAX_ALERTS + 1)
        .values_list("short_id", "title", "status")
    )
    updates = (
        await IncidentUpdate.filter(incident_id=key, tenant_id=tenant)
        .order_by("created_at", "id")
        .limit(MAX_UPDATES + 1)
        .select_related("author")
    )
    shown = _Shown(
        incident=incident,
        alerts=[(str(a), str(b), str(c)) for a, b, c in alerts[:MAX_ALERTS]],
        more_alerts=len(alerts) > MAX_ALERTS,
        timeline=[
            _Entry(u.kind, u.text, u.author.name if u.author else None, u.created_at)
            for u in updates[:MAX_UPDATES]
        ],
        more_updates=len(updates) > MAX_UPDATES,
    )
    body = await run_in_threadpool(_body, shown)
    return _page(200, incident.title, body)


def _body(shown: _Shown) -> str:
    return (
        _header(shown.incident)
        + _sections(shown.incident)
        + _alerts(shown.alerts, shown.more_alerts)
        + _timeline(shown.timeline, shown.more_updates)
    )


def _text(value: str) -> str:
    """Plain text as HTML: escaped, its line breaks kept."""
    return "<br>".join(html.escape(line) for line in value.splitlines())


def _time(at: datetime) -> str:
    utc = at.astimezone(UTC)
    return (
        f"<time datetime='{html.escape(utc.isoformat())}'>"
        f"{html.escape(utc.strftime('%Y-%m-%d %H:%M UTC'))}</time>"
    )


def _header(incident: Incident) -> str:
    e = html.escape
    chips = [
        ("Severity", [incident.severity.value]),
        ("Status", [incident.status.value]),
        ("Source", [incident.source.value]),
        ("Tags", [str(t) for t in incident.tags or []]),
    ]
    lines = []
    for label, values in chips:
        if values:
            shown = "".join(f"<span class='chip'>{e(v)}</span>" for v in values)
            lines.append(f"<p>{label}: {shown}</p>")
    rule = rule_text(incident.match_rule)
    if rule:
        lines.append(f"<p>Known Solution of alerts matching: <code>{e(rule)}</code></p>")
    times = [f"Opened {_time(incident.created_at)}", f"updated {_time(incident.updated_at)}"]
    if incident.resolved_at is not None:
        times.append(f"resolved {_time(incident.resolved_at)}")
    lines.append(f"<p>{', '.join(times)}</p>")
    if missing_knowledge(incident):
        lines.append(
            "<p class='missing'><strong>Missing knowledge</strong>: resolved without "
            "a root cause and a solution.</p>"
        )
    return f"<header>{''.join(lines)}</header><hr>"


def _sections(incident: Incident) -> str:
    parts = []
    for heading, value in (
        ("Summary", incident.summary),
        ("Root cause", incident.root_cause),
        ("Solution", incident.solution),
    ):
        text = (value or "").strip()
        shown = f"<p>{_text(text)}</p>" if text else "<p><em>Not recorded.</em></p>"
        parts.append(f"<section><h2>{heading}</h2>{shown}</section>")
    return "".join(parts)


def _alerts(alerts: list[tuple[str, str, str]], more: bool) -> str:
    e = html.escape
    if not alerts:
        return "<section><h2>Alerts</h2><p><em>No linked alerts.</em></p></section>"
    rows = "".join(
        f"<tr><td><code>{e(short_id)}</code></td><td>{e(title)}</td><td>{e(status)}</td></tr>"
        for short_id, title, status in alerts
    )
    note = f"<p>Only the first {MAX_ALERTS} alerts are shown.</p>" if more else ""
    return (
        "<section><h2>Alerts</h2><table><thead><tr><th>Alert</th><th>Title</th>"
        f"<th>Status</th></tr></thead><tbody>{rows}</tbody></table>{note}</section>"
    )


def _timeline(entries: list[_Entry], more: bool) -> str:
    e = html.escape
    if not entries:
        return "<section><h2>Timeline</h2><p><em>Nothing recorded.</em></p></section>"
    rows = "".join(
        f"<tr><td>{_time(entry.at)}</td><td>{e(entry.kind)}</td>"
        f"<td>{e(entry.author) if entry.author else '—'}</td>"
        f"<td>{_text(entry.text)}</td></tr>"
        for entry in entries
    )
    note = f"<p>Only the first {MAX_UPDATES} entries are shown.</p>" if more else ""
    return (
        "<section><h2>Timeline</h2><table><thead><tr><th>When</th><th>What</th>"
        f"<th>Who</th><th>Details</th></tr></thead><tbody>{rows}</tbody></table>{note}</section>"
    )


def _page(status: int, title: str, body: str) -> HTMLResponse:
    return html_page(status, title, "OpsWatch incident", body, _STYLE)
