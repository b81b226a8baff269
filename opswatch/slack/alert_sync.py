"""Keeping each alert's Slack message current.

Whatever changes an alert in a way its message shows sets ``notify_pending``.
The sync job claims due alerts in one UPDATE (clearing the flag, taking a lease),
posts or updates each message from the alert as it is now, and releases them.
So a storm of changes to one alert is one ``chat.update`` with the final state;
a change during the sync sets the flag again and is synced next; a job that dies
leaves its lease behind, and an expired lease makes the alert due again. A Slack
failure puts the alert back as due a little later: it never blocks ingest or
escalation, which run in other jobs.

The first message goes to the service's channel, else the tenant's alert
channel. Later changes update it in place and add a line to its thread; a
resolved alert that no knowledge entry matched gets the spec's "new issue"
prompt in that thread, and an agent's automatic fix gets an informational
summary instead of an alert message.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from opswatch.alerts.actions import SLACK_SYNC_JOB
from opswatch.knowledge.matching import known_solution
from opswatch.logs import channel_label, delivery_failed
from opswatch.models import (
    Alert,
    AlertSourceFormat,
    AlertStatus,
    Channel,
    DeliveryStatus,
    Incident,
    Notification,
    Service,
    Tenant,
    User,
)
from opswatch.queue import enqueue
from opswatch.slack import blocks, bursts, posting, war_room
from opswatch.slack.bursts import StormBusy, storming
from opswatch.slack.changes import changes_of, escalation_note
from opswatch.slack.people import slack_id_of
from opswatch.slack.workspace import alert_channel, client_for
from opswatch.sql import statement

log = logging.getLogger(__name__)

CLAIM_LIMIT = 10
LEASE = timedelta(minutes=5)
RETRY_AFTER_FAILURE = timedelta(seconds=30)
LOCKED_RETRIES = 5
LOCKED_PAUSE_SECONDS = 0.05
# Each leaves the alert due again shortly (StormBusy: another job is posting the
# storm message it belongs in).
SLACK_FAILURES = (SlackClientError, aiohttp.ClientError, TimeoutError, OSError, StormBusy)


async def sync_due(now: datetime | None = None) -> int:
    """Sync every due alert, batch after batch; returns how many were synced."""
    total = 0
    skipped = 0
    while True:
        moment = now or datetime.now(UTC)
        claimed = await _claim(moment)
        if claimed:
            await _sync_batch(claimed)
            total += len(claimed)
            continue
        if not await _due_but_locked(moment):
            return total
        # Another transaction (an escalation tick, a batch of the pipeline) holds the
        # row for a moment: look again shortly, and past a few tries leave a job
        # behind rather than waiting for the periodic one.
        skipped += 1
        if skipped > LOCKED_RETRIES:
            await enqueue(SLACK_SYNC_JOB, delay_ms=int(LOCKED_PAUSE_SECONDS * 1000))
            return total
        await asyncio.sleep(LOCKED_PAUSE_SECONDS)


async def _due_but_locked(now: datetime) -> bool:
    sql = statement()
    if sql.sqlite:
        return False  # SQLite has one writer: nothing is skipped
    rows = await sql.rows(
        "SELECT 1 FROM alert WHERE (notify_pending OR notify_claimed_until IS NOT NULL) "
        "AND (notify_claimed_until IS NULL OR notify_claimed_until < :now) LIMIT 1",
        now=now,
    )
    return bool(rows)


async def _claim(now: datetime) -> list[uuid.UUID]:
    sql = statement()
    lock = "" if sql.sqlite else " FOR UPDATE SKIP LOCKED"
    rows = await sql.rows(
        "UPDATE alert SET notify_pending = :no, notify_claimed_until = :lease "  # noqa: S608
        "WHERE id IN (SELECT id FROM alert "
        "WHERE (notify_pending OR notify_claimed_until IS NOT NULL) "
        "AND (notify_claimed_until IS NULL OR notify_claimed_until < :now) "
        f"ORDER BY updated_at LIMIT {CLAIM_LIMIT}{lock}) RETURNING id",
        no=False,
        lease=now + LEASE,
        now=now,
    )
    return [r["id"] if isinstance(r["id"], uuid.UUID) else uuid.UUID(r["id"]) for r in rows]


async def _sync_batch(alert_ids: list[uuid.UUID]) -> None:
    alerts = await Alert.filter(id__in=alert_ids).order_by("created_at")
    by_tenant: dict[uuid.UUID, list[Alert]] = defaultdict(list)
    for alert in alerts:
        by_tenant[alert.tenant_id].append(alert)  # type: ignore[attr-defined]
    tenants = {t.id: t for t in await Tenant.filter(id__in=list(by_tenant))}
    for tenant_id, tenant_alerts in by_tenant.items():
        tenant = tenants[tenant_id]
        client = client_for(tenant)
        failed: list[Alert] = []
        if client is not None:
            cards = await Cards.load(tenant_alerts, client)
            for alert in tenant_alerts:
                if failed:  # Slack is failing for this workspace: do not hammer it
                    failed.append(alert)
                    continue
                try:
                    await sync_alert(alert, tenant, client, cards)
                except SLACK_FAILURES as error:
                    # The later alerts of this workspace wait for the retry unlogged:
                    # one line says Slack is failing, not one per alert of a storm.
                    delivery_failed(
                        log,
                        "Slack sync of an alert failed; retried later",
                        tenant=tenant.slug,
                        alert=alert.short_id,
                        person=None,
                        channel=channel_label(
                            Channel.SLACK_CHANNEL.name, alert.slack_channel or alert_channel(tenant)
                        ),
                        reason=_reason(error),
                    )
                    failed.append(alert)
        done = [a.id for a in tenant_alerts if a not in failed]
        await Alert.filter(id__in=done).update(notify_claimed_until=None)
        if failed:
            await Alert.filter(id__in=[a.id for a in failed]).update(
                notify_pending=True, notify_claimed_until=datetime.now(UTC) + RETRY_AFTER_FAILURE
            )


def _reason(error: BaseException) -> str:
    if isinstance(error, SlackApiError):
        return str(error.response.get("error"))
    return f"{type(error).__name__}: {error}"


class Cards:
    """The alert messages' contents for one batch, in a fixed number of queries."""

    def __init__(
        self,
        services: dict[uuid.UUID, Service],
        users: dict[uuid.UUID, User],
        incidents: dict[uuid.UUID, Incident],
    ) -> None:
        self.services = services
        self.users = users
        self.incidents = incidents

    @classmethod
    async def load(cls, alerts: list[Alert], client: AsyncWebClient) -> Cards:
        service_ids = {a.service_id for a in alerts if a.service_id}  # type: ignore[attr-defined]
        user_ids = {
            uid
            for a in alerts
            for uid in (a.oncall_user_id, a.acknowledged_by_id, a.resolved_by_id)  # type: ignore[attr-defined]
            if uid
        }
        incident_ids = {a.known_solution_id for a in alerts if a.known_solution_id}  # type: ignore[attr-defined]
        users = {u.id: u for u in await User.filter(id__in=user_ids)}
        for user in users.values():
            await slack_id_of(user, client)
        return cls(
            {s.id: s for s in await Service.filter(id__in=service_ids)},
            users,
            {i.id: i for i in await Incident.filter(id__in=incident_ids)},
        )

    def person(self, user_id: uuid.UUID | None) -> blocks.Person | None:
        user = self.users.get(user_id) if user_id else None
        return blocks.Person(user.name, user.slack_user_id) if user else None

    def service(self, alert: Alert) -> Service | None:
        return self.services.get(alert.service_id) if alert.service_id else None  # type: ignore[attr-defined]

    def card(self, alert: Alert) -> blocks.AlertCard:
        service = self.service(alert)
        solution = self.incidents.get(alert.known_solution_id) if alert.known_solution_id else None  # type: ignore[attr-defined]
        labels = alert.labels or {}
        return blocks.AlertCard(
            alert_id=str(alert.id),
            short_id=alert.short_id,
            title=alert.title,
            severity=alert.severity,
            status=alert.status,
            cluster=labels.get("cluster"),
            namespace=labels.get("namespace"),
            service=service.name if service else None,
            oncall=self.person(alert.oncall_user_id),  # type: ignore[attr-defined]
            known_solution=solution.solution if solution and solution.solution else None,
            runbook_url=alert.runbook_url,
            acknowledged_by=self.person(alert.acknowledged_by_id),  # type: ignore[attr-defined]
            acknowledged_at=slack_time(alert.acknowledged_at),
            resolved_by=self.person(alert.resolved_by_id),  # type: ignore[attr-defined]
            resolved_at=slack_time(alert.resolved_at),
            resolution_notes=alert.resolution_notes,
            escalation_note=escalation_note(alert),
        )


def slack_time(at: datetime | None) -> str | None:
    """Shown in each reader's own time zone by Slack; UTC where it cannot."""
    if at is None:
        return None
    fallback = at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"


def is_agent_fix(alert: Alert) -> bool:
    agent = alert.agent_metadata or {}
    return alert.source_format is AlertSourceFormat.AGENT and agent.get("auto_resolved") is True


async def channel_for(alert: Alert, tenant: Tenant, service: Service | None) -> str | None:
    if alert.slack_channel:
        return alert.slack_channel
    if service is not None and service.slack_channel:
        return service.slack_channel
    return alert_channel(tenant)


async def sync_alert(alert: Alert, tenant: Tenant, client: AsyncWebClient, cards: Cards) -> None:
    channel = await channel_for(alert, tenant, cards.service(alert))
    if channel is None:
        return  # nowhere to post: the tenant has Slack but no alert channel
    card = cards.card(alert)
    if alert.slack_ts is None:
        if storming(channel) and not is_agent_fix(alert):
            await bursts.join(alert, tenant, client, channel)
            kind = bursts.MEMBER_KIND
        else:
            await _first_message(alert, tenant, client, channel, card)
            kind = "alert.message"
    else:
        kind = await _update_message(alert, tenant, client, card)
    if alert.slack_ts is None or alert.slack_channel is None:
        return
    # In a storm's thread, each line says which alert it is about.
    prefix = f"`{alert.short_id}` " if kind == bursts.MEMBER_KIND else ""
    for notification in await _thread_notices(alert, card, prefix):
        if notification.status is not DeliveryStatus.PENDING or not await posting.claim(
            notification, take_over=True
        ):
            continue
        thread_blocks = notification.payload.get("blocks") or None
        _, ts = await posting.post(
            client,
            channel=alert.slack_channel,
            text=notification.text,
            blocks=thread_blocks,
            thread_ts=alert.slack_ts,
        )
        await posting.finish(notification, DeliveryStatus.SENT, ref=ts)
    if alert.incident_id is not None:  # type: ignore[attr-defined]
        lines = {c: blocks.thread_update(card, c.split(":")[0]) for c in changes_of(alert)}
        await war_room.alert_changed(client, alert, lines)


async def _update_message(
    alert: Alert, tenant: Tenant, client: AsyncWebClient, card: blocks.AlertCard
) -> str:
    """The alert's own message shows its state; a storm message is rebuilt; an
    agent's summary stays as it was said. Returns which kind of message it is."""
    channel, ts = alert.slack_channel or "", alert.slack_ts or ""
    message = await Notification.get_or_none(
        tenant_id=tenant.id, dedup_key=f"alert:{alert.id}:message"
    )
    kind = message.kind if message else "alert.message"
    if kind == bursts.MEMBER_KIND:
        await bursts.refresh(client, tenant, channel, ts)
    elif kind == "alert.message":
        text, message_blocks = blocks.alert_message(card)
        await posting.update(client, channel=channel, ts=ts, text=text, blocks=message_blocks)
    return kind


async def _first_message(
    alert: Alert, tenant: Tenant, client: AsyncWebClient, channel: str, card: blocks.AlertCard
) -> None:
    """Post the alert's message once: claimed through its notice, so two jobs
    cannot both post it; one left sending by a dead job is taken over (we hold the
    alert's lease)."""
    if is_agent_fix(alert):
        text, message_blocks = blocks.agent_summary(
            title=alert.title,
            severity=alert.severity,
            agent=alert.agent_metadata or {},
            short_id=alert.short_id,
        )
        kind = "alert.agent_summary"
    else:
        text, message_blocks = blocks.alert_message(card)
        kind = "alert.message"
    notification = await posting.notice(
        tenant_id=tenant.id,
        key=f"alert:{alert.id}:message",
        kind=kind,
        text=text,
        payload={"alert_id": str(alert.id), "channel": channel},
    )
    if not await posting.claim(notification, take_over=True):
        return
    # What this first message already shows is not repeated in its thread.
    for change in changes_of(alert):
        await posting.notice(
            tenant_id=tenant.id,
            key=f"alert:{alert.id}:{change}",
            kind=f"alert.{change}",
            text="shown in the alert's first message",
            payload={"alert_id": str(alert.id)},
            status=DeliveryStatus.CANCELED,
        )
    posted_channel, ts = await posting.post(
        client, channel=channel, text=text, blocks=message_blocks
    )
    bursts.recent.record(channel)
    await Alert.filter(id=alert.id).update(slack_channel=posted_channel, slack_ts=ts)
    alert.slack_channel, alert.slack_ts = posted_channel, ts
    await posting.finish(notification, DeliveryStatus.SENT, ref=ts)


async def is_new_issue(alert: Alert) -> bool:
    """Resolved, and no knowledge entry matches it, not even one written since it
    fired (then it is linked now, and there is nothing to prompt for)."""
    if alert.status is not AlertStatus.RESOLVED or is_agent_fix(alert):
        return False
    if alert.known_solution_id is not None or alert.incident_id is not None:  # type: ignore[attr-defined]
        return False
    tenant = await Tenant.get(id=alert.tenant_id)  # type: ignore[attr-defined]
    found = await known_solution(tenant, alert.title, alert.labels or {})
    if found is None:
        return True
    await Alert.filter(id=alert.id, known_solution_id=None).update(known_solution_id=found)
    return False


async def _thread_notices(
    alert: Alert, card: blocks.AlertCard, prefix: str = ""
) -> list[Notification]:
    notices = []
    tenant_id = alert.tenant_id  # type: ignore[attr-defined]
    for change in changes_of(alert):
        kind = change.split(":")[0]
        notices.append(
            await posting.notice(
                tenant_id=tenant_id,
                key=f"alert:{alert.id}:{change}",
                kind=f"alert.{kind}",
                text=prefix + blocks.thread_update(card, kind),
                payload={"alert_id": str(alert.id)},
            )
        )
    if await is_new_issue(alert):
        resolved_by = card.resolved_by.mention() if card.resolved_by else "its source"
        notices.append(
            await posting.notice(
                tenant_id=tenant_id,
                key=f"alert:{alert.id}:resolution_prompt",
                kind="alert.resolution_prompt",
                text=f"Alert {alert.title} resolved: a new issue, not in the knowledge base.",
                payload={
                    "alert_id": str(alert.id),
                    "blocks": blocks.resolution_prompt(alert.title, str(alert.id), resolved_by),
                },
            )
        )
    return notices
