"""Timing: each case run once, warmed up, then repeated for a stretch of wall time."""

from __future__ import annotations

import argparse
import gc
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from time import perf_counter_ns

from common import say

from .plans import Answer, Case, PlanDesign, shifts_of


@dataclass(frozen=True)
class Row:
    plan: str
    case: str
    path: str
    calls: int
    per_s: float
    mean_us: float
    p99_us: float
    shifts: int
    same_answer: bool | None = None  # database paths: the pure path's shifts?


@dataclass(frozen=True)
class Timing:
    calls: int
    per_s: float
    mean_us: float
    p99_us: float


def summarize(latencies_ns: list[int], wall_ns: int) -> Timing:
    ordered = sorted(latencies_ns)
    # Nearest rank: the smallest latency that at least 99% of the calls did not exceed.
    p99 = ordered[max(math.ceil(0.99 * len(ordered)), 1) - 1]
    return Timing(
        calls=len(ordered),
        per_s=len(ordered) / (wall_ns / 1e9),
        mean_us=sum(ordered) / len(ordered) / 1e3,
        p99_us=p99 / 1e3,
    )


def repeat(call: Callable[[], object], seconds: float) -> tuple[list[int], int]:
    """Latencies (ns) of calls made one after another for ``seconds``, and the wall time."""
    latencies: list[int] = []
    began = perf_counter_ns()
    deadline = began + round(seconds * 1e9)
    while True:
        before = perf_counter_ns()
        call()
        after = perf_counter_ns()
        latencies.append(after - before)
        if after >= deadline:
            return latencies, after - began


async def repeat_async(
    call: Callable[[], Awaitable[object]], seconds: float
) -> tuple[list[int], int]:
    """``repeat`` for coroutines, each awaited before the next starts."""
    latencies: list[int] = []
    began = perf_counter_ns()
    deadline = began + round(seconds * 1e9)
    while True:
        before = perf_counter_ns()
        await call()
        after = perf_counter_ns()
        latencies.append(after - before)
        if after >= deadline:
            return latencies, after - began


def measure(call: Callable[[], Answer], args: argparse.Namespace) -> tuple[Timing, Answer]:
    answer = call()
    repeat(call, args.warmup)
    # Garbage of earlier cases and of the warm-up is collected now, not while timing.
    gc.collect()
    return summarize(*repeat(call, args.seconds)), answer


async def measure_async(
    call: Callable[[], Awaitable[Answer]], args: argparse.Namespace
) -> tuple[Timing, Answer]:
    answer = await call()
    await repeat_async(call, args.warmup)
    gc.collect()
    return summarize(*await repeat_async(call, args.seconds)), answer


def row_of(design: PlanDesign, case: Case, path: str, timing: Timing, answer: Answer) -> Row:
    row = Row(
        plan=design.key,
        case=case.label,
        path=path,
        calls=timing.calls,
        per_s=timing.per_s,
        mean_us=timing.mean_us,
        p99_us=timing.p99_us,
        shifts=len(shifts_of(answer)),
    )
    say(f"{path:<10} {design.key}, {case.label}: {row.per_s:,.0f}/s, mean {row.mean_us:,.1f} µs")
    return row
