"""Slack's requests: slash commands, interactions, events, and the OAuth install.

Every request is verified with the app's signing secret over the raw body,
within Slack's 5-minute window, before anything is read from it: a bad
signature is a 401 and changes nothing. Requests from a workspace no tenant has
connected get a polite answer and change nothing either. Slow work runs as a
job, so Slack gets its answer inside its 3 seconds.
"""

from __future__ import annotations

import html
import json
import logging
from typing import Any
from urllib.parse import parse_qs

from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from opswatch import runtime
from opswatch.errors import InvalidInput, OpsWatchError
from opswatch.http.rest import error
from opswatch.http.webhooks import SenderGone, read_body
from opswatch.models import Tenant
from opswatch.queue import enqueue
from opswatch.slack import commands, interactions, oauth
from opswatch.slack.workspace import tenant_for_team

log = logging.getLogger(__name__)

COMMAND_JOB = "slack.command"
CLICK_JOB = "slack.click"
EVENT_JOB = "slack.event"
NOT_CONNECTED = (
    "This Slack workspace is not connected to OpsWatch yet. An OpsWatch admin can "
    "connect it with `opswatch tenant configure-slack` or the Add to Slack link."
)


async def _verified(request: Request) -> bytes | Response:
    settings = runtime.current().settings
    if not settings.slack_signing_secret:
        return error(
            503, "slack_not_configured", "set OPSWATCH_SLACK_SIGNING_SECRET to receive Slack"
        )
    try:
        body = await read_body(request, settings.max_body_bytes)
    except SenderGone:
        return Response(status_code=400)
    if body is None:
        return error(413, "too_large", f"the body exceeds {settings.max_body_bytes} bytes", "body")
    verifier = SignatureVerifier(settings.slack_signing_secret)
    try:
        valid = verifier.is_valid_request(body, dict(request.headers))
    except ValueError:  # a timestamp that is not a number
        valid = False
    if not valid:
        return error(
            401,
            "invalid_signature",
            "X-Slack-Signature does not match, or X-Slack-Request-Timestamp is over 5 minutes old",
            "X-Slack-Signature",
        )
    return body


def _form(body: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}


def _ephemeral(reply: commands.Reply) -> JSONResponse:
    return JSONResponse({"response_type": "ephemeral", "text": reply.text, "blocks": reply.blocks})


async def slash_command(request: Request) -> Response:
    body = await _verified(request)
    if isinstance(body, Response):
        return body
    form = _form(body)
    tenant = await tenant_for_team(form.get("team_id"))
    if tenant is None:
        return _ephemeral(commands.plain(NOT_CONNECTED))
    name, _ = commands.split(form.get("text", ""))
    if name in ("", "help") or name not in commands.HANDLERS:
        return _ephemeral(
            await commands.run(tenant, form.get("user_id", ""), form.get("text", ""), None)
        )
    await enqueue(
        COMMAND_JOB,
        tenant_id=str(tenant.id),
        slack_user_id=form.get("user_id", ""),
        text=form.get("text", ""),
        response_url=form.get("response_url", ""),
    )
    return Response(status_code=200)


async def interaction(request: Request) -> Response:
    body = await _verified(request)
    if isinstance(body, Response):
        return body
    try:
        payload: dict[str, Any] = json.loads(_form(body).get("payload", ""))
    except ValueError:
        return error(400, "invalid_payload", "payload must be JSON", "payload")
    team = (payload.get("team") or {}).get("id") or (payload.get("user") or {}).get("team_id")
    tenant = await tenant_for_team(team)
    if tenant is None:
        return JSONResponse({"response_type": "ephemeral", "text": NOT_CONNECTED})
    kind = payload.get("type")
    if kind == "view_submission":
        answer = await interactions.submit_modal(tenant, payload)
        return JSONResponse(answer) if answer else Response(status_code=200)
    if kind != "block_actions":
        return Response(status_code=200)
    action_id = interactions.first_action(payload).get("action_id")
    if action_id in interactions.MODAL_ACTIONS:
        await _open_modal(tenant, payload)
        return Response(status_code=200)
    if action_id not in interactions.CLICK_ACTIONS:
        return Response(status_code=200)  # e.g. View Runbook: a link, nothing to do
    await enqueue(CLICK_JOB, tenant_id=str(tenant.id), payload=payload)
    return Response(status_code=200)


async def _open_modal(tenant: Tenant, payload: dict[str, Any]) -> None:
    try:
        await interactions.open_modal(tenant, payload)
    except OpsWatchError as failure:
        await interactions.respond(payload, commands.plain(f"⚠️ {failure.message}"))
    except SlackApiError as failure:
        log.warning("views.open failed: %s", failure.response.get("error"))


async def event(request: Request) -> Response:
    body = await _verified(request)
    if isinstance(body, Response):
        return body
    try:
        envelope: dict[str, Any] = json.loads(body)
    except ValueError:
        return error(400, "invalid_json", "the body is not JSON", "body")
    if envelope.get("type") == "url_verification":
        return JSONResponse({"challenge": envelope.get("challenge")})
    if envelope.get("type") != "event_callback":
        return Response(status_code=200)
    tenant = await tenant_for_team(envelope.get("team_id"))
    if tenant is None:
        return Response(status_code=200)  # nobody to answer: ignore politely
    await enqueue(EVENT_JOB, tenant_id=str(tenant.id), envelope=envelope)
    return Response(status_code=200)


async def oauth_install(request: Request) -> Response:
    try:
        redirect = oauth.begin(request.query_params.get("ticket", ""))
    except InvalidInput as failure:
        return _page(400, "Slack installation", failure.message)
    response = RedirectResponse(redirect.url, status_code=302)
    response.set_cookie(
        oauth.STATE_COOKIE,
        redirect.nonce,
        max_age=oauth.STATE_SECONDS,
        path="/api/v1/slack/oauth",
        httponly=True,
        secure=request.url.scheme == "https",
        samesite="lax",
    )
    return response


async def oauth_callback(request: Request) -> Response:
    params = request.query_params
    if params.get("error"):
        return _page(400, "Slack installation", f"Slack said: {params['error']}. Nothing changed.")
    try:
        tenant = await oauth.complete(
            code=params.get("code", ""),
            state=params.get("state", ""),
            cookie_nonce=request.cookies.get(oauth.STATE_COOKIE),
        )
    except OpsWatchError as failure:
        # A refused state is a bad request, as a refused ticket is in oauth_install.
        status = 400 if isinstance(failure, InvalidInput) else failure.http_status
        return _page(status, "Slack installation", failure.message)
    except SlackApiError as failure:
        reason = failure.response.get("error")
        return _page(
            400, "Slack installation", f"Slack refused the code ({reason}). Nothing changed."
        )
    slack = tenant.settings.get("slack") or {}
    channel = slack.get("alert_channel")
    next_step = (
        f"Alerts go to channel {channel}."
        if channel
        else "Set the alert channel with opswatch tenant configure-slack or configureSlack."
    )
    workspace = slack.get("team_name") or slack.get("team_id")
    response = _page(
        200,
        "OpsWatch is installed",
        f"OpsWatch is now connected to the Slack workspace {workspace} for {tenant.name}. "
        + next_step,
    )
    response.delete_cookie(oauth.STATE_COOKIE, path="/api/v1/slack/oauth")
    return response


def _page(status: int, title: str, message: str) -> HTMLResponse:
    body = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>"
    )
    return HTMLResponse(body, status_code=status)
