"""Garbage collection for long-running server processes (api, serve, worker).

CPython collects its youngest generation every 700 allocations. A server at
thousands of requests a second allocates that in well under a millisecond, so
objects of requests that are merely waiting (for a shared commit, a socket
write) survive two collections and reach the oldest generation; full
collections then run every one to three seconds, over the whole heap, and find
nothing to free. The ingest benchmark measured 65 to 150 ms pauses that often in
the API process: the worst of the webhook-to-subscriber latency tail.

So, once the process has started: what start-up built (modules, schema, ORM
metadata) is frozen out of every later collection, and young collections run
every GEN0_THRESHOLD allocations, late enough that request objects are gone by
then (reference counting frees them; only cycles wait for a collection). Each
collection's pause is observed in ``opswatch_gc_pause_seconds``.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from prometheus_client import Histogram

GEN0_THRESHOLD = 50_000

PAUSES = Histogram(
    "opswatch_gc_pause_seconds",
    "Garbage collection pauses of this process",
    ["generation"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25),
)

_started = [0.0]


def _observe(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started[0] = time.perf_counter()
    else:
        PAUSES.labels(str(info["generation"])).observe(time.perf_counter() - _started[0])


def tune_for_server() -> None:
    """Call once, after start-up, in the process that serves (not in tests)."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, older, oldest)
    if _observe not in gc.callbacks:
        gc.callbacks.append(_observe)
