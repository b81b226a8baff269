"""Re-enqueue inbox events nobody processed: a lost queue message or a worker that
died mid-batch delays an alert, but never drops it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opswatch import runtime
from opswatch.alerts.inbox import BATCH_SIZE, PROCESS_JOB
from opswatch.models import AlertEvent
from opswatch.queue import enqueue

SWEEP_LIMIT = 10_000


async def sweep_inbox(*, now: datetime | None = None) -> int:
    """Enqueue events older than the sweep threshold that are still unprocessed.

    Processing is idempotent, so an event whose first job is merely slow is
    harmless to enqueue again.
    """
    threshold = runtime.current().settings.inbox_sweep_after_seconds
    cutoff = (now or datetime.now(UTC)) - timedelta(seconds=threshold)
    ids = await (
        AlertEvent.filter(processed_at__isnull=True, received_at__lt=cutoff)
        .order_by("received_at")
        .limit(SWEEP_LIMIT)
        .values_list("id", flat=True)
    )
    for start in range(0, len(ids), BATCH_SIZE):
        await enqueue(PROCESS_JOB, event_ids=[str(i) for i in ids[start : start + BATCH_SIZE]])
    return len(ids)
