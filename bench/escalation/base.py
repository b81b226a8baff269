"""Defaults and limits of the escalation benchmark, and the shapes of its figures."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from opswatch.audit.actor import Actor
from opswatch.models import DeliveryStatus

DEFAULT_PEOPLE = 100
DEFAULT_ALERTS = 1000
DEFAULT_SPREAD = 20.0
DEFAULT_TICKS = "5,1"  # parsed by tick_list
# Between writing the tier-2 due times and the first of them.
LEAD = timedelta(seconds=2)
# Waiting for the deliver jobs of a phase, and for stragglers of the tick loop.
DRAIN_TIMEOUT = 300.0
TICK_LOOP_SLACK = 120.0

# Where the in-process queue logs a job that failed and is retried (WARNING).
QUEUE_LOGGER = "opswatch.queue.inprocess"
KEPT_RETRY_MESSAGES = 3

FROM_NUMBER = "+15005550006"
PUBLIC_URL = "http://opswatch.bench"
HANDED_OVER = (DeliveryStatus.QUEUED, DeliveryStatus.SENT, DeliveryStatus.THROTTLED)
ACTOR = Actor.system("bench")

SQLITE = "SQLite"
POSTGRES = "PostgreSQL"


def seconds_between(earlier: datetime, later: datetime) -> float:
    return (later - earlier).total_seconds()


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest rank: the smallest value that at least ``fraction`` of them do not exceed."""
    ordered = sorted(values)
    return ordered[max(math.ceil(fraction * len(ordered)), 1) - 1]


# ---------------------------------------------------------------------------
# Results


@dataclass(frozen=True)
class Spread:
    """p50, p99 and maximum of a set of durations, in seconds."""

    p50_s: float
    p99_s: float
    max_s: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread | None:
        if not values:
            return None
        return cls(percentile(values, 0.50), percentile(values, 0.99), max(values))


@dataclass(frozen=True)
class Handover:
    """Where the tier-1 events stood at one moment."""

    handed_over: int  # queued, sent, or folded into a summary (throttled)
    last_s: float | None  # T0 until the last handed-over event's updated_at
    spread: Spread | None  # of every handed-over event's updated_at - T0
    waiting: int  # pending: their job comes back when the person's minute is over
    other: int  # neither handed over nor waiting (must be 0)
    calls: int  # received by the fake Twilio so far
    messages: int
    statuses: dict[str, int]


@dataclass(frozen=True)
class FirstTier:
    alerts: int
    events: int  # tier-1 escalation events recorded
    engine_s: float  # T0 until run_due(T0) returned
    drained_s: float  # T0 until no deliver job was running (delayed ones left waiting)
    at_once: Handover  # when drained
    after_window: Handover | None  # once the delayed jobs ran too; None: not waited for
    failed_jobs: int
    retried_jobs: int  # job runs that failed and were retried
    retry_messages: list[str]  # the first few of their errors


@dataclass(frozen=True)
class Lateness:
    tick_s: float
    cycle: int
    alerts: int
    stepped: int
    ticks: int
    longest_tick_s: float
    recorded: Spread | None  # event created_at - due
    published: Spread | None  # ESCALATED published - due
    early: int  # stepped before its due time (must be 0)
    failed_jobs: int
    retried_jobs: int
    retry_messages: list[str]


@dataclass(frozen=True)
class DatabaseRun:
    path: str
    setup_s: float
    first_tier: FirstTier
    lateness: list[Lateness]
