"""Events API callbacks (``/api/v1/slack/events``): ``app_mention`` answers the
slash commands in the channel (``@OpsWatch oncall``), and a DM to the app
(``message.im``) is logged as a knowledge draft, confirmed with an Edit button.

Slack redelivers an event it thinks we missed; its ``event_id`` makes a receipt,
so a redelivered DM logs one draft, not two.
"""

from __future__ import annotations

import re
from typing import Any

from slack_sdk.models.blocks import ActionsBlock, ButtonElement, PlainTextObject
from tortoise.exceptions import IntegrityError

from opswatch.knowledge.entries import EntrySpec, create_entry
from opswatch.models import IncidentSource, IncidentStatus, SlackEventReceipt, Tenant
from opswatch.slack import blocks, commands, posting
from opswatch.slack.blocks import escape
from opswatch.slack.people import user_of
from opswatch.slack.workspace import bot_user_id, client_for

_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
DRAFT_TITLE_MAX = 120


async def handle_event(tenant: Tenant, envelope: dict[str, Any]) -> None:
    event = envelope.get("event") or {}
    event_id = str(envelope.get("event_id") or "")[:64]
    if not event_id:
        return
    try:
        await SlackEventReceipt.create(tenant=tenant, event_id=event_id)
    except IntegrityError:
        return  # a redelivery of an event already taken
    if event.get("type") == "app_mention":
        await _mention(tenant, event)
    elif event.get("type") == "message" and event.get("channel_type") == "im":
        await _direct_message(tenant, event)


def _from_a_person(tenant: Tenant, event: dict[str, Any]) -> bool:
    """Not a bot (ours included: answering our own messages would loop), not an edit."""
    return (
        not event.get("bot_id")
        and not event.get("subtype")
        and bool(event.get("user"))
        and event.get("user") != bot_user_id(tenant)
    )


async def _mention(tenant: Tenant, event: dict[str, Any]) -> None:
    if not _from_a_person(tenant, event):
        return
    client = client_for(tenant)
    if client is None:
        return
    text = _MENTION.sub("", str(event.get("text") or "")).strip()
    reply = await commands.run(tenant, str(event["user"]), text, client)
    await posting.post(
        client,
        channel=str(event["channel"]),
        text=reply.text,
        blocks=reply.blocks,
        thread_ts=str(event.get("thread_ts") or event.get("ts")),
    )


async def _direct_message(tenant: Tenant, event: dict[str, Any]) -> None:
    if not _from_a_person(tenant, event):
        return
    client = client_for(tenant)
    if client is None:
        return
    text = str(event.get("text") or "").strip()
    slack_user = str(event["user"])
    if not text:
        return
    if text.lower() in ("help", "?"):
        reply = commands.usage("DM me what happened and I'll log it as a knowledge draft.")
        await posting.post(
            client, channel=str(event["channel"]), text=reply.text, blocks=reply.blocks
        )
        return
    caller = commands.Caller(slack_user, await user_of(tenant, slack_user, client))
    first_line = text.splitlines()[0]
    title = blocks.clip(first_line, DRAFT_TITLE_MAX)
    incident = await create_entry(
        tenant=tenant,
        spec=EntrySpec(
            title=title,
            severity="warning",
            summary=text,
            status=IncidentStatus.OPEN,
            source=IncidentSource.SLACK,
        ),
        author=caller.user,
        actor=caller.actor(),
    )
    confirmation = (
        f"📝 Logged as a knowledge draft: *{escape(incident.title)}* (`{incident.id}`).\n"
        "Add the root cause and the solution with Edit, so the next responder finds it."
    )
    edit = ActionsBlock(
        elements=[
            ButtonElement(
                text=PlainTextObject(text="✏️ Edit"),
                action_id=blocks.EDIT_INCIDENT_ACTION,
                value=str(incident.id),
            )
        ]
    )
    await posting.post(
        client,
        channel=str(event["channel"]),
        text=confirmation,
        blocks=[*blocks.text_blocks([confirmation]), edit.to_dict()],
    )
