"""CPU per component, from /proc, and the speed check."""

from __future__ import annotations

import os
import resource
import time
from collections import defaultdict
from collections.abc import Iterator

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _processes() -> Iterator[tuple[int, str, int, float]]:
    """(pid, command name, process group, CPU seconds) of every process we may read."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                raw = handle.read().decode(errors="replace")
        except OSError:
            continue
        name = raw[raw.find("(") + 1 : raw.rfind(")")]
        rest = raw[raw.rfind(")") + 2 :].split()
        try:
            pgrp = int(rest[2])
            ticks = int(rest[11]) + int(rest[12])
        except (IndexError, ValueError):
            continue
        yield int(entry.name), name, pgrp, ticks / CLOCK_TICKS


def _command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class CpuMeter:
    """CPU seconds used so far, per component: our services (by process group); the
    PostgreSQL backends connected to this run's database, and PostgreSQL's own
    background processes (WAL writer, checkpointer, autovacuum: shared with
    anything else using that server); Redis (the whole server); the load
    generator (this process, wrk while it runs, and wrk once reaped); and every
    other process on the machine ("other": noise from outside the benchmark).

    Counted per process, so a process that starts and ends between two snapshots
    (a parallel query worker, an autovacuum worker) is missed."""

    def __init__(self, groups: dict[str, int], database: str | None = None) -> None:
        self.groups = {pgid: name for name, pgid in groups.items()}
        self.database = database
        self.own_group = os.getpgrp()

    def _component(self, pid: int, name: str, pgrp: int) -> str | None:
        if pgrp in self.groups:
            return self.groups[pgrp]
        if pgrp == self.own_group:
            return "client"
        if name.startswith("redis-server"):
            return "redis"
        if name == "postgres":
            title = _command_line(pid)
            if "(" not in title and "[local]" not in title:  # not a client's backend
                return "postgres (background)"
            if self.database is not None and f" {self.database} " in title:
                return "postgres"
        # Anything else on the machine (another database's backends, other people's
        # tests): not ours, but it takes the same cores, so it is shown.
        return "other"

    def snapshot(self) -> dict[int, tuple[str, float]]:
        found: dict[int, tuple[str, float]] = {}
        for pid, name, pgrp, seconds in _processes():
            component = self._component(pid, name, pgrp)
            if component is not None:
                found[pid] = (component, seconds)
        reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
        found[-1] = ("client", reaped.ru_utime + reaped.ru_stime)
        return found

    @staticmethod
    def cores(
        before: dict[int, tuple[str, float]], after: dict[int, tuple[str, float]], seconds: float
    ) -> dict[str, float]:
        if seconds <= 0:
            return {}
        used: dict[str, float] = defaultdict(float)
        for pid, (component, total) in after.items():
            previous = before.get(pid)
            start = previous[1] if previous is not None and previous[0] == component else 0.0
            used[component] += max(0.0, total - start)
        return {n: round(v / seconds, 2) for n, v in sorted(used.items()) if v / seconds >= 0.005}


def speed_check() -> float:
    """Milliseconds for a fixed pure-Python loop, run while the machine is otherwise
    quiet (before each phase): if the VM is slower in one run than in another, this
    shows it."""
    started = time.perf_counter()
    total = 0
    for i in range(1_000_000):
        total += i * i
    return round((time.perf_counter() - started) * 1000, 1)
