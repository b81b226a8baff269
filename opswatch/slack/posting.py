"""Writing to Slack: paced per channel, and each notice sent once.

Slack allows about one message per second per channel and answers 429 beyond
it; the pacer keeps this process under that, and the client's retry handler
waits out a 429 when several processes together go over.

Notices (thread updates, prompts, DMs) are ``Notification`` rows with a dedup
key: creating one twice is a no-op, and sending claims it (pending -> sending)
first, so a job that runs twice does not post twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from tortoise.exceptions import IntegrityError

from opswatch.logs import channel_label, delivery_failed, person_label
from opswatch.models import Alert, Channel, DeliveryStatus, Notification, Tenant, User
from opswatch.sql import statement

log = logging.getLogger(__name__)

CHANNEL_INTERVAL_SECONDS = 1.0
GAVE_UP = (DeliveryStatus.FAILED, DeliveryStatus.UNKNOWN)


class Pacer:
    """At most one write per channel per interval from this process."""

    def __init__(self, interval: float = CHANNEL_INTERVAL_SECONDS) -> None:
        self.interval = interval
        self._next: dict[str, float] = {}
        self._lock = asyncio.Lock()

    async def wait(self, channel: str) -> None:
        async with self._lock:
            now = time.monotonic()
            slot = max(now, self._next.get(channel, 0.0))
            self._next[channel] = slot + self.interval
            if len(self._next) > 10_000:  # forget channels long quiet
                self._next = {c: t for c, t in self._next.items() if t > now}
        if slot > now:
            await asyncio.sleep(slot - now)


pacer = Pacer()


async def post(
    client: AsyncWebClient,
    *,
    channel: str,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    thread_ts: str | None = None,
) -> tuple[str, str]:
    """Post a message; (channel id, ts) as Slack answered them."""
    await pacer.wait(channel)
    answer = await client.chat_postMessage(
        channel=channel, text=text, blocks=blocks, thread_ts=thread_ts, unfurl_links=False
    )
    return str(answer["channel"]), str(answer["ts"])


async def update(
    client: AsyncWebClient, *, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]
) -> None:
    await pacer.wait(channel)
    await client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)


async def direct_message(
    client: AsyncWebClient, *, slack_user_id: str, text: str, blocks: list[dict[str, Any]] | None
) -> tuple[str, str]:
    opened = await client.conversations_open(users=slack_user_id)
    return await post(client, channel=str(opened["channel"]["id"]), text=text, blocks=blocks)


async def notice(
    *,
    tenant_id: uuid.UUID,
    key: str,
    kind: str,
    text: str,
    payload: dict[str, Any],
    channel: Channel = Channel.SLACK_CHANNEL,
    user_id: uuid.UUID | None = None,
    status: DeliveryStatus = DeliveryStatus.PENDING,
) -> Notification:
    """The notice with this key: created now, or the one created before."""
    try:
        return await Notification.create(
            tenant_id=tenant_id,
            user_id=user_id,
            dedup_key=key,
            kind=kind,
            channel=channel,
            text=text,
            payload=payload,
            status=status,
        )
    except IntegrityError:
        return await Notification.get(tenant_id=tenant_id, dedup_key=key)


async def claim(notification: Notification, *, take_over: bool = False) -> bool:
    """Pending -> sending, atomically. ``take_over`` also takes one left sending by a
    job that died (the caller holds the lease that makes it the only sender)."""
    states = "('pending', 'sending')" if take_over else "('pending')"
    sql = statement()
    rows = await sql.rows(
        "UPDATE notification SET status = 'sending', updated_at = :now "  # noqa: S608
        f"WHERE id = :id AND status IN {states} RETURNING id",
        id=notification.id,
        now=datetime.now(UTC),
    )
    return bool(rows)


async def release(notification: Notification) -> None:
    """Sending -> pending: nothing went out, a later run sends it."""
    await Notification.filter(id=notification.id).update(
        status=DeliveryStatus.PENDING, updated_at=datetime.now(UTC)
    )
    notification.status = DeliveryStatus.PENDING


async def finish(
    notification: Notification,
    status: DeliveryStatus,
    *,
    ref: str | None = None,
    error: str | None = None,
) -> None:
    now = datetime.now(UTC)
    values: dict[str, Any] = {"status": status, "updated_at": now}
    if ref is not None:
        values["provider_ref"] = ref
    if error is not None:
        values["error"] = error[:2000]
    if status is DeliveryStatus.SENT:
        values["sent_at"] = now
    await Notification.filter(id=notification.id).update(**values)
    notification.status = status
    if ref is not None:
        notification.provider_ref = ref
    if status in GAVE_UP:
        await _log_gave_up(notification, status, error or "no reason recorded")


async def _log_gave_up(notification: Notification, status: DeliveryStatus, reason: str) -> None:
    """The WARNING for a notice that failed or may not have arrived. Only failures pay
    for the lookups of who and what it was about."""
    tenant = await Tenant.get_or_none(id=notification.tenant_id)  # type: ignore[attr-defined]
    user_id = notification.user_id  # type: ignore[attr-defined]
    user = await User.get_or_none(id=user_id) if user_id else None
    alert_id = notification.payload.get("alert_id")
    alert = await Alert.get_or_none(id=alert_id) if alert_id else None
    slack_channel = notification.payload.get("channel")
    delivery_failed(
        log,
        f"Slack {notification.kind} notice {status.value}",
        tenant=tenant.slug if tenant else str(notification.tenant_id),  # type: ignore[attr-defined]
        alert=alert.short_id if alert else None,
        person=person_label(user_id, user.name if user else None) if user_id else None,
        channel=channel_label(notification.channel.name, slack_channel),
        reason=reason,
    )
