"""Buttons and modal submissions (``/api/v1/slack/interactions``).

What must answer inside Slack's 3 seconds happens in the request: opening a
modal (its ``trigger_id`` expires) and reading a submitted one (errors go back in
the HTTP answer). Button clicks that change alerts run as a job, which answers
through the ``response_url``; the alert's message itself is brought up to date
by the sync job like any other change.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient
from tortoise.exceptions import IntegrityError

from opswatch.alerts import actions
from opswatch.errors import InvalidInput, NotFound, OpsWatchError
from opswatch.knowledge import incidents
from opswatch.knowledge.entries import create_entry, update_entry
from opswatch.models import (
    Alert,
    AlertStatus,
    Incident,
    IncidentSource,
    Runbook,
    Service,
    SlackEventReceipt,
    Tenant,
)
from opswatch.slack import blocks, bursts, modals, war_room
from opswatch.slack.blocks import escape
from opswatch.slack.commands import Caller, Reply, plain, refusal
from opswatch.slack.people import user_of
from opswatch.slack.workspace import client_for

log = logging.getLogger(__name__)

# Answered in the request: they need Slack's short-lived trigger_id.
MODAL_ACTIONS = {blocks.ADD_TO_KB_ACTION, blocks.EDIT_INCIDENT_ACTION, war_room.RESOLVE_ACTION}
# Run as a job. (A link button such as View Runbook reports its click too: ignored.)
CLICK_ACTIONS = {
    bursts.PROMOTE_ACTION,
    blocks.ACK_ACTION,
    blocks.ESCALATE_ACTION,
    blocks.SKIP_KB_ACTION,
    blocks.VIEW_KNOWLEDGE_ACTION,
}


def first_action(payload: dict[str, Any]) -> dict[str, Any]:
    actions_list = payload.get("actions") or [{}]
    first: dict[str, Any] = actions_list[0]
    return first


async def open_modal(tenant: Tenant, payload: dict[str, Any]) -> None:
    """ "Add to Knowledge Base" and "Edit": a modal, pre-filled."""
    action = first_action(payload)
    client = client_for(tenant)
    if client is None:
        return
    value = str(action.get("value") or "")
    if action.get("action_id") == blocks.ADD_TO_KB_ACTION:
        alert = await _alert(tenant, value)
        if alert.incident_id is not None:  # type: ignore[attr-defined]
            # Prompted twice (the thread and a /opswatch resolve): one entry is enough.
            known = await Incident.get_or_none(id=alert.incident_id)  # type: ignore[attr-defined]
            title = known.title if known else alert.title
            await respond(payload, plain(f"Already in the knowledge base: *{escape(title)}*."))
            return
        service = await Service.get_or_none(id=alert.service_id) if alert.service_id else None  # type: ignore[attr-defined]
        view = modals.entry_from_alert(alert, service.name if service else None)
    elif action.get("action_id") == war_room.RESOLVE_ACTION:
        view = war_room.resolve_modal(await _incident(tenant, value))
    else:
        incident = await _incident(tenant, value)
        view = modals.entry_from_draft(incident)
    await client.views_open(trigger_id=str(payload.get("trigger_id") or ""), view=view)


async def submit_modal(tenant: Tenant, payload: dict[str, Any]) -> dict[str, Any] | None:
    """Save a submitted modal; the ``response_action`` answer when it must stay open."""
    view = payload.get("view") or {}
    callback = view.get("callback_id")
    if callback not in (modals.NEW_ENTRY, modals.EDIT_ENTRY, war_room.RESOLVE_MODAL):
        return None
    slack_user = str((payload.get("user") or {}).get("id") or "")
    client = client_for(tenant)
    caller = Caller(slack_user, await user_of(tenant, slack_user, client))
    if callback == war_room.RESOLVE_MODAL:
        return await _resolve_incident(tenant, caller, view)
    spec = modals.submitted(view, source=IncidentSource.SLACK)
    if not (spec.solution or "").strip():
        return modals.errors_for("solution", "Write down what fixed it.")
    metadata = str(view.get("private_metadata") or "")
    try:
        if callback == modals.NEW_ENTRY:
            alert = await _alert(tenant, metadata)
            spec = replace(spec, alert_id=alert.id)
            incident = await create_entry(
                tenant=tenant, spec=spec, author=caller.user, actor=caller.actor()
            )
            await _thank(client, alert, incident, slack_user)
        else:
            incident = await _incident(tenant, metadata)
            await update_entry(
                incident=incident, spec=spec, author=caller.user, actor=caller.actor()
            )
    except InvalidInput as error:
        return modals.errors_for(error.field, error.message)
    except NotFound as error:
        return modals.errors_for("title", error.message)
    return None


async def _resolve_incident(
    tenant: Tenant, caller: Caller, view: dict[str, Any]
) -> dict[str, Any] | None:
    values = view.get("state", {}).get("values", {})

    def text(block: str) -> str:
        return str(values.get(block, {}).get("value", {}).get("value") or "")

    refused = refusal(caller)
    if refused:
        return modals.errors_for("root_cause", refused.text)
    try:
        incident = await _incident(tenant, str(view.get("private_metadata") or ""))
        await incidents.resolve(
            incident=incident,
            root_cause=text("root_cause"),
            solution=text("solution"),
            user=caller.user,
            actor=caller.actor(),
        )
    except (InvalidInput, NotFound) as error:
        block = {"rootCause": "root_cause", "solution": "solution"}.get(error.field or "")
        return {"response_action": "errors", "errors": {block or "root_cause": error.message}}
    return None


async def _thank(
    client: AsyncWebClient | None, alert: Alert, incident: Incident, slack_user: str
) -> None:
    """Say so in the alert's thread, where the prompt was."""
    if client is None or not alert.slack_channel or not alert.slack_ts:
        return
    text = (
        f"📝 <@{slack_user}> added *{escape(incident.title)}* to the knowledge base. "
        "Alerts like this one will show it as their Known Solution."
    )
    try:
        await client.chat_postMessage(
            channel=alert.slack_channel, thread_ts=alert.slack_ts, text=text
        )
    except SlackApiError as error:  # the entry is saved; the thanks is a courtesy
        log.warning("could not post to the alert's thread: %s", error.response.get("error"))


async def handle_click(tenant: Tenant, payload: dict[str, Any]) -> None:
    """A button that changes something (run as a job). A click is applied once:
    Slack's action timestamp and the user make its receipt."""
    action = first_action(payload)
    slack_user = str((payload.get("user") or {}).get("id") or "")
    receipt = f"act:{action.get('action_ts')}:{slack_user}"[:64]
    try:
        await SlackEventReceipt.create(tenant=tenant, event_id=receipt)
    except IntegrityError:
        return
    client = client_for(tenant)
    caller = Caller(slack_user, await user_of(tenant, slack_user, client))
    try:
        reply = await _click(tenant, caller, action, payload)
    except OpsWatchError as error:
        reply = plain(f"⚠️ {escape(error.message)}")
    if reply is not None:
        await respond(payload, reply)


async def _click(
    tenant: Tenant, caller: Caller, action: dict[str, Any], payload: dict[str, Any]
) -> Reply | None:
    action_id = action.get("action_id")
    value = str(action.get("value") or "")
    if action_id == blocks.VIEW_KNOWLEDGE_ACTION:
        return await _knowledge(tenant, value)
    if action_id == blocks.SKIP_KB_ACTION:
        alert = await _alert(tenant, value)
        text = (
            f"Not added to the knowledge base: *{escape(alert.title)}* "
            f"(skipped by <@{caller.slack_user_id}>)."
        )
        await respond(payload, Reply(text, blocks.prompt_closed(text)), replace_original=True)
        return None
    if action_id not in (blocks.ACK_ACTION, blocks.ESCALATE_ACTION, bursts.PROMOTE_ACTION):
        return None
    refused = refusal(caller)
    if refused:
        return refused
    if action_id == bursts.PROMOTE_ACTION:
        return await _promote_storm(tenant, caller, payload)
    alert = await _alert(tenant, value)
    if action_id == blocks.ACK_ACTION:
        await actions.acknowledge(alert=alert, user=caller.user, actor=caller.actor())
        return None
    await actions.request_escalation(alert=alert, actor=caller.actor())
    return plain(f"🔼 Escalating *{escape(alert.title)}* to the next tier now.")


async def _promote_storm(tenant: Tenant, caller: Caller, payload: dict[str, Any]) -> Reply:
    """The storm message's open alerts, not yet in an incident, become one incident."""
    container = payload.get("container") or {}
    channel, ts = container.get("channel_id"), container.get("message_ts")
    if not channel or not ts:
        return plain("⚠️ I can't tell which storm message this was.")
    alert_ids = [
        str(i)
        for i in await Alert.filter(
            tenant=tenant, slack_channel=channel, slack_ts=ts, incident_id=None
        )
        .exclude(status=AlertStatus.RESOLVED)
        .values_list("id", flat=True)
    ]
    if not alert_ids:
        return plain("Every alert of this storm is resolved or already in an incident.")
    incident = await incidents.promote(
        tenant=tenant,
        alert_ids=alert_ids,
        title=f"Alert storm: {len(alert_ids)} alerts",
        user=caller.user,
        actor=caller.actor(),
    )
    return plain(f"🚨 Incident *{escape(incident.title)}* is open; its war room follows.")


async def _knowledge(tenant: Tenant, value: str) -> Reply:
    """ "View Full" on a search result: the whole entry, just for the clicker."""
    kind, _, raw_id = value.partition(":")
    try:
        entry_id = uuid.UUID(raw_id)
    except ValueError:
        return plain("That knowledge entry no longer exists.")
    if kind == "runbook":
        runbook = await Runbook.get_or_none(id=entry_id, tenant=tenant)
        if runbook is None:
            return plain("That runbook no longer exists.")
        return plain(f"📋 *{escape(runbook.title)}*\n{escape(runbook.body)}")
    incident = await Incident.get_or_none(id=entry_id, tenant=tenant)
    if incident is None:
        return plain("That knowledge entry no longer exists.")
    parts = [f"📚 *{escape(incident.title)}* ({incident.severity.value}, {incident.status.value})"]
    for label, text in (
        ("Summary", incident.summary),
        ("Root cause", incident.root_cause),
        ("Solution", incident.solution),
    ):
        if text:
            parts.append(f"*{label}:* {escape(text)}")
    return Reply("\n".join(parts), blocks.text_blocks(parts))


async def respond(payload: dict[str, Any], reply: Reply, *, replace_original: bool = False) -> None:
    url = payload.get("response_url")
    if not url:
        return
    body: dict[str, Any] = {
        "text": reply.text,
        "blocks": reply.blocks,
        "replace_original": replace_original,
    }
    if not replace_original:
        body["response_type"] = "ephemeral"
    answer = await AsyncWebhookClient(str(url), timeout=10).send_dict(body)
    if answer.status_code != 200:
        log.warning("Slack response_url answered %s: %s", answer.status_code, answer.body)


async def _alert(tenant: Tenant, value: str) -> Alert:
    return await actions.get_alert(tenant=tenant, alert_id=value)


async def _incident(tenant: Tenant, value: str) -> Incident:
    try:
        incident = await Incident.get_or_none(id=uuid.UUID(value), tenant=tenant)
    except ValueError:
        incident = None
    if incident is None:
        raise NotFound("that knowledge entry no longer exists", field="id")
    return incident
