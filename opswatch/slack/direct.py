"""Slack as an escalation channel (a DM to the person paged, or a post to a
channel, with the alert's own buttons) and the DMs OpsWatch sends outside
escalation (handoff notices).

Slack's failures map onto the delivery job's three outcomes: a refusal that will
not change (no such user or channel, the app removed) is final; a rate limit,
a server error or a refused connection is retried; a timeout may have posted,
so it is never posted again blindly.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient
from tortoise.expressions import Q
from tortoise.queryset import QuerySet

from opswatch.escalation.engine import STUCK_AFTER
from opswatch.escalation.providers.base import (
    OutcomeUnknown,
    ProviderUnavailable,
    Rejected,
    Sent,
)
from opswatch.models import (
    Alert,
    Channel,
    DeliveryStatus,
    EscalationEvent,
    Notification,
    Tenant,
    User,
)
from opswatch.slack import blocks, posting
from opswatch.slack.alert_sync import Cards
from opswatch.slack.people import slack_id_of
from opswatch.slack.workspace import client_for

log = logging.getLogger(__name__)

PROVIDER = "slack"
NOTICE_BATCH = 50
RETRYABLE_ERRORS = {"ratelimited", "internal_error", "fatal_error", "service_unavailable"}


async def page(client: AsyncWebClient, event: EscalationEvent, alert: Alert) -> tuple[Sent, str]:
    """One escalation attempt over Slack; (what Slack took, the text sent)."""
    cards = await Cards.load([alert], client)
    text, message_blocks = blocks.alert_message(cards.card(alert))
    if event.channel is Channel.SLACK_DM:
        text = f"🚨 You are being paged: {text}"
    else:  # @here notifies the channel's active members, as a page should
        text = f"<!here> 🚨 Paging this channel: {text}"
    try:
        if event.channel is Channel.SLACK_DM:
            user = await User.get_or_none(id=event.user_id) if event.user_id else None  # type: ignore[attr-defined]
            slack_id = await slack_id_of(user, client) if user else None
            if slack_id is None:
                raise Rejected(f"no Slack account matches {event.to_address or 'this user'}")
            channel, ts = await posting.direct_message(
                client, slack_user_id=slack_id, text=text, blocks=message_blocks
            )
        else:
            channel, ts = await posting.post(
                client, channel=event.to_address or "", text=text, blocks=message_blocks
            )
    except SlackApiError as error:
        reason = str(error.response.get("error"))
        if reason in RETRYABLE_ERRORS or error.response.status_code >= 500:
            raise ProviderUnavailable(f"Slack: {reason}") from None
        raise Rejected(f"Slack refused it: {reason}") from None
    except TimeoutError:
        raise OutcomeUnknown("Slack did not answer in time") from None
    except (aiohttp.ClientConnectionError, SlackRequestError, OSError) as error:
        raise ProviderUnavailable(f"Slack unreachable: {error}") from None
    return Sent(f"{channel}:{ts}", DeliveryStatus.SENT), text


async def deliver_notices(tenant_id: uuid.UUID | None = None) -> int:
    """Send pending Slack DMs (handoff notices); how many were sent."""
    await _mark_stuck_notices(datetime.now(UTC))
    sent = 0
    clients: dict[uuid.UUID, AsyncWebClient | None] = {}
    for notification in await pending_dms(tenant_id):
        tenant_key = notification.tenant_id  # type: ignore[attr-defined]
        if tenant_key not in clients:
            tenant = await Tenant.get(id=tenant_key)
            clients[tenant_key] = client_for(tenant)
        client = clients[tenant_key]
        if not await posting.claim(notification):
            continue
        if client is None:
            await posting.finish(
                notification, DeliveryStatus.FAILED, error="Slack is not connected for this tenant"
            )
            continue
        if await _send_notice(client, notification):
            sent += 1
    return sent


async def _send_notice(client: AsyncWebClient, notification: Notification) -> bool:
    user = await User.get_or_none(id=notification.user_id) if notification.user_id else None  # type: ignore[attr-defined]
    slack_id = await slack_id_of(user, client) if user else None
    if slack_id is None:
        await posting.finish(
            notification, DeliveryStatus.FAILED, error="no Slack account matches the user's e-mail"
        )
        return False
    try:
        channel, ts = await posting.direct_message(
            client, slack_user_id=slack_id, text=notification.text, blocks=None
        )
    except SlackApiError as error:
        reason = str(error.response.get("error"))
        if reason in RETRYABLE_ERRORS or error.response.status_code >= 500:
            await posting.release(notification)
            return False  # the next run tries again
        await posting.finish(notification, DeliveryStatus.FAILED, error=f"Slack: {reason}")
        return False
    except TimeoutError:
        await posting.finish(notification, DeliveryStatus.UNKNOWN, error="Slack did not answer")
        return False
    except (aiohttp.ClientError, SlackRequestError, OSError):
        await posting.release(notification)
        return False
    await posting.finish(notification, DeliveryStatus.SENT, ref=f"{channel}:{ts}")
    return True


def pending_dms(tenant_id: uuid.UUID | None = None) -> QuerySet[Notification]:
    """The oldest DMs to send (a partial index holds only the open ones)."""
    query = Notification.filter(status=DeliveryStatus.PENDING, channel=Channel.SLACK_DM)
    if tenant_id is not None:
        query = query.filter(tenant_id=tenant_id)
    return query.order_by("created_at").limit(NOTICE_BATCH)


def stuck_dms(now: datetime) -> QuerySet[Notification]:
    """DMs claimed over ``STUCK_AFTER`` ago and still sending. (A claim made before
    migration 0010 has no time of its own: its notice's creation stands in.)"""
    cutoff = now - STUCK_AFTER
    return Notification.filter(
        Q(updated_at__lt=cutoff) | Q(updated_at__isnull=True, created_at__lt=cutoff),
        channel=Channel.SLACK_DM,
        status=DeliveryStatus.SENDING,
    )


async def _mark_stuck_notices(now: datetime) -> None:
    """A DM left "sending" past ``STUCK_AFTER`` belongs to a job that died mid-send.
    It is marked unknown, as a stuck page is: it may have gone out, so it is not
    sent again blindly, and it no longer looks as if it were still on its way."""
    stuck = await stuck_dms(now).update(
        status=DeliveryStatus.UNKNOWN,
        updated_at=now,
        error="the sending job stopped while sending; not sent again in case it went out",
    )
    if stuck:
        log.warning("marked %d stuck Slack DM notices as unknown", stuck)
