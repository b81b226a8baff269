"""What every part of the ingest benchmark shares: where things are, the limits of
every loop, the targets, and progress lines."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
LOOPBACK = "127.0.0.1"
DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
WEBHOOK_PATH = "/api/v1/webhooks/generic"
PHASES = ("burst", "sustained", "storm", "latency")  # the default
EXTRA_PHASES = ("noisy",)  # only when asked for: --phases noisy

# Targets on a 2-core machine (the wording, in numbers).
BASELINE_SHARE = 0.5  # accepted/s at least half the one-INSERT baseline
SUSTAINED_TARGET = 2000.0  # distinct alerts/s fully processed, production
STORM_TARGET = 2000.0  # one fingerprint, events/s, exact count
LATENCY_TARGET_MS = 50.0  # webhook -> subscriber p99 at 200 alerts/s
LATENCY_TARGET_RATE = 200.0
EMBEDDED_TARGET = 1000.0  # processed/s, embedded shape

# What "keeping up" means for the open-loop phases.
KEEP_UP_ACCEPTED = 0.98  # share of the offered events answered 202
KEEP_UP_PROCESSED = 0.95  # share of the offered rate processed while the load runs
KEEP_UP_DRAIN_S = 5.0  # backlog gone within this long after the load stops

SAMPLE_EVERY_S = 0.5
MAX_IN_FLIGHT = 512
REQUEST_TIMEOUT_S = 30.0
START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 15.0
CLI_TIMEOUT_S = 120.0


class BenchError(RuntimeError):
    """Something the benchmark needs did not work; the message says what."""


_started = time.monotonic()


def _since_start(message: str) -> None:
    print(f"[{time.monotonic() - _started:7.1f}s] {message}", file=sys.stderr, flush=True)


_progress: list[Callable[[str], None]] = [_since_start]


def say(message: str) -> None:
    """A progress line on stderr, stamped with the seconds since start (or as
    ``use_say`` chose)."""
    _progress[0](message)


def use_say(writer: Callable[[str], None]) -> None:
    """Progress lines of every part of this package go to ``writer`` from now on
    (another bench script that reuses these parts keeps its own format)."""
    _progress[0] = writer
