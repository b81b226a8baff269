"""The escalation engine: walks each escalating alert through its policy's tiers.

An alert's escalation state lives in its row: the tier last notified, the
cycle, and when the next step is due. A tick claims due alerts (PostgreSQL:
``FOR UPDATE SKIP LOCKED``, so two schedulers never take the same alert;
SQLite: one writer at a time), and in one transaction per batch records one
EscalationEvent per person and channel (unique per alert, cycle, tier, target
and channel, so nothing is ever recorded twice), moves each alert to its next
step, and audits it. Delivery jobs are enqueued after the commit; they send
each pending event once (see ``delivery``).

Steps: tier 1 is due when the alert opens; after a tier's delay the next tier
is due; after the last tier the policy starts again from tier 1 while cycles
remain (``repeat``), then the alert is marked exhausted and an ESCALATED event
says so. Acknowledge and resolve stop it; "escalate" makes the next step due now.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tortoise.transactions import in_transaction

from opswatch.alerts.actions import SLACK_SYNC_JOB, TICK_JOB
from opswatch.alerts.live import AlertEventKind, publish_alert_event
from opswatch.audit.actor import Actor
from opswatch.escalation.targets import Attempt, attempts_for
from opswatch.logs import channel_label, delivery_failed, person_label
from opswatch.metrics.definitions import PAGES
from opswatch.models import (
    Alert,
    AlertStatus,
    AuditLog,
    Channel,
    DeliveryStatus,
    EscalationEvent,
    EscalationPolicy,
    EscalationState,
    EscalationTier,
    Roster,
    Service,
    Tenant,
    User,
)
from opswatch.queue import enqueue
from opswatch.rosters.plans import load_plans
from opswatch.rosters.resolve import holding_at
from opswatch.sql import Statement, statement

log = logging.getLogger(__name__)

BATCH = 100
LOCKED_RETRIES = 5
LOCKED_PAUSE_SECONDS = 0.05
DELIVER_AFTER_EVENTS = 5_000
DELIVER_JOB = "escalation.deliver"
# A delivery job that died mid-send leaves its event "sending"; after this it is
# marked unknown (maybe sent) rather than sent again.
STUCK_AFTER = timedelta(minutes=5)


@dataclass
class Step:
    """What one tick did to one alert."""

    alert_id: uuid.UUID
    tier: int
    cycle: int
    exhausted: bool = False
    event_ids: list[uuid.UUID] = field(default_factory=list)


async def run_due(now: datetime | None = None) -> list[Step]:
    """Take every escalation step that is due; safe to run concurrently and again."""
    moment = now or datetime.now(UTC)
    steps: list[Step] = []
    for attempt in range(LOCKED_RETRIES + 1):
        steps += await _run_batches(moment)
        if steps or not await _due_but_locked(moment):
            break
        # Due alerts another transaction holds for a moment (the pipeline, a Slack
        # sync, a concurrent tick) were skipped: look again shortly, and past a few
        # tries leave a tick behind rather than waiting for the periodic one.
        if attempt == LOCKED_RETRIES:
            await enqueue(TICK_JOB, delay_ms=int(LOCKED_PAUSE_SECONDS * 1000))
        else:
            await asyncio.sleep(LOCKED_PAUSE_SECONDS)
    await _mark_stuck(moment)
    return steps


async def _run_batches(moment: datetime) -> list[Step]:
    steps: list[Step] = []
    waiting: list[uuid.UUID] = []
    while True:
        batch, alerts = await _advance_batch(moment)
        escalated = [s for s in batch if s.exhausted or s.tier > 1 or s.cycle > 0]
        for step in escalated:
            await publish_alert_event(alert=alerts[step.alert_id], kind=AlertEventKind.ESCALATED)
        if escalated:
            await enqueue(SLACK_SYNC_JOB)
        steps += batch
        waiting += [event_id for step in batch for event_id in step.event_ids]
        # Sends start once a storm's steps are all recorded (up to a bound), so each
        # person's first page can sum up all of them instead of a first batch's share.
        if len(batch) < BATCH or len(waiting) >= DELIVER_AFTER_EVENTS:
            for event_id in waiting:
                await enqueue(DELIVER_JOB, event_id=str(event_id))
            waiting = []
        if len(batch) < BATCH:
            return steps


async def _due_but_locked(now: datetime) -> bool:
    sql = statement()
    if sql.sqlite:
        return False  # SQLite has one writer: nothing is skipped
    rows = await sql.rows(
        "SELECT 1 FROM alert WHERE escalation_state = 'active' "
        "AND escalation_next_at <= :now LIMIT 1",
        now=now,
    )
    return bool(rows)


async def _advance_batch(now: datetime) -> tuple[list[Step], dict[uuid.UUID, Alert]]:
    async with in_transaction() as connection:
        sql = Statement(connection)
        lock = "" if sql.sqlite else " FOR UPDATE SKIP LOCKED"
        rows = await sql.rows(
            "SELECT id FROM alert WHERE escalation_state = 'active' "  # noqa: S608
            f"AND escalation_next_at <= :now ORDER BY escalation_next_at LIMIT {BATCH}{lock}",
            now=now,
        )
        if not rows:
            return [], {}
        alerts = await Alert.filter(id__in=[r["id"] for r in rows]).using_db(connection)
        context = await _Context.load(alerts, now)
        steps, events, audits = [], [], []
        for alert in alerts:
            step, attempts = context.step(alert)
            steps.append(step)
            events += [_event_row(alert, step, a, now) for a in attempts]
            audits.append(_audit_row(alert, step, attempts, now))
            await _save_step(alert, step, context, now, connection)
        if events:
            await EscalationEvent.bulk_create(events, ignore_conflicts=True, using_db=connection)
            stored = set(
                await EscalationEvent.filter(id__in=[e.id for e in events])
                .using_db(connection)
                .values_list("id", flat=True)
            )
            pending = {e.id for e in events if e.status is DeliveryStatus.PENDING}
            failed = DeliveryStatus.FAILED
            unplaceable = [e for e in events if e.id in stored and e.status is failed]
            for step in steps:
                step.event_ids = [
                    e.id
                    for e in events
                    if e.alert_id == step.alert_id and e.id in stored and e.id in pending  # type: ignore[attr-defined]
                ]
        await AuditLog.bulk_create(audits, using_db=connection)
        alerts_after = await Alert.filter(id__in=[a.id for a in alerts]).using_db(connection)
    by_id = {a.id: a for a in alerts_after}
    if events:
        _log_unplaceable(unplaceable, by_id, context)
    return steps, by_id


def _log_unplaceable(
    events: list[EscalationEvent], alerts: dict[uuid.UUID, Alert], context: _Context
) -> None:
    """A page that failed before any provider saw it (nobody on call, no number, no
    Slack channel): the same WARNING as a provider's refusal, once, after the commit."""
    for event in events:
        PAGES.labels(event.channel.name, DeliveryStatus.FAILED.name).inc()
        alert = alerts[event.alert_id]  # type: ignore[attr-defined]
        tenant = context.tenants.get(event.tenant_id)  # type: ignore[attr-defined]
        user = context.person(event.user_id)  # type: ignore[attr-defined]
        delivery_failed(
            log,
            "page failed",
            tenant=tenant.slug if tenant else str(event.tenant_id),  # type: ignore[attr-defined]
            alert=alert.short_id,
            person=person_label(event.user_id, user.name if user else None)  # type: ignore[attr-defined]
            if event.user_id  # type: ignore[attr-defined]
            else event.target,
            channel=channel_label(event.channel.name),
            reason=event.reason or "no reason recorded",
        )


class _Context:
    """Everything the steps of one batch need, loaded in a fixed number of queries."""

    def __init__(
        self,
        tiers: dict[uuid.UUID, list[EscalationTier]],
        policies: dict[uuid.UUID, EscalationPolicy],
        oncall: dict[uuid.UUID, User | None],
        services: dict[uuid.UUID, Service],
        tenants: dict[uuid.UUID, Tenant],
    ) -> None:
        self.tiers = tiers
        self.policies = policies
        self.oncall = oncall
        self.services = services
        self.tenants = tenants

    @classmethod
    async def load(cls, alerts: list[Alert], now: datetime) -> _Context:
        policy_ids = {a.escalation_policy_id for a in alerts if a.escalation_policy_id}  # type: ignore[attr-defined]
        policies = {p.id: p for p in await EscalationPolicy.filter(id__in=policy_ids)}
        tiers: dict[uuid.UUID, list[EscalationTier]] = defaultdict(list)
        for tier in (
            await EscalationTier.filter(policy_id__in=policy_ids)
            .order_by("position")
            .prefetch_related("rosters", "users")
        ):
            tiers[tier.policy_id].append(tier)  # type: ignore[attr-defined]
        rosters: dict[uuid.UUID, Roster] = {
            r.id: r for tier_list in tiers.values() for t in tier_list for r in t.rosters
        }
        oncall: dict[uuid.UUID, User | None] = {}
        if rosters:
            plans = await load_plans(list(rosters.values()), now, now + timedelta(seconds=1))
            holders = {rid: holding_at(plan, now).user_id for rid, plan in plans.items()}
            users = {u.id: u for u in await User.filter(id__in=[h for h in holders.values() if h])}
            oncall = {rid: users.get(uid) if uid else None for rid, uid in holders.items()}
        service_ids = {a.service_id for a in alerts if a.service_id}  # type: ignore[attr-defined]
        services = {s.id: s for s in await Service.filter(id__in=service_ids)}
        tenant_ids = {a.tenant_id for a in alerts}  # type: ignore[attr-defined]
        tenants = {t.id: t for t in await Tenant.filter(id__in=tenant_ids)}
        return cls(tiers, policies, oncall, services, tenants)

    def person(self, user_id: uuid.UUID | None) -> User | None:
        """A user this batch loaded (on call, or named in a tier), for log lines."""
        if user_id is None:
            return None
        known = [u for u in self.oncall.values() if u is not None]
        known += [u for tiers in self.tiers.values() for t in tiers for u in t.users]
        return next((u for u in known if u.id == user_id), None)

    def step(self, alert: Alert) -> tuple[Step, list[Attempt]]:
        policy_id: uuid.UUID | None = alert.escalation_policy_id  # type: ignore[attr-defined]
        tiers = self.tiers.get(policy_id, []) if policy_id else []
        policy = self.policies.get(policy_id) if policy_id else None
        tier_number, cycle = alert.escalation_tier + 1, alert.escalation_cycle
        if policy is not None and tier_number > len(tiers) and cycle < policy.repeat:
            tier_number, cycle = 1, cycle + 1
        # An acknowledged alert takes a step only when someone asked for it ("escalate").
        if policy is None or alert.status is AlertStatus.RESOLVED or tier_number > len(tiers):
            return Step(alert.id, alert.escalation_tier, cycle, exhausted=True), []
        tier = tiers[tier_number - 1]
        attempts = attempts_for(
            channels=[Channel(c) for c in tier.channels],
            rosters=list(tier.rosters),
            named=list(tier.users),
            oncall=self.oncall,
            slack_channel=self._slack_channel(alert),
        )
        return Step(alert.id, tier_number, cycle), attempts

    def delay_after(self, alert: Alert, step: Step) -> timedelta:
        policy_id: uuid.UUID = alert.escalation_policy_id  # type: ignore[attr-defined]
        return timedelta(minutes=self.tiers[policy_id][step.tier - 1].delay_minutes)

    def _slack_channel(self, alert: Alert) -> str | None:
        service_id: uuid.UUID | None = alert.service_id  # type: ignore[attr-defined]
        service = self.services.get(service_id) if service_id else None
        if service is not None and service.slack_channel:
            return service.slack_channel
        tenant = self.tenants.get(alert.tenant_id)  # type: ignore[attr-defined]
        channel = (tenant.settings.get("slack") or {}).get("alert_channel") if tenant else None
        return str(channel) if channel else None


async def _save_step(
    alert: Alert, step: Step, context: _Context, now: datetime, connection: Any
) -> None:
    if step.exhausted:
        values: dict[str, Any] = {
            "escalation_state": EscalationState.EXHAUSTED
            if alert.status is AlertStatus.FIRING
            else EscalationState.STOPPED,
            "escalation_next_at": None,
        }
    elif alert.status is AlertStatus.ACKNOWLEDGED:  # asked for once; acknowledged stays quiet
        values = {
            "escalation_tier": step.tier,
            "escalation_cycle": step.cycle,
            "escalation_state": EscalationState.STOPPED,
            "escalation_next_at": None,
        }
    else:
        values = {
            "escalation_tier": step.tier,
            "escalation_cycle": step.cycle,
            "escalation_next_at": now + context.delay_after(alert, step),
        }
    if step.exhausted or step.tier > 1 or step.cycle > 0:
        values["notify_pending"] = True  # the Slack message says it was escalated
    await Alert.filter(id=alert.id).using_db(connection).update(**values)


def _event_row(alert: Alert, step: Step, attempt: Attempt, now: datetime) -> EscalationEvent:
    return EscalationEvent(
        id=uuid.uuid4(),
        tenant_id=alert.tenant_id,  # type: ignore[attr-defined]
        alert_id=alert.id,
        cycle=step.cycle,
        tier=step.tier,
        target=attempt.target,
        user_id=attempt.user_id,
        channel=attempt.channel,
        status=attempt.status,
        reason=attempt.reason,
        to_address=attempt.to_address,
        created_at=now,
    )


def _audit_row(alert: Alert, step: Step, attempts: list[Attempt], now: datetime) -> AuditLog:
    actor = Actor.system("escalation")
    data: dict[str, Any]
    if step.exhausted:
        action, data = "alert.escalation_exhausted", {"tier": step.tier, "cycle": step.cycle}
    else:
        action = "alert.escalated"
        data = {
            "before": {"tier": alert.escalation_tier, "cycle": alert.escalation_cycle},
            "after": {"tier": step.tier, "cycle": step.cycle},
            "attempts": [
                {"target": a.target, "channel": a.channel.value, "status": a.status.value}
                for a in attempts
            ],
        }
    return AuditLog(
        id=uuid.uuid4(),
        tenant_id=alert.tenant_id,  # type: ignore[attr-defined]
        actor_type=actor.type,
        actor_id=actor.id,
        actor_name=actor.name,
        action=action,
        target_type="alert",
        target_id=str(alert.id),
        source=actor.source,
        data=data,
        created_at=now,
    )


async def _mark_stuck(now: datetime) -> None:
    stuck = await EscalationEvent.filter(
        status=DeliveryStatus.SENDING, updated_at__lt=now - STUCK_AFTER
    ).update(
        status=DeliveryStatus.UNKNOWN,
        reason="the delivery job stopped while sending; not sent again in case it went out",
    )
    if stuck:
        log.warning("marked %d stuck escalation sends as unknown", stuck)
