"""Limits and defaults of the retention benchmark."""

from __future__ import annotations

from datetime import UTC, datetime

DEFAULT_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_ALERTS = 1_000_000
DEFAULT_AUDIT = 200_000
DEFAULT_RATE = 200.0
DEFAULT_IDLE_S = 5.0
DEFAULT_WARMUP_S = 3.0
DEFAULT_BASELINE_S = 20.0
DEFAULT_AFTER_S = 10.0
DEFAULT_SAMPLE_S = 1.0
DEFAULT_CLEANUP_TIMEOUT_S = 3 * 3600.0
DEFAULT_DRAIN_TIMEOUT_S = 180.0
SLOW_S = 0.5  # a 202 answer slower than this counts as slow in the per-second series
INCIDENT_ALERTS = 100
EXPLAIN_BATCH = 1_000  # the first batch's ids, for the DELETE plans
CLEANUP_APPLICATION = "opswatch-bench-cleanup"
TABLES = ("alert", "alert_event", "escalation_event", "notification", "audit_log")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
