"""Make sure inbox events nobody processed get processed: a lost queue message or a
worker that died mid-batch delays an alert, but never drops it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opswatch import runtime
from opswatch.alerts.inbox import PROCESS_JOB
from opswatch.models import AlertEvent
from opswatch.queue import enqueue


async def sweep_inbox(*, now: datetime | None = None) -> bool:
    """Enqueue processing when an event has waited longer than the sweep threshold.

    Processing takes whatever is pending, so one job is enough, and running it
    when nothing is stuck is harmless.
    """
    threshold = runtime.current().settings.inbox_sweep_after_seconds
    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=threshold)
    stuck = await AlertEvent.filter(processed_at__isnull=True, received_at__lt=cutoff).exists()
    if stuck:
        await enqueue(PROCESS_JOB)
    return stuck
