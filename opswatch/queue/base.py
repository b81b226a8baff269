"""The queue interface."""

from __future__ import annotations

from typing import Any, Protocol


class JobQueue(Protocol):
    async def enqueue(self, name: str, kwargs: dict[str, Any], *, delay_ms: int = 0) -> None:
        """Hand a job over; returns once the queue has accepted it."""

    async def start(self) -> None:
        """Begin running or accepting jobs."""

    async def stop(self) -> None:
        """Stop accepting jobs and wind down."""
