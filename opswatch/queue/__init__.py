"""The one way code enqueues background work, whatever runs it.

Jobs are registered by name (``tasks/`` holds them); ``enqueue`` hands them to
the queue of this process: Dramatiq on Redis, or the in-process twin that runs
them on the server's own event loop in the embedded shape.
"""

from __future__ import annotations

from typing import Any

from opswatch.queue.base import JobQueue
from opswatch.queue.registry import JobSpec, job, registered_jobs


async def enqueue(name: str, /, *, delay_ms: int = 0, **kwargs: Any) -> None:
    from opswatch import runtime

    await runtime.current().queue.enqueue(name, kwargs, delay_ms=delay_ms)


__all__ = ["JobQueue", "JobSpec", "enqueue", "job", "registered_jobs"]
