"""An incident's war room: one message in Slack (spec 5) whose thread carries
every later change of the incident's alerts, and the prompt for root cause and
solution once it is resolved.

The war room message is posted once (claimed through its notice, like an alert
message) and kept current with ``chat.update``; each line in its thread is a
notice of its own, so a job that runs twice does not say anything twice.
"""

from __future__ import annotations

import uuid
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from opswatch.knowledge.incidents import missing_knowledge
from opswatch.models import (
    Alert,
    DeliveryStatus,
    Incident,
    IncidentStatus,
    Notification,
    Tenant,
    User,
)
from opswatch.slack import blocks, posting
from opswatch.slack.bursts import alert_line
from opswatch.slack.changes import changes_of
from opswatch.slack.people import slack_id_of
from opswatch.slack.workspace import alert_channel, client_for

RESOLVE_ACTION = "resolve_incident"
RESOLVE_MODAL = "incident_resolve"
MAX_LISTED = 20


async def sync(incident_id: uuid.UUID) -> None:
    """Post or update the war room, and say in its thread that it was resolved."""
    incident = await Incident.get_or_none(id=incident_id)
    if incident is None:
        return
    tenant = await Tenant.get(id=incident.tenant_id)  # type: ignore[attr-defined]
    client = client_for(tenant)
    if client is None:
        return
    alerts = list(await Alert.filter(incident_id=incident.id).order_by("created_at").limit(100))
    channel = incident.slack_channel or _channel_of(alerts) or alert_channel(tenant)
    if channel is None:
        return
    text, room = await render(incident, alerts, client)
    if incident.slack_thread_ts is None:
        notice = await posting.notice(
            tenant_id=tenant.id,
            key=f"incident:{incident.id}:war_room",
            kind="incident.war_room",
            text=text,
            payload={"incident_id": str(incident.id), "channel": channel},
        )
        if not await posting.claim(notice, take_over=True):
            return
        # The room lists each alert's state: what happened before is not retold.
        for alert in alerts:
            for change in changes_of(alert):
                await posting.notice(
                    tenant_id=tenant.id,
                    key=war_room_key(alert, change, incident),
                    kind="incident.thread",
                    text="shown in the war room's first message",
                    payload={"incident_id": str(incident.id)},
                    status=DeliveryStatus.CANCELED,
                )
        posted, ts = await posting.post(client, channel=channel, text=text, blocks=room)
        await Incident.filter(id=incident.id).update(slack_channel=posted, slack_thread_ts=ts)
        incident.slack_channel, incident.slack_thread_ts = posted, ts
        await posting.finish(notice, DeliveryStatus.SENT, ref=ts)
    else:
        await posting.update(
            client,
            channel=incident.slack_channel or channel,
            ts=incident.slack_thread_ts,
            text=text,
            blocks=room,
        )
    if incident.status is IncidentStatus.RESOLVED:
        await _say_resolved(client, tenant, incident)


def war_room_key(alert: Alert, change: str, incident: Incident) -> str:
    return f"alert:{alert.id}:{change}:incident:{incident.id}"


async def alert_changed(client: AsyncWebClient, alert: Alert, lines: dict[str, str]) -> None:
    """Tell the war room of the alert's incident what happened to the alert (one line
    per change key), and bring the room's list of alerts up to date."""
    incident = await Incident.get_or_none(id=alert.incident_id) if alert.incident_id else None  # type: ignore[attr-defined]
    if incident is None or not incident.slack_thread_ts:
        return
    for change, text in lines.items():
        await thread_line(
            client,
            incident.tenant_id,  # type: ignore[attr-defined]
            incident,
            key=war_room_key(alert, change, incident),
            text=f"`{alert.short_id}` {text}",
        )
    await sync(incident.id)


def _channel_of(alerts: list[Alert]) -> str | None:
    return next((a.slack_channel for a in alerts if a.slack_channel), None)


async def render(
    incident: Incident, alerts: list[Alert], client: AsyncWebClient
) -> tuple[str, list[dict[str, Any]]]:
    commander = await User.get_or_none(id=incident.commander_id) if incident.commander_id else None  # type: ignore[attr-defined]
    who = "nobody yet"
    if commander is not None:
        who = blocks.mention(await slack_id_of(commander, client), commander.name)
    emoji = blocks.SEVERITY_EMOJI[incident.severity]
    lines = [alert_line(a) for a in alerts[:MAX_LISTED]]
    if len(alerts) > MAX_LISTED:
        lines.append(f"…and {len(alerts) - MAX_LISTED} more")
    layout: list[Block] = [
        HeaderBlock(
            text=PlainTextObject(
                text=blocks.clip(f"🚨 Incident: {incident.title}", blocks.HEADER_MAX)
            )
        ),
        SectionBlock(
            text=MarkdownTextObject(
                text=f"{emoji} *{incident.severity.value.upper()}* · "
                f"*Status:* {incident.status.value} · *Commander:* {who}"
            )
        ),
        SectionBlock(
            text=MarkdownTextObject(
                text=blocks.clip("*Alerts:*\n" + "\n".join(lines), blocks.SECTION_MAX)
            )
        ),
    ]
    if incident.status is not IncidentStatus.RESOLVED or missing_knowledge(incident):
        label = (
            "✅ Resolve incident"
            if incident.status is not IncidentStatus.RESOLVED
            else "📝 Add root cause and solution"
        )
        layout.append(
            ActionsBlock(
                elements=[
                    blocks.button(label, RESOLVE_ACTION, value=str(incident.id), style="primary")
                ]
            )
        )
    text = f"Incident: {incident.title} ({incident.status.value}); updates in this thread"
    return text, [b.to_dict() for b in layout]


async def _say_resolved(client: AsyncWebClient, tenant: Tenant, incident: Incident) -> None:
    lacking = missing_knowledge(incident)
    key = f"incident:{incident.id}:resolved" + (":missing" if lacking else "")
    if lacking:
        text = (
            "✅ Resolved, but without a root cause and a solution. "
            "Add them with the button above, so the next responder finds them."
        )
    else:
        text = (
            "✅ *Resolved.*\n"
            f"*Root cause:* {blocks.escape(incident.root_cause or '')}\n"
            f"*Solution:* {blocks.escape(incident.solution or '')}"
        )
    await thread_line(client, tenant.id, incident, key=key, text=blocks.clip(text, 3000))


async def thread_line(
    client: AsyncWebClient, tenant_id: uuid.UUID, incident: Incident, *, key: str, text: str
) -> None:
    """One line in the war room's thread, said once."""
    if not incident.slack_channel or not incident.slack_thread_ts:
        return
    notice: Notification = await posting.notice(
        tenant_id=tenant_id,
        key=key,
        kind="incident.thread",
        text=text,
        payload={"incident_id": str(incident.id)},
    )
    if notice.status is not DeliveryStatus.PENDING or not await posting.claim(notice):
        return
    _, ts = await posting.post(
        client, channel=incident.slack_channel, text=text, thread_ts=incident.slack_thread_ts
    )
    await posting.finish(notice, DeliveryStatus.SENT, ref=ts)


def resolve_modal(incident: Incident) -> dict[str, Any]:
    """Root cause and solution, both required (spec 5, step 6)."""
    view = View(
        type="modal",
        callback_id=RESOLVE_MODAL,
        private_metadata=str(incident.id),
        title=PlainTextObject(text="Resolve incident"),
        submit=PlainTextObject(text="Resolve"),
        close=PlainTextObject(text="Cancel"),
        blocks=[
            SectionBlock(
                text=MarkdownTextObject(text=f"*{blocks.escape(blocks.clip(incident.title, 500))}*")
            ),
            _long_input("root_cause", "Root cause", incident.root_cause),
            _long_input("solution", "Solution", incident.solution),
        ],
    )
    result: dict[str, Any] = view.to_dict()
    return result


def _long_input(block_id: str, label: str, initial: str | None) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=PlainTextObject(text=label),
        element=PlainTextInputElement(
            action_id="value",
            multiline=True,
            max_length=3000,
            initial_value=(initial or "")[:3000] or None,
        ),
    )
