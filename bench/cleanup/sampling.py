"""Samples of the database while the cleanup runs: its progress, the inbox backlog, CPU."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from dataclasses import dataclass

import asyncpg
from ingest import (
    CpuMeter,
)

from .base import CLEANUP_APPLICATION, TABLES

STATS_SQL = (
    "SELECT relname, n_tup_del, n_tup_ins FROM pg_stat_user_tables WHERE relname = ANY($1::text[])"
)
BACKLOG_SQL = "SELECT count(*) FROM alert_event WHERE processed_at IS NULL"
BGWRITER_SQL = (
    "SELECT checkpoints_timed + checkpoints_req AS checkpoints, buffers_backend "
    "FROM pg_stat_bgwriter"
)
CLEANUP_BACKENDS_SQL = "SELECT pid FROM pg_stat_activity WHERE application_name = $1"


@dataclass(frozen=True)
class Progress:
    """Cumulative counters at one instant."""

    at: float  # time.monotonic()
    deleted: dict[str, int]  # per table
    archived: int  # audit_log_archive inserts
    backlog: int  # unprocessed inbox events
    checkpoints: int  # timed and requested, server-wide
    backend_writes: int  # buffers written by backends themselves, server-wide


async def read_progress(connection: asyncpg.Connection) -> Progress:
    rows = await connection.fetch(STATS_SQL, [*TABLES, "audit_log_archive"])
    deleted = {r["relname"]: int(r["n_tup_del"]) for r in rows if r["relname"] in TABLES}
    archived = next((int(r["n_tup_ins"]) for r in rows if r["relname"] == "audit_log_archive"), 0)
    backlog = int(await connection.fetchval(BACKLOG_SQL))
    writer = await connection.fetchrow(BGWRITER_SQL)
    return Progress(
        time.monotonic(),
        deleted,
        archived,
        backlog,
        int(writer["checkpoints"]),
        int(writer["buffers_backend"]),
    )


class Sampler:
    """CPU per component and the tables' counters, every ``every`` seconds."""

    def __init__(
        self, connection: asyncpg.Connection, meter: CpuMeter, own_backend: int, every: float
    ) -> None:
        self.connection = connection
        self.meter = meter
        self.every = every
        # This process's database connection is the load generator's overhead.
        self.relabel: dict[int, str] = {own_backend: "client"}
        self.cleanup_pid: int | None = None
        self.cpu: list[tuple[float, dict[int, tuple[str, float]]]] = []
        self.progress: list[Progress] = []
        self.lock = asyncio.Lock()
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self._stopping.set()

    def _snapshot(self) -> dict[int, tuple[str, float]]:
        snap = self.meter.snapshot()
        # Reaped children (the CLI runs of the set-up, the cleanup once it exited):
        # the cleanup process is read from /proc while it runs, like every other.
        snap.pop(-1, None)
        for pid, label in self.relabel.items():
            if pid in snap:
                snap[pid] = (label, snap[pid][1])
        return snap

    async def take(self) -> Progress:
        async with self.lock:
            if self.cleanup_pid is not None:
                self.relabel[self.cleanup_pid] = "cleanup process"
                for row in await self.connection.fetch(CLEANUP_BACKENDS_SQL, CLEANUP_APPLICATION):
                    self.relabel[int(row["pid"])] = "postgres (cleanup)"
            progress = await read_progress(self.connection)
        self.progress.append(progress)
        self.cpu.append((time.monotonic(), await asyncio.to_thread(self._snapshot)))
        return progress

    async def run(self) -> None:
        while not self._stopping.is_set():
            began = time.monotonic()
            await self.take()
            wait = max(0.0, self.every - (time.monotonic() - began))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), wait)

    def server(self, start: float, end: float) -> dict[str, int]:
        """Checkpoints and backend buffer writes between the samples around two instants."""
        before = [p for p in self.progress if p.at <= start] or self.progress[:1]
        upto = [p for p in self.progress if p.at <= end] or self.progress[:1]
        if not before or not upto:
            return {}
        return {
            "checkpoints": upto[-1].checkpoints - before[-1].checkpoints,
            "backend_buffer_writes": upto[-1].backend_writes - before[-1].backend_writes,
        }

    def cores(self, start: float, end: float) -> dict[str, float]:
        """Cores used per component between two instants: from the last sample at or
        before ``start`` to the last one at or before ``end``."""
        before = [(at, snap) for at, snap in self.cpu if at <= start]
        inside = [(at, snap) for at, snap in self.cpu if start < at <= end]
        if not inside:
            return {}
        base_at, base = before[-1] if before else inside[0]
        measured = inside[-1][0] - base_at
        if measured <= 0:
            return {}
        last: dict[int, tuple[str, float]] = {}
        for _, snap in inside:
            last.update(snap)  # a process that ended keeps its last reading
        used: dict[str, float] = defaultdict(float)
        for pid, (component, total) in last.items():
            previous = base.get(pid)
            begun = previous[1] if previous is not None and previous[0] == component else 0.0
            used[component] += max(0.0, total - begun)
        return {
            name: round(value / measured, 2)
            for name, value in sorted(used.items())
            if value / measured >= 0.005
        }
