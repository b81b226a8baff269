"""Bringing back escalation events left pending, and giving up on those too old to send.

Events wait, pending, while their provider's breaker is open (their jobs ended
without retrying), and an event whose delivery job was lost from the queue
would wait forever. This job, run every few seconds and whenever a breaker
closes or may be tried again, enqueues one delivery per person and channel
(``(tenant, channel, to_address)``) that has events pending: that delivery
claims the person's pending events and sends one summary. It skips a person
reached within the throttle window or being reached now (their own job comes
back), and a provider whose breaker is open; of a half-open provider it
enqueues one delivery only, the probe. Each run enqueues at most
``RESUME_GROUPS`` deliveries, oldest first, so a wide outage resumes in
bounded steps.

``GIVE_UP_AFTER``: an event pending for 15 minutes is marked failed, naming the
provider and its last error. Fifteen minutes is three times the first tier's
usual delay: by then the policy's next tiers and repeats have been recorded as
events of their own, which carry the page, and a call about a 15-minute-old
state is more likely to mislead than to help. The alert's escalation itself
goes on.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from opswatch.escalation import breaker
from opswatch.escalation.breaker import Gate
from opswatch.escalation.delivery import (
    DELIVER_JOB,
    REACHED,
    THROTTLE,
    THROTTLED_CHANNELS,
    provider_name,
)
from opswatch.models import Channel, DeliveryStatus, EscalationEvent, ProviderBreaker, Tenant
from opswatch.queue import enqueue
from opswatch.sql import Statement, statement

log = logging.getLogger(__name__)

# A job enqueued with its event normally runs within this; only older events count
# as waiting, so that the periodic run does not copy jobs still on their way.
SETTLE = timedelta(seconds=5)
GIVE_UP_AFTER = timedelta(minutes=15)
RESUME_GROUPS = 200
GIVE_UP_BATCH = 1000


@dataclass(frozen=True)
class Resumed:
    enqueued: int
    failed: int


@dataclass(frozen=True)
class _Waiting:
    tenant_id: uuid.UUID
    channel: Channel
    event_id: uuid.UUID


async def resume_pending(now: datetime | None = None, settle: timedelta = SETTLE) -> Resumed:
    moment = now or datetime.now(UTC)
    failed = await _give_up(moment)
    waiting = await _waiting(statement(), moment, settle)
    enqueued = 0
    for event_id in await _admitted(waiting, moment):
        await enqueue(DELIVER_JOB, event_id=str(event_id))
        enqueued += 1
    return Resumed(enqueued, failed)


async def _waiting(sql: Statement, now: datetime, settle: timedelta) -> list[_Waiting]:
    """One pending event per person and channel, the longest-waiting first; people
    reached lately, or being reached, are left to their own jobs."""
    reached = ", ".join(f"'{status.value}'" for status in (*REACHED, DeliveryStatus.THROTTLED))
    throttled = ", ".join(f"'{channel.value}'" for channel in THROTTLED_CHANNELS)
    # Only the enums' own values are interpolated; the instants travel as parameters.
    rows = await sql.rows(
        "WITH waiting AS ("  # noqa: S608
        "SELECT tenant_id, channel, to_address, MIN(created_at) AS since, "
        "MIN(CAST(id AS TEXT)) AS event_id FROM escalation_event "
        "WHERE status = 'pending' AND created_at <= :settled "
        "GROUP BY tenant_id, channel, to_address) "
        "SELECT w.tenant_id, w.channel, w.event_id FROM waiting w "
        f"WHERE w.channel NOT IN ({throttled}) OR w.to_address IS NULL OR ("
        "NOT EXISTS (SELECT 1 FROM escalation_event r WHERE r.to_address = w.to_address "
        f"AND r.channel = w.channel AND r.sent_at > :window AND r.status IN ({reached})) "
        "AND NOT EXISTS (SELECT 1 FROM escalation_event s WHERE s.status = 'sending' "
        "AND s.updated_at > :window AND s.to_address = w.to_address AND s.channel = w.channel)) "
        "ORDER BY w.since LIMIT :limit",
        settled=now - settle,
        window=now - THROTTLE,
        limit=RESUME_GROUPS,
    )
    return [_waiting_of(row) for row in rows]


def _waiting_of(row: dict[str, Any]) -> _Waiting:
    return _Waiting(
        tenant_id=uuid.UUID(str(row["tenant_id"])),
        channel=Channel(row["channel"]),
        event_id=uuid.UUID(str(row["event_id"])),
    )


async def _admitted(waiting: list[_Waiting], now: datetime) -> list[uuid.UUID]:
    """The events whose provider may be tried: closed, or half-open with its probe
    lease free (one event per provider then)."""
    if not waiting:
        return []
    tenant_ids = {w.tenant_id for w in waiting}
    tenants = {t.id: t for t in await Tenant.filter(id__in=tenant_ids)}
    breakers = {
        (b.tenant_id, b.provider): b  # type: ignore[attr-defined]
        for b in await ProviderBreaker.filter(tenant_id__in=tenant_ids)
    }
    probing: set[tuple[uuid.UUID, str]] = set()
    admitted = []
    for group in waiting:
        tenant = tenants.get(group.tenant_id)
        if tenant is None:
            continue
        key = (group.tenant_id, provider_name(tenant, group.channel))
        gate = breaker.gate_at(breakers.get(key), now)
        if gate is Gate.OPEN or (gate is Gate.PROBE and key in probing):
            continue
        if gate is Gate.PROBE:
            probing.add(key)
        admitted.append(group.event_id)
    return admitted


async def _give_up(now: datetime) -> int:
    """Mark events pending longer than GIVE_UP_AFTER failed, a batch per run."""
    rows = await statement().rows(
        "SELECT id, tenant_id, channel FROM escalation_event "
        "WHERE status = 'pending' AND created_at < :cutoff ORDER BY created_at LIMIT :limit",
        cutoff=now - GIVE_UP_AFTER,
        limit=GIVE_UP_BATCH,
    )
    if not rows:
        return 0
    by_reason: dict[str, list[uuid.UUID]] = defaultdict(list)
    reasons = await _Reasons.load({uuid.UUID(str(r["tenant_id"])) for r in rows})
    for row in rows:
        reason = reasons.of(uuid.UUID(str(row["tenant_id"])), Channel(row["channel"]))
        by_reason[reason].append(uuid.UUID(str(row["id"])))
    failed = 0
    for reason, ids in by_reason.items():
        # Still pending: a delivery that claimed one meanwhile keeps it.
        failed += await EscalationEvent.filter(id__in=ids, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.FAILED, reason=reason, updated_at=now
        )
    if failed:
        log.warning("gave up on %d escalation events pending for %s", failed, GIVE_UP_AFTER)
    return failed


class _Reasons:
    """Why each tenant's events were given up on: its provider's outage, when it had one."""

    def __init__(self, tenants: dict[uuid.UUID, Tenant], breakers: dict[Any, ProviderBreaker]):
        self.tenants = tenants
        self.breakers = breakers

    @classmethod
    async def load(cls, tenant_ids: set[uuid.UUID]) -> _Reasons:
        tenants = {t.id: t for t in await Tenant.filter(id__in=tenant_ids)}
        breakers = {
            (b.tenant_id, b.provider): b  # type: ignore[attr-defined]
            for b in await ProviderBreaker.filter(tenant_id__in=tenant_ids)
        }
        return cls(tenants, breakers)

    def of(self, tenant_id: uuid.UUID, channel: Channel) -> str:
        minutes = int(GIVE_UP_AFTER.total_seconds() // 60)
        tenant = self.tenants.get(tenant_id)
        provider = provider_name(tenant, channel) if tenant else "the provider"
        found = self.breakers.get((tenant_id, provider))
        if found is not None and found.last_error and found.open_until is not None:
            return (
                f"gave up after {minutes} minutes: {provider} was unavailable "
                f"({found.last_error}); not sent late"
            )
        return f"gave up after {minutes} minutes pending; not sent late (through {provider})"
