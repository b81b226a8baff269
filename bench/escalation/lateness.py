"""Phase 2: tier 2 due at staggered instants, taken by periodic ticks."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from time import perf_counter

from opswatch.config import Settings
from opswatch.escalation.engine import run_due
from opswatch.models import Alert, EscalationEvent, EscalationState

from .base import LEAD, TICK_LOOP_SLACK, Lateness, Spread, seconds_between
from .harness import StampingEventBus, counted_retries, install_runtime, stop_queue


async def stagger_tier_two(
    alert_ids: list[uuid.UUID], cycle: int, spread: float
) -> dict[uuid.UUID, datetime]:
    """Put every alert on tier 1 of ``cycle`` with tier 2 due within ``spread`` seconds
    from ``LEAD`` after now; the due time of each."""
    start = datetime.now(UTC) + LEAD
    step = timedelta(seconds=spread / len(alert_ids))
    due = {alert_id: start + i * step for i, alert_id in enumerate(alert_ids)}
    alerts = await Alert.filter(id__in=alert_ids)
    for alert in alerts:
        alert.escalation_state = EscalationState.ACTIVE
        alert.escalation_tier = 1
        alert.escalation_cycle = cycle
        alert.escalation_next_at = due[alert.id]
    await Alert.bulk_update(
        alerts,
        fields=["escalation_state", "escalation_tier", "escalation_cycle", "escalation_next_at"],
        batch_size=500,
    )
    if datetime.now(UTC) > start:
        raise RuntimeError(f"writing the due times took longer than {LEAD.total_seconds()} s")
    return due


@dataclass
class TickLoop:
    ticks: int = 0
    longest_s: float = 0.0


async def tick_until_stepped(
    alert_ids: list[uuid.UUID], cycle: int, tick: float, give_up_after: float
) -> TickLoop:
    """``run_due()`` every ``tick`` seconds until every alert took tier 2 of ``cycle``."""
    waiting = set(alert_ids)
    loop = TickLoop()
    began = perf_counter()
    next_tick = began
    while waiting and perf_counter() - began < give_up_after:
        await asyncio.sleep(max(0.0, next_tick - perf_counter()))
        tick_began = perf_counter()
        steps = await run_due()
        took = perf_counter() - tick_began
        loop.ticks += 1
        loop.longest_s = max(loop.longest_s, took)
        waiting -= {s.alert_id for s in steps if s.tier == 2 and s.cycle == cycle}
        # An overrunning tick is followed by the next at once, not by a burst of them.
        next_tick = max(next_tick + tick, perf_counter())
    return loop


async def tier_two_recorded(cycle: int) -> dict[uuid.UUID, datetime]:
    """When the engine recorded each alert's tier-2 step of ``cycle``: its events' created_at."""
    recorded: dict[uuid.UUID, datetime] = {}
    rows = await EscalationEvent.filter(tier=2, cycle=cycle).values_list("alert_id", "created_at")
    for alert_id, created_at in rows:
        key = uuid.UUID(str(alert_id))
        recorded[key] = min(created_at, recorded.get(key, created_at))
    return recorded


async def lateness(
    settings: Settings,
    bus: StampingEventBus,
    alert_ids: list[uuid.UUID],
    cycle: int,
    tick: float,
    spread: float,
) -> Lateness:
    queue = install_runtime(settings, bus)
    bus.escalated.clear()
    with counted_retries(f"tick {tick:g} s") as retries:
        due = await stagger_tier_two(alert_ids, cycle, spread)
        give_up_after = LEAD.total_seconds() + spread + TICK_LOOP_SLACK + 10 * tick
        loop = await tick_until_stepped(alert_ids, cycle, tick, give_up_after)
        failed = await stop_queue(queue)
    recorded = await tier_two_recorded(cycle)
    recorded_late = [seconds_between(due[a], at) for a, at in recorded.items()]
    published_late = [seconds_between(due[a], at) for a, at in bus.escalated.items() if a in due]
    return Lateness(
        tick_s=tick,
        cycle=cycle,
        alerts=len(alert_ids),
        stepped=len(recorded),
        ticks=loop.ticks,
        longest_tick_s=loop.longest_s,
        recorded=Spread.of(recorded_late),
        published=Spread.of(published_late),
        early=sum(1 for late in recorded_late if late < 0),
        failed_jobs=failed,
        retried_jobs=retries.count,
        retry_messages=retries.messages,
    )
