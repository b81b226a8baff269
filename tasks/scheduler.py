"""Periodic ticks, run by whichever scheduler process holds the lease.

Two schedulers may run (for availability); the lease in the database makes
only one of them enqueue ticks at a time. Tick jobs are idempotent anyway, so
the short overlap of a lease hand-over costs nothing but a repeated no-op.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from tortoise import connections

from opswatch.dberrors import retryable
from opswatch.queue import enqueue
from opswatch.queue.failures import note_enqueue_failure

log = logging.getLogger(__name__)

LEASE_NAME = "scheduler"
LEASE_SECONDS = 15.0


@dataclass(frozen=True)
class Tick:
    job: str
    every_seconds: float


TICKS: list[Tick] = []


def periodic(job: str, *, every_seconds: float) -> None:
    """Ask the scheduler to enqueue ``job`` every ``every_seconds``."""
    TICKS.append(Tick(job=job, every_seconds=every_seconds))


async def try_acquire_lease(holder: str, *, now: datetime, seconds: float = LEASE_SECONDS) -> bool:
    """Take or renew the lease in one statement; False when another live holder has it."""
    connection = connections.get("default")
    sqlite = connection.capabilities.dialect == "sqlite"
    marks = ["?"] * 4 if sqlite else ["$1", "$2", "$3", "$4"]
    expires = now + timedelta(seconds=seconds)
    values: list[object] = [LEASE_NAME, holder, expires, now]
    if sqlite:
        values = [LEASE_NAME, holder, expires.isoformat(), now.isoformat()]
    # Only placeholders are interpolated; every value travels as a parameter.
    sql = (
        "INSERT INTO scheduler_lease (name, holder, expires_at) "  # noqa: S608
        f"VALUES ({marks[0]}, {marks[1]}, {marks[2]}) "
        "ON CONFLICT (name) DO UPDATE SET "
        "holder = excluded.holder, expires_at = excluded.expires_at "
        "WHERE scheduler_lease.holder = excluded.holder "
        f"OR scheduler_lease.expires_at < {marks[3]} "
        "RETURNING holder"
    )
    rows = await connection.execute_query_dict(sql, values)
    return bool(rows) and rows[0]["holder"] == holder


class Scheduler:
    def __init__(self, *, holder: str | None = None, resolution: float = 1.0) -> None:
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.resolution = resolution
        self._next_due: dict[str, float] = {}

    async def run_forever(self) -> None:
        import tasks  # noqa: F401  (registers jobs and their ticks)

        while True:
            try:
                await self.tick_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                if retryable(error):  # the database is down: a line per step, no traceback
                    log.warning("scheduler step skipped, database unavailable: %s", error)
                else:
                    log.exception("scheduler tick failed; trying again")
            await asyncio.sleep(self.resolution)

    async def tick_once(self) -> list[str]:
        """Enqueue every tick that is due, if we hold the lease. Returns what was enqueued;
        a tick whose enqueue failed stays due."""
        if not await try_acquire_lease(self.holder, now=datetime.now(UTC)):
            return []
        now = time.monotonic()
        sent = []
        for tick in TICKS:
            if now < self._next_due.get(tick.job, 0.0):
                continue
            try:
                await enqueue(tick.job)
            except Exception as error:
                # Not due later: due still, so the next resolution step tries again;
                # and the other ticks of this round go out regardless.
                note_enqueue_failure(tick.job, error, "retrying at the next scheduler step")
                continue
            self._next_due[tick.job] = now + tick.every_seconds
            sent.append(tick.job)
        return sent
