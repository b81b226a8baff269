"""The seed: a million resolved alerts and everything around them, with set-based SQL."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import asyncpg
from common import (
    say,
)

from .base import INCIDENT_ALERTS, TABLES

#
# Parameters shared by every statement: $1 tenant id, $2 as-of, $3 the run's salt,
# $4 how many rows, $5 the fingerprint prefix (the category), $6 and $7 the oldest
# and newest age in days: row g of n is (oldest - (oldest - newest) * g / n) days old.
# SEED_ROWS is that row source; each statement selects its columns from it.

SEED_ROWS = """FROM generate_series(1, $4::int) AS g,
    LATERAL (
        SELECT $5 || '-' || g AS fp,
            $2::timestamptz - ($6::float8 - ($6::float8 - $7::float8) * g / $4::int)
                * interval '1 day' AS t
    ) AS row_of
"""

ALERTS_SQL = (
    """
INSERT INTO alert (
    id, created_at, fingerprint, short_id, title, description, severity, status, source,
    source_format, labels, annotations, first_received_at, last_received_at, occurrences,
    resolved_at, escalation_state, escalation_tier, escalation_cycle, notify_pending,
    updated_at, incident_id, tenant_id)
SELECT
    md5($3 || ':alert:' || fp)::uuid, t - interval '2 hours', fp, $8::text || lpad(g::text, 9, '0'),
    'Disk usage above 90% on host-' || g % 500, '',
    (ARRAY['critical', 'high', 'warning', 'low', 'info'])[1 + g % 5],
    $9::text, 'bench-seed', 'generic',
    jsonb_build_object('host', 'host-' || g % 500, 'service', 'svc-' || g % 40, 'env', 'prod'),
    '{}'::jsonb, t - interval '2 hours', t - interval '1 hour', 1 + g % 7,
    CASE WHEN $9::text = 'resolved' THEN t END,
    CASE WHEN $9::text = 'resolved' THEN 'stopped' ELSE 'none' END,
    0, 0, false, t, $10, $1
"""
    + SEED_ROWS
)

# $8 the event's status, $9 its outcome, $10 whether it belongs to the alert of
# the same fingerprint (else it opened none).
EVENTS_SQL = (
    """
INSERT INTO alert_event (
    id, created_at, source_format, fingerprint, status, normalized, payload, received_at,
    processed_at, attempts, outcome, alert_id, api_key_id, tenant_id)
SELECT
    md5($3 || ':event:' || fp)::uuid, t - interval '2 hours', 'generic', fp, $8::text,
    jsonb_build_object(
        'title', 'Disk usage above 90% on host-' || g % 500, 'fingerprint', fp,
        'severity', 'critical', 'status', $8::text, 'source', 'bench-seed',
        'labels', jsonb_build_object('host', 'host-' || g % 500, 'service', 'svc-' || g % 40)),
    jsonb_build_object(
        'title', 'Disk usage above 90% on host-' || g % 500, 'fingerprint', fp,
        'severity', 'critical', 'host', 'host-' || g % 500),
    t - interval '2 hours', t - interval '2 hours' + interval '20 milliseconds', 1, $9::text,
    CASE WHEN $10 THEN md5($3 || ':alert:' || fp)::uuid END, NULL, $1
"""
    + SEED_ROWS
)

# Every fifth alert of the category was paged once, by SMS.
ESCALATIONS_SQL = (
    """
INSERT INTO escalation_event (
    id, created_at, cycle, tier, target, channel, status, provider, provider_ref,
    to_address, message, sent_at, attempts, updated_at, alert_id, tenant_id)
SELECT
    md5($3 || ':escalation:' || fp)::uuid, t - interval '119 minutes', 0, 1,
    'bench-user-' || g % 50, 'sms', 'sent', 'twilio', 'SM' || md5(fp),
    '+1555' || lpad((g % 10000000)::text, 7, '0'), 'OpsWatch: ' || fp || ' is firing',
    t - interval '119 minutes', 1, t - interval '119 minutes',
    md5($3 || ':alert:' || fp)::uuid, $1
"""
    + SEED_ROWS
    + """WHERE g % 5 = 0
"""
)

NOTICES_SQL = (
    """
INSERT INTO notification (
    id, created_at, dedup_key, kind, channel, text, payload, status, sent_at, tenant_id)
SELECT
    md5($3 || ':notice:' || fp)::uuid, t, 'bench-' || fp, 'handoff', 'sms',
    'You are on call from now on (' || fp || ')', '{}'::jsonb, 'sent', t, $1
"""
    + SEED_ROWS
)

AUDIT_SQL = (
    """
INSERT INTO audit_log (
    id, actor_type, actor_id, actor_name, action, target_type, target_id, source, data,
    created_at, tenant_id)
SELECT
    md5($3 || ':audit:' || fp)::uuid, 'system', NULL, 'bench-seed', 'alert.resolved', 'alert',
    md5(fp), 'bench-seed', jsonb_build_object('seed', $5::text, 'n', g, 'by', 'bench/cleanup'),
    t, $1
"""
    + SEED_ROWS
)

INCIDENT_SQL = """
INSERT INTO incident (
    id, created_at, title, severity, status, summary, tags, source, occurrences, resolved_at,
    updated_at, tenant_id)
VALUES (
    md5($2 || ':incident')::uuid, $3, 'Storage outage (bench)', 'critical', 'resolved',
    'Seeded by bench/cleanup: its alerts are kept past retention.', '[]'::jsonb, 'manual',
    1, $3, $3, $1)
RETURNING id
"""


@dataclass(frozen=True)
class Category:
    """One kind of seeded row: its fingerprint prefix, how many, how old, and its fate."""

    prefix: str
    count: int
    oldest_days: float
    newest_days: float
    goes: bool  # the cleanup must remove it


@dataclass(frozen=True)
class Plan:
    """What to seed, from --alerts and --audit."""

    old: Category  # resolved, past retention: deleted
    in_incident: Category  # resolved, past retention, linked to an incident: kept
    recent: Category  # resolved within retention: kept
    firing: Category  # open, however old: kept
    orphans_old: Category  # inbox events that opened no alert, past retention
    orphans_recent: Category
    notices_old: Category
    notices_recent: Category
    audit_old: Category  # past the audit retention: archived
    audit_recent: Category

    @classmethod
    def of(cls, alerts: int, audit: int) -> Plan:
        return cls(
            old=Category("old", alerts, 400, 100, True),
            in_incident=Category("incident", min(INCIDENT_ALERTS, alerts), 400, 100, False),
            recent=Category("recent", max(1, alerts // 50), 80, 1, False),
            firing=Category("firing", max(1, alerts // 200), 500, 0, False),
            orphans_old=Category("orphan-old", max(1, alerts // 100), 400, 100, True),
            orphans_recent=Category("orphan-recent", max(1, alerts // 1000), 80, 1, False),
            notices_old=Category("notice-old", max(1, alerts // 100), 400, 100, True),
            notices_recent=Category("notice-recent", max(1, alerts // 1000), 80, 1, False),
            audit_old=Category("old", audit, 1000, 366, True),
            audit_recent=Category("recent", max(1, audit // 10), 364, 1, False),
        )

    @property
    def alert_categories(self) -> tuple[Category, ...]:
        return (self.old, self.in_incident, self.recent, self.firing)


def escalations_of(category: Category) -> int:
    """Rows of ESCALATIONS_SQL for a category: every g in 1..count divisible by 5."""
    return category.count // 5


def inserted(status: str) -> int:
    """The row count of an ``INSERT 0 <n>`` command tag."""
    return int(status.split()[-1])


async def seed(
    connection: asyncpg.Connection, tenant_id: Any, as_of: datetime, plan: Plan
) -> dict[str, Any]:
    """Write every category; rows and seconds per statement, and in all."""
    salt = secrets.token_hex(4)
    steps: list[dict[str, Any]] = []

    async def step(label: str, sql: str, category: Category, *extra: Any) -> None:
        began = time.perf_counter()
        status = await connection.execute(
            sql,
            tenant_id,
            as_of,
            salt,
            category.count,
            category.prefix,
            category.oldest_days,
            category.newest_days,
            *extra,
        )
        seconds = time.perf_counter() - began
        rows = inserted(status)
        steps.append({"step": label, "rows": rows, "seconds": round(seconds, 2)})
        say(f"seeded {label}: {rows:,} rows in {seconds:.1f} s")

    began = time.perf_counter()
    await connection.execute("SET synchronous_commit = off")
    incident_id = await connection.fetchval(
        INCIDENT_SQL, tenant_id, salt, as_of - timedelta(days=200)
    )
    for category in plan.alert_categories:
        resolved = category.prefix != plan.firing.prefix
        status = "resolved" if resolved else "firing"
        incident = incident_id if category is plan.in_incident else None
        short = {"old": "s", "incident": "k", "recent": "r", "firing": "f"}[category.prefix]
        await step(f"alerts, {category.prefix}", ALERTS_SQL, category, short, status, incident)
        await step(
            f"inbox events, {category.prefix}", EVENTS_SQL, category, "firing", "created", True
        )
        await step(f"escalation events, {category.prefix}", ESCALATIONS_SQL, category)
    for category in (plan.orphans_old, plan.orphans_recent):
        await step(
            f"inbox events, {category.prefix}", EVENTS_SQL, category, "ignored", "ignored", False
        )
    for category in (plan.notices_old, plan.notices_recent):
        await step(f"notices, {category.prefix}", NOTICES_SQL, category)
    for category in (plan.audit_old, plan.audit_recent):
        await step(f"audit entries, {category.prefix}", AUDIT_SQL, category)
    seconds = time.perf_counter() - began
    await connection.execute("RESET synchronous_commit")
    rows = sum(s["rows"] for s in steps)
    say(f"seeded {rows:,} rows in {seconds:.1f} s")
    began = time.perf_counter()
    await connection.execute("SET maintenance_work_mem = '256MB'")
    await connection.execute("VACUUM (ANALYZE)")
    vacuum_s = time.perf_counter() - began
    say(f"VACUUM (ANALYZE) took {vacuum_s:.1f} s")
    # The seeding's dirty pages are written now, not by a checkpoint in the baseline.
    began = time.perf_counter()
    checkpoint_s: float | None = None
    try:
        await connection.execute("CHECKPOINT")
        checkpoint_s = round(time.perf_counter() - began, 1)
        say(f"CHECKPOINT took {checkpoint_s:.1f} s")
    except asyncpg.InsufficientPrivilegeError:
        say("CHECKPOINT not allowed for this role (superuser or pg_checkpoint); skipped")
    sizes = await connection.fetch(
        "SELECT relname, pg_total_relation_size(relid) AS bytes FROM pg_stat_user_tables "
        "WHERE relname = ANY($1::text[]) ORDER BY relname",
        [*TABLES, "audit_log_archive"],
    )
    return {
        "steps": steps,
        "rows": rows,
        "seconds": round(seconds, 1),
        "vacuum_analyze_s": round(vacuum_s, 1),
        "checkpoint_s": checkpoint_s,
        "table_mib": {r["relname"]: round(r["bytes"] / 2**20) for r in sizes},
        "incident_id": str(incident_id),
    }
