"""Alert storms: past ``BURST_LIMIT`` new alert messages in a channel within a
minute, further new alerts are listed in one storm message per channel and
minute instead of one message each, so a channel stays readable and within
Slack's pace while a cluster falls over.

A listed alert behaves like any other: its state shows in the storm message
(rebuilt from the listed alerts whenever one changes), its changes go to the
storm message's thread, and it is acknowledged with ``/opswatch ack <id>``.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ContextBlock,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.web.async_client import AsyncWebClient

from opswatch.models import Alert, AlertStatus, DeliveryStatus, Tenant
from opswatch.slack import blocks, posting

BURST_LIMIT = 10
WINDOW_SECONDS = 60
MAX_LISTED = 40
LINES_PER_SECTION = 10
SUMMARY_KIND = "alert.storm"
# Promotes the storm's open alerts to one incident (the click names the message).
PROMOTE_ACTION = "promote_incident"
MEMBER_KIND = "alert.in_storm"


class StormBusy(Exception):
    """Another job is posting this minute's storm message: come back in a moment."""


class _Recent:
    """New alert messages this process posted per channel, over the last window."""

    def __init__(self) -> None:
        self._posts: dict[str, deque[float]] = defaultdict(deque)

    def record(self, channel: str) -> None:
        self._posts[channel].append(time.monotonic())

    def count(self, channel: str) -> int:
        posts = self._posts[channel]
        horizon = time.monotonic() - WINDOW_SECONDS
        while posts and posts[0] < horizon:
            posts.popleft()
        return len(posts)


recent = _Recent()


def storming(channel: str) -> bool:
    return recent.count(channel) >= BURST_LIMIT


async def join(alert: Alert, tenant: Tenant, client: AsyncWebClient, channel: str) -> None:
    """List the alert in this minute's storm message of the channel (posting it first
    if it is the first to be listed)."""
    window = int(time.time() // WINDOW_SECONDS)
    summary = await posting.notice(
        tenant_id=tenant.id,
        key=f"storm:{channel}:{window}",
        kind=SUMMARY_KIND,
        text="alert storm",
        payload={"channel": channel},
    )
    if await posting.claim(summary):
        text, storm_blocks = render([alert], total=1)
        posted_channel, ts = await posting.post(
            client, channel=channel, text=text, blocks=storm_blocks
        )
        await posting.finish(summary, DeliveryStatus.SENT, ref=ts)
        await _list(alert, tenant, posted_channel, ts)
        return
    await summary.refresh_from_db()
    if summary.status is not DeliveryStatus.SENT or not summary.provider_ref:
        raise StormBusy(channel)
    await _list(alert, tenant, channel, summary.provider_ref)
    await refresh(client, tenant, channel, summary.provider_ref)


async def _list(alert: Alert, tenant: Tenant, channel: str, ts: str) -> None:
    await Alert.filter(id=alert.id).update(slack_channel=channel, slack_ts=ts)
    alert.slack_channel, alert.slack_ts = channel, ts
    await posting.notice(
        tenant_id=tenant.id,
        key=f"alert:{alert.id}:message",
        kind=MEMBER_KIND,
        text="listed in the storm message",
        payload={"alert_id": str(alert.id), "channel": channel},
        status=DeliveryStatus.SENT,
    )


async def refresh(client: AsyncWebClient, tenant: Tenant, channel: str, ts: str) -> None:
    """Rebuild the storm message from the alerts listed in it, as they are now."""
    query = Alert.filter(tenant=tenant, slack_channel=channel, slack_ts=ts)
    total = await query.count()
    listed = await query.order_by("created_at", "id").limit(MAX_LISTED)
    text, storm_blocks = render(listed, total=total)
    await posting.update(client, channel=channel, ts=ts, text=text, blocks=storm_blocks)


def render(alerts: list[Alert], *, total: int) -> tuple[str, list[dict[str, Any]]]:
    open_count = sum(1 for a in alerts if a.status is not AlertStatus.RESOLVED)
    header = f"🔥 Alert storm: {total} more alert{'s' if total != 1 else ''} in this channel"
    lines = [alert_line(a) for a in alerts]
    if total > len(alerts):
        lines.append(f"…and {total - len(alerts)} more (see `/opswatch` or GraphQL)")
    sections = [
        SectionBlock(
            text=MarkdownTextObject(
                text=blocks.clip("\n".join(lines[i : i + LINES_PER_SECTION]), blocks.SECTION_MAX)
            )
        )
        for i in range(0, len(lines), LINES_PER_SECTION)
    ]
    note = (
        "Listed here instead of one message each. Act on one with "
        "`/opswatch ack <id>` or `/opswatch resolve <id>`; their updates go to this thread."
    )
    layout: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=blocks.clip(header, blocks.HEADER_MAX))),
        *sections,
        ContextBlock(elements=[MarkdownTextObject(text=note)]),
    ]
    if open_count:
        promote = blocks.button("🚨 Promote to Incident", PROMOTE_ACTION, value="storm")
        layout.append(ActionsBlock(elements=[promote]))
    fallback = f"{header} ({open_count} still open)"
    return fallback, [b.to_dict() for b in layout]


def alert_line(alert: Alert) -> str:
    """One alert in a list: severity, short id, title, state."""
    state = {
        AlertStatus.FIRING: "firing",
        AlertStatus.ACKNOWLEDGED: "✅ acknowledged",
        AlertStatus.RESOLVED: "✔️ resolved",
    }[alert.status]
    emoji = blocks.SEVERITY_EMOJI[alert.severity]
    title = blocks.escape(blocks.clip(alert.title, 120))
    return f"{emoji} `{alert.short_id}` *{title}* · {state}"
