"""Served processes tune their garbage collector; the pauses are visible in /metrics.

Run in a child interpreter: freezing the heap and moving the thresholds of the
test process itself would change every test after this one.
"""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import gc, json
from prometheus_client import REGISTRY
from opswatch.gc_tuning import GEN0_THRESHOLD, tune_for_server
tune_for_server()
tune_for_server()  # twice: still one observer
gc.collect()
pauses = REGISTRY.get_sample_value(
    "opswatch_gc_pause_seconds_count", {"generation": "2"}
)
print(json.dumps({
    "threshold": gc.get_threshold()[0],
    "expected": GEN0_THRESHOLD,
    "frozen": gc.get_freeze_count(),
    "observers": len(gc.callbacks),
    "pauses": pauses,
}))
"""


def test_a_served_process_freezes_start_up_collects_less_often_and_observes_pauses() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60, check=True
    )
    found = json.loads(done.stdout)
    assert found["threshold"] == found["expected"]
    assert found["frozen"] > 10_000  # modules, classes and the like: never scanned again
    assert found["observers"] == 1
    assert found["pauses"] >= 1
