"""Jobs of the rosters domain."""

from __future__ import annotations

from opswatch.queue import enqueue, job
from opswatch.rosters.handoffs import detect_handoffs
from tasks.scheduler import periodic


@job("rosters.detect_handoffs", max_retries=0)
async def detect_handoffs_job() -> None:
    # No retries: the next tick looks back over the same window anyway.
    if await detect_handoffs():
        await enqueue("slack.deliver_notices")  # the notices, now rather than at the next tick


# Handoffs are announced at most this late.
periodic("rosters.detect_handoffs", every_seconds=20)
