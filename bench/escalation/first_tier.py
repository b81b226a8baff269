"""Phase 1: every alert due at T0, then the deliver jobs."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from time import perf_counter

from common import say

from opswatch.config import Settings
from opswatch.escalation.delivery import THROTTLE
from opswatch.escalation.engine import run_due
from opswatch.models import DeliveryStatus, EscalationEvent
from opswatch.queue.inprocess import InProcessQueue
from tests.fakes.twilio import FakeTwilio

from .base import DRAIN_TIMEOUT, HANDED_OVER, FirstTier, Handover, Spread, seconds_between
from .harness import StampingEventBus, counted_retries, install_runtime, stop_queue


async def handover(t0: datetime, fake: FakeTwilio) -> Handover:
    events = await EscalationEvent.filter(tier=1, cycle=0)
    statuses = Counter(e.status.value for e in events)
    handed = [seconds_between(t0, e.updated_at) for e in events if e.status in HANDED_OVER]
    waiting = statuses[DeliveryStatus.PENDING.value]
    return Handover(
        handed_over=len(handed),
        last_s=max(handed) if handed else None,
        spread=Spread.of(handed),
        waiting=waiting,
        other=len(events) - len(handed) - waiting,
        calls=len(fake.calls),
        messages=len(fake.messages),
        statuses=dict(sorted(statuses.items())),
    )


async def after_window(queue: InProcessQueue, t0: datetime, fake: FakeTwilio) -> Handover:
    """Where the tier-1 events stand once the delayed deliver jobs (and their retries) ran:
    they come back when each person's minute ends."""
    await queue.drain(THROTTLE.total_seconds() + DRAIN_TIMEOUT)
    return await handover(t0, fake)


async def first_tier(
    settings: Settings, bus: StampingEventBus, fake: FakeTwilio, alerts: int, wait: bool
) -> FirstTier:
    queue = install_runtime(settings, bus)
    with counted_retries("first tier") as retries:
        t0 = datetime.now(UTC)
        began = perf_counter()
        await run_due(t0)
        engine_s = perf_counter() - began
        await queue.drain(DRAIN_TIMEOUT, delayed=False)
        drained_s = perf_counter() - began
        at_once = await handover(t0, fake)
        if at_once.waiting:
            say(f"first tier: {at_once.waiting} events wait for their person's throttle window")
        later = await after_window(queue, t0, fake) if wait and at_once.waiting else None
        failed = await stop_queue(queue)
    return FirstTier(
        alerts=alerts,
        events=sum(at_once.statuses.values()),
        engine_s=engine_s,
        drained_s=drained_s,
        at_once=at_once,
        after_window=later,
        failed_jobs=failed,
        retried_jobs=retries.count,
        retry_messages=retries.messages,
    )
