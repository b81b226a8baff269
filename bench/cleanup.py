"""Data retention benchmark: ``opswatch cleanup`` over a million resolved alerts on
PostgreSQL, and what it does to webhook ingest running at the same time.

It measures the retention run (``opswatch.audit.cleanup.cleanup``, started the way a
CronJob starts it: ``opswatch cleanup --json --as-of <instant>``) on a database
holding ``--alerts`` resolved alerts past the tenant's retention, and the ingest
latency of the production shape (``opswatch api`` + ``opswatch worker``, Redis)
before, during and after that run.

Set-up, in a fresh PostgreSQL database ``opswatch_bench_<hex>`` and a Redis
namespace of its own: ``opswatch db upgrade``, then a tenant (default retention:
90 days of resolved alerts, 365 days of audit entries) and an API key through
``opswatch tenant create`` and ``opswatch apikey create`` (``--json``). The data is
then written with set-based SQL (``INSERT ... SELECT FROM generate_series``; ids
are ``md5(...)::uuid`` of the run's salt and the row's fingerprint, so an inbox
event names its alert without a join), relative to ``as-of``, the instant the run
started (whole seconds, UTC):

============================  ===========================  ==============================
what                          how many (1M alerts)         age before as-of
============================  ===========================  ==============================
old resolved alerts           ``--alerts`` (1,000,000)     resolved 400 to 100 days: go
old resolved, in an incident  100                          resolved 400 to 100 days: stay
recent resolved alerts        alerts / 50 (20,000)         resolved 80 to 1 days: stay
firing alerts                 alerts / 200 (5,000)         last seen 500 to 0 days: stay
============================  ===========================  ==============================

Every alert has one inbox event (``alert_event``, processed, received two hours
before the alert's last instant) and every fifth one escalation event (SMS, sent).
Besides: alerts / 100 processed inbox events that opened no alert (outcome
ignored) 400 to 100 days old (go) and alerts / 1,000 of them 80 to 1 days old
(stay); as many notices (``notification``), old and recent; ``--audit`` audit
entries 1,000 to 366 days old (archived) and audit / 10 of them 364 to 1 days old
(stay). Fingerprints (``old-17``, ``recent-3``, ...) name the category of every
row; short ids are a category letter and nine digits, which the 6-character ids
OpsWatch draws can never equal. Seeding is timed per statement, then the whole
database is ``VACUUM (ANALYZE)``-ed and a ``CHECKPOINT`` writes the seeding's dirty
pages (else a checkpoint forced by its WAL lands in the baseline and stalls it).

Before anything runs, the statements of ``opswatch/audit/cleanup.py`` (written out
again here: keep them in step with that file) are run under ``EXPLAIN (ANALYZE,
BUFFERS)`` with the tenant and cutoffs of the run, the first batch of 1,000
alerts, in a transaction that is rolled back; the plans go into the report (scan
types, index names, foreign-key trigger times, execution time). The batch selects
are explained again after the run, when their indexes lead with the rows just
deleted (the server may run without autovacuum: its settings are reported).

Then the production shape starts on free loopback ports (no scheduler: its first
tick would run the daily cleanup itself), and this process posts distinct alerts
to ``POST /api/v1/webhooks/generic`` at ``--rate`` per second (open loop: on
schedule whatever the answers take, never more than 512 waiting; a sender more
than a second behind its schedule skips ahead instead of bursting). Phases:

idle
    ``--idle-seconds`` with the servers up and no load: their CPU alone (polling,
    ticking), for the CPU table only.
warm-up
    ``--warmup-seconds``, not reported.
baseline
    ``--baseline-seconds`` of the load alone.
during
    ``opswatch cleanup --json --as-of <as-of>`` runs as a subprocess; the phase
    lasts from its start to its exit, which is the cleanup's wall time (including
    the interpreter's start-up; the report's own ``seconds`` is the in-process
    time). Deleted alerts, escalation and inbox events, notices and archived audit
    entries are read from its JSON. Reported again in two parts: "start-up", until
    the first alert is seen deleted (the command starting, connecting, counting
    the alerts kept for incidents; sampled, so up to about 2 s late), and
    "deleting", from then until the command exits.
after
    ``--after-seconds`` more of the load alone (0: none).

For every phase: requests sent per second, answered 202 (``accepted/s`` = 202
answers / phase length), the 202 answer time p50/p99, and POST -> processed: from
the client's wall clock just before the POST to the inbox row's ``processed_at``
(the same machine's clock), p50/p99/max, read from the database once the backlog
has drained. A request belongs to the phase it was sent in. Also per phase: the
checkpoints the server took and the buffers backends had to write themselves
(``pg_stat_bgwriter``, server-wide), and CPU in cores per component, read from
/proc once a second (api, worker, the PostgreSQL backends of api and worker, the
cleanup process, its PostgreSQL backend (found by ``application_name``),
PostgreSQL's background processes, Redis, the load generator = this process with
its own database connection, and everything else on the machine); a process that
ended misses at most its last second. **The load generator runs on the same
cores as everything else.**

While the cleanup runs, ``pg_stat_user_tables`` is sampled every second: rows
deleted per table and audit entries archived, which give the progress over time,
the length of each stage (alerts, then audit) and whether batches slow down as
the run goes (alerts/s between 5% and 25% of the alerts vs between 75% and 95%).

Checks, afterwards, per category: every old alert, its inbox and escalation events,
the old orphan inbox events and old notices are gone; everything else that was
seeded is there (the alerts kept for their incident too); every alert the load
posted exists and every posted event was processed; the report's counts equal
what was seeded; the audit log: the seeded old entries are all in the archive
and none left live, ``live before (not counting the load's entries) + the load's
entries + 1 (the cleanup's own report) == live after + archive after``. A failed
check is listed and the exit status is 1.

Run it from the repository root, with the project's virtualenv::

    .venv/bin/python bench/cleanup.py --alerts 20000 --audit 5000    # a minute
    .venv/bin/python bench/cleanup.py --json /tmp/cleanup.json         # 1M alerts, minutes
    .venv/bin/python bench/cleanup.py --alerts 200000 --rate 400 --baseline-seconds 30

Requirements: PostgreSQL 13 or later on 127.0.0.1 (``--postgres-url``, a role that
may create databases), Redis on 127.0.0.1 (``--redis-url``). Everything it starts
it removes, also when it fails or is interrupted (Ctrl-C, SIGTERM): the servers and
the cleanup process (by process group), the Redis namespace's keys, and the
database, unless ``--keep`` (then the database and the server logs stay, and
their names are printed). ``--batch N`` is passed to ``opswatch cleanup`` only if
its ``--help`` offers ``--batch``; otherwise giving it is an error, and the batch
is the module's default.

Output: progress on stderr; on stdout a Markdown section (the machine, the commit
and a hash of ``opswatch/audit/cleanup.py``, the command, the seeding, the cleanup,
ingest per phase, CPU, the plans, the checks), and the raw figures as JSON with
``--json PATH``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import asyncpg
import ingest
from common import (
    REPO,
    HelpFormatter,
    at_least_one,
    create_database,
    drop_database,
    machine,
    not_negative,
    positive,
    run_main,
    say,
    with_database,
)
from ingest import (
    LOOPBACK,
    MAX_IN_FLIGHT,
    REQUEST_TIMEOUT_S,
    WEBHOOK_PATH,
    BenchError,
    CpuMeter,
    Poster,
    Service,
    alert_body,
    api_command,
    clean_env,
    free_port,
    log_issues,
    percentile,
    redis_cleanup,
    redis_version,
    run_cli,
    speed_check,
    tail,
    wait_http_ok,
    wait_log_line,
)

# The ingest package's helpers (Service, redis_cleanup) report through its own
# ``say``; one format for every progress line: the time of day, as common.say prints it.
ingest.use_say(say)

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


# ---------------------------------------------------------------------------
# Seeding: one statement per table and category, every row from generate_series
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
    md5(fp), 'bench-seed', jsonb_build_object('seed', $5::text, 'n', g, 'by', 'bench/cleanup.py'),
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
    'Seeded by bench/cleanup.py: its alerts are kept past retention.', '[]'::jsonb, 'manual',
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


# ---------------------------------------------------------------------------
# The cleanup's statements under EXPLAIN (mirroring opswatch/audit/cleanup.py)

BATCH_SELECT = (
    "SELECT id FROM alert WHERE tenant_id = $1 AND status = 'resolved' "
    "AND resolved_at < $2 AND incident_id IS NULL "
    "ORDER BY resolved_at LIMIT 1000 FOR UPDATE SKIP LOCKED"
)
KEPT_COUNT = (
    "SELECT COUNT(*) AS n FROM alert WHERE tenant_id = $1 AND status = 'resolved' "
    "AND resolved_at < $2 AND incident_id IS NOT NULL"
)
LEFTOVER_EVENTS = (
    "SELECT id FROM alert_event WHERE tenant_id = $1 AND received_at < $2 "
    "AND processed_at IS NOT NULL AND alert_id IS NULL LIMIT 1000 FOR UPDATE SKIP LOCKED"
)
LEFTOVER_NOTICES = (
    "SELECT id FROM notification WHERE tenant_id = $1 AND created_at < $2 "
    "LIMIT 1000 FOR UPDATE SKIP LOCKED"
)
AUDIT_SELECT = (
    "SELECT id, tenant_id, actor_type, actor_id, actor_name, action, target_type, target_id, "
    "source, data, created_at FROM audit_log WHERE tenant_id = $1 AND created_at < $2 "
    "ORDER BY created_at LIMIT 1000 FOR UPDATE SKIP LOCKED"
)
# cleanup.py lists the ids as IN (:id0, ..., :id999); PostgreSQL plans that list
# as = ANY(ARRAY[...]), which is what one array parameter gives.
DELETE_ESCALATIONS = "DELETE FROM escalation_event WHERE alert_id = ANY($1::uuid[]) RETURNING id"
DELETE_EVENTS = "DELETE FROM alert_event WHERE alert_id = ANY($1::uuid[]) RETURNING id"
DELETE_ALERTS = "DELETE FROM alert WHERE id = ANY($1::uuid[]) RETURNING id"
ARCHIVE_INSERT = (
    "INSERT INTO audit_log_archive (id, tenant_id, actor_type, actor_id, actor_name, action, "
    "target_type, target_id, source, data, created_at, archived_at) "
    "SELECT id, tenant_id, actor_type, actor_id, actor_name, action, target_type, target_id, "
    "source, data, created_at, $2 FROM audit_log WHERE id = ANY($1::uuid[])"
)
DELETE_AUDIT = "DELETE FROM audit_log WHERE id = ANY($1::uuid[]) RETURNING id"

_SCAN = re.compile(
    r"((?:Parallel )?(?:Index Only Scan|Index Scan|Bitmap Index Scan|Bitmap Heap Scan|Seq Scan)"
    r"(?: Backward)?(?: using \S+)?(?: on \S+)?)"
)
_TRIGGER = re.compile(r"Trigger for constraint (\S+): time=([\d.]+) calls=(\d+)")
_EXECUTION = re.compile(r"Execution Time: ([\d.]+) ms")
_BUFFERS = re.compile(r"Buffers: shared ((?:hit|read|dirtied|written)=\d+(?: \w+=\d+)*)")


def plan_summary(label: str, lines: list[str]) -> dict[str, Any]:
    """The scans (with their indexes), FK triggers, buffers and time of one plan."""
    text = "\n".join(lines)
    scans = list(dict.fromkeys(m.group(1) for m in _SCAN.finditer(text)))
    triggers = [
        {"constraint": m.group(1), "ms": float(m.group(2)), "calls": int(m.group(3))}
        for m in _TRIGGER.finditer(text)
    ]
    executed = _EXECUTION.search(text)
    buffers = _BUFFERS.search(text)  # the top node's: the whole statement
    return {
        "statement": label,
        "scans": scans,
        "seq_scan": any(s.startswith(("Seq Scan", "Parallel Seq Scan")) for s in scans),
        "triggers": triggers,
        "buffers": buffers.group(1) if buffers else None,
        "ms": float(executed.group(1)) if executed else None,
        "plan": lines,
    }


async def explain(
    connection: asyncpg.Connection, label: str, sql: str, *params: Any
) -> dict[str, Any]:
    rows = await connection.fetch("EXPLAIN (ANALYZE, BUFFERS) " + sql, *params)
    return plan_summary(label, [row[0] for row in rows])


async def explain_cleanup(
    connection: asyncpg.Connection, tenant_id: Any, alerts_cutoff: datetime, audit_cutoff: datetime
) -> list[dict[str, Any]]:
    """Every statement of one cleanup batch, executed and rolled back."""
    plans = []
    transaction = connection.transaction()
    await transaction.start()
    try:
        plans.append(
            await explain(connection, "kept (count)", KEPT_COUNT, tenant_id, alerts_cutoff)
        )
        plans.append(
            await explain(connection, "alert batch select", BATCH_SELECT, tenant_id, alerts_cutoff)
        )
        ids = [r["id"] for r in await connection.fetch(BATCH_SELECT, tenant_id, alerts_cutoff)]
        for label, sql in (
            ("delete escalation events", DELETE_ESCALATIONS),
            ("delete inbox events", DELETE_EVENTS),
            ("delete alerts", DELETE_ALERTS),
        ):
            plans.append(await explain(connection, label, sql, ids))
        plans.append(
            await explain(
                connection,
                "leftover inbox events select",
                LEFTOVER_EVENTS,
                tenant_id,
                alerts_cutoff,
            )
        )
        plans.append(
            await explain(connection, "notices select", LEFTOVER_NOTICES, tenant_id, alerts_cutoff)
        )
        plans.append(
            await explain(connection, "audit batch select", AUDIT_SELECT, tenant_id, audit_cutoff)
        )
        audit_ids = [r["id"] for r in await connection.fetch(AUDIT_SELECT, tenant_id, audit_cutoff)]
        plans.append(
            await explain(
                connection, "archive insert", ARCHIVE_INSERT, audit_ids, datetime.now(UTC)
            )
        )
        plans.append(await explain(connection, "delete audit entries", DELETE_AUDIT, audit_ids))
    finally:
        await transaction.rollback()
    return plans


async def explain_after(
    connection: asyncpg.Connection, tenant_id: Any, alerts_cutoff: datetime, audit_cutoff: datetime
) -> list[dict[str, Any]]:
    """The batch selects once everything is gone: what the last batch (and the next
    run, until a vacuum) pays to find nothing."""
    transaction = connection.transaction()
    await transaction.start()
    try:
        return [
            await explain(
                connection, "alert batch select, after", BATCH_SELECT, tenant_id, alerts_cutoff
            ),
            await explain(
                connection,
                "leftover inbox events select, after",
                LEFTOVER_EVENTS,
                tenant_id,
                alerts_cutoff,
            ),
            await explain(
                connection, "audit batch select, after", AUDIT_SELECT, tenant_id, audit_cutoff
            ),
        ]
    finally:
        await transaction.rollback()


# ---------------------------------------------------------------------------
# The load: distinct alerts at a steady rate, each request noted with its phase


@dataclass
class Sent:
    at: float  # time.monotonic() just before the POST: which phase it belongs to
    wall: float  # time.time() then: compared with the inbox row's processed_at
    answer_s: float | None = None
    status: str = "pending"


class SteadyLoad:
    """Posts a new fingerprint ``rate`` times a second until stopped."""

    def __init__(self, poster: Poster, rate: float, prefix: str) -> None:
        self.poster = poster
        self.rate = rate
        self.prefix = prefix
        self.sent: list[Sent] = []
        self.skipped = 0  # sends dropped after falling more than a second behind
        self._stopping = False

    def fingerprint(self, index: int) -> str:
        return f"{self.prefix}{index}"

    async def _one(self, index: int, record: Sent) -> None:
        began = time.perf_counter()
        status = await self.poster.post(alert_body(self.fingerprint(index)))
        record.answer_s = time.perf_counter() - began
        record.status = str(status) if status is not None else "error"

    def stop(self) -> None:
        self._stopping = True

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        pending: set[asyncio.Task[None]] = set()
        start = time.perf_counter()
        count = 0
        try:
            while not self._stopping:
                now = time.perf_counter()
                due = int((now - start) * self.rate) + 1
                if due - count > self.rate:  # over a second behind: skip, do not burst
                    self.skipped += due - count - 1
                    start = now - count / self.rate
                    due = count + 1
                while count < due and len(pending) < MAX_IN_FLIGHT:
                    record = Sent(time.monotonic(), time.time())
                    self.sent.append(record)
                    task = loop.create_task(self._one(count, record))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                    count += 1
                if len(pending) >= MAX_IN_FLIGHT:
                    await asyncio.wait(set(pending), timeout=1, return_when=asyncio.FIRST_COMPLETED)
                else:
                    await asyncio.sleep(max(0.0, start + count / self.rate - time.perf_counter()))
            if pending:
                await asyncio.wait(set(pending), timeout=REQUEST_TIMEOUT_S + 5)
        finally:
            for task in pending:
                task.cancel()


# ---------------------------------------------------------------------------
# Sampling: table counters and CPU once a second

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


# ---------------------------------------------------------------------------
# The cleanup process


@dataclass
class CleanupRun:
    wall_s: float
    exit_code: int
    report: dict[str, Any] | None  # the tenant's entry of the printed JSON
    stderr_tail: str


async def cli_offers(env: dict[str, str], option: str) -> bool:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "opswatch",
        "cleanup",
        "--help",
        env=env,
        cwd=REPO,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    return option in out.decode(errors="replace")


async def run_cleanup(
    env: dict[str, str],
    as_of: datetime,
    batch: int | None,
    log_path: Path,
    timeout: float,
    sampler: Sampler,
) -> CleanupRun:
    argv = [sys.executable, "-m", "opswatch", "cleanup", "--json", "--as-of", iso(as_of)]
    if batch is not None:
        argv += ["--batch", str(batch)]
    with log_path.open("wb") as log:
        began = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            *argv,
            env=env,
            cwd=REPO,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
            start_new_session=True,
        )
    sampler.cleanup_pid = process.pid
    say(f"started opswatch cleanup (pid {process.pid}): {shlex.join(argv[2:])}")
    try:
        out, _ = await asyncio.wait_for(process.communicate(), timeout)
    except BaseException:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        await process.wait()
        raise
    wall = time.perf_counter() - began
    report = None
    lines = out.decode(errors="replace").strip().splitlines()
    if process.returncode == 0 and lines:
        printed = json.loads(lines[-1])
        report = printed["tenants"][0] if printed.get("tenants") else None
    say(f"opswatch cleanup exited {process.returncode} after {wall:.1f} s")
    return CleanupRun(round(wall, 2), process.returncode or 0, report, tail(log_path, 20))


# ---------------------------------------------------------------------------
# Counting what is there, per category


ALERTS_BY_CATEGORY = (
    "SELECT regexp_replace(fingerprint, '-[0-9]+$', '') AS category, count(*) AS n "
    "FROM alert WHERE tenant_id = $1 GROUP BY 1"
)
EVENTS_BY_CATEGORY = (
    "SELECT regexp_replace(fingerprint, '-[0-9]+$', '') AS category, count(*) AS n "
    "FROM alert_event WHERE tenant_id = $1 GROUP BY 1"
)
ESCALATIONS_BY_CATEGORY = (
    "SELECT regexp_replace(a.fingerprint, '-[0-9]+$', '') AS category, count(*) AS n "
    "FROM escalation_event e JOIN alert a ON a.id = e.alert_id WHERE e.tenant_id = $1 GROUP BY 1"
)
NOTICES_BY_CATEGORY = (
    "SELECT regexp_replace(dedup_key, '^bench-|-[0-9]+$', '', 'g') AS category, count(*) AS n "
    "FROM notification WHERE tenant_id = $1 GROUP BY 1"
)
# Audit entries by where they came from, in the live table or its archive.
AUDIT_BY_KIND = """
SELECT
    count(*) AS total,
    count(*) FILTER (WHERE source = 'bench-seed' AND data->>'seed' = 'old') AS seeded_old,
    count(*) FILTER (WHERE source = 'bench-seed' AND data->>'seed' = 'recent') AS seeded_recent,
    count(*) FILTER (WHERE data->>'fingerprint' LIKE $1) AS load,
    count(*) FILTER (WHERE action = 'retention.cleanup') AS cleanup_reports,
    count(*) FILTER (WHERE created_at < $2) AS past_retention
FROM {table}
"""
ORPHAN_ESCALATIONS = (
    "SELECT count(*) FROM escalation_event e WHERE NOT EXISTS "
    "(SELECT 1 FROM alert a WHERE a.id = e.alert_id)"
)
LOAD_INBOX_TIMES = (
    "SELECT fingerprint, received_at, processed_at FROM alert_event "
    "WHERE tenant_id = $1 AND received_at >= $2 AND fingerprint LIKE $3"
)


async def by_category(connection: asyncpg.Connection, sql: str, tenant_id: Any) -> dict[str, int]:
    return {r["category"]: int(r["n"]) for r in await connection.fetch(sql, tenant_id)}


async def audit_counts(
    connection: asyncpg.Connection, load_prefix: str, audit_cutoff: datetime
) -> dict[str, dict[str, int]]:
    """Live and archived audit entries by kind, read in one snapshot."""
    transaction = connection.transaction(isolation="repeatable_read", readonly=True)
    await transaction.start()
    try:
        live, archive = [
            await connection.fetchrow(
                AUDIT_BY_KIND.format(table=table), load_prefix + "%", audit_cutoff
            )
            for table in ("audit_log", "audit_log_archive")
        ]
    finally:
        await transaction.rollback()
    return {"live": dict(live), "archive": dict(archive)}


async def census(
    connection: asyncpg.Connection, tenant_id: Any, load_prefix: str, audit_cutoff: datetime
) -> dict[str, Any]:
    """Rows per table and category (the load's under "load"), and the audit log's kinds."""

    def folded(counts: dict[str, int]) -> dict[str, int]:
        # Every load fingerprint shares the prefix; one bucket for them.
        out: Counter[str] = Counter()
        for category, n in counts.items():
            out["load" if category.startswith(load_prefix.rstrip("-")) else category] += n
        return dict(out)

    return {
        "alerts": folded(await by_category(connection, ALERTS_BY_CATEGORY, tenant_id)),
        "inbox_events": folded(await by_category(connection, EVENTS_BY_CATEGORY, tenant_id)),
        "escalation_events": folded(
            await by_category(connection, ESCALATIONS_BY_CATEGORY, tenant_id)
        ),
        "escalation_events_without_alert": int(await connection.fetchval(ORPHAN_ESCALATIONS)),
        "notices": await by_category(connection, NOTICES_BY_CATEGORY, tenant_id),
        "audit": await audit_counts(connection, load_prefix, audit_cutoff),
    }


@dataclass(frozen=True)
class Check:
    name: str
    expected: int
    found: int | None

    @property
    def ok(self) -> bool:
        return self.found == self.expected


def checks_of(
    plan: Plan,
    before: dict[str, Any],
    after: dict[str, Any],
    report: dict[str, Any] | None,
    load_accepted: int,
    load_unprocessed: int,
) -> list[Check]:
    """What must hold after the run; each with its expected and found value."""
    old, incident, recent, firing = plan.old, plan.in_incident, plan.recent, plan.firing
    alerts, events, escalations = after["alerts"], after["inbox_events"], after["escalation_events"]
    notices = after["notices"]
    found: list[Check] = [
        Check("old alerts left", 0, alerts.get(old.prefix, 0)),
        Check("inbox events of old alerts left", 0, events.get(old.prefix, 0)),
        Check("escalation events of old alerts left", 0, escalations.get(old.prefix, 0)),
        Check("escalation events without their alert", 0, after["escalation_events_without_alert"]),
        Check("old inbox events without an alert left", 0, events.get(plan.orphans_old.prefix, 0)),
        Check("old notices left", 0, notices.get(plan.notices_old.prefix, 0)),
    ]
    for category in (incident, recent, firing):
        found += [
            Check(f"{category.prefix} alerts kept", category.count, alerts.get(category.prefix, 0)),
            Check(
                f"inbox events of {category.prefix} alerts kept",
                category.count,
                events.get(category.prefix, 0),
            ),
            Check(
                f"escalation events of {category.prefix} alerts kept",
                escalations_of(category),
                escalations.get(category.prefix, 0),
            ),
        ]
    found += [
        Check(
            "recent inbox events without an alert kept",
            plan.orphans_recent.count,
            events.get(plan.orphans_recent.prefix, 0),
        ),
        Check(
            "recent notices kept",
            plan.notices_recent.count,
            notices.get(plan.notices_recent.prefix, 0),
        ),
        Check("alerts the load opened (one per 202)", load_accepted, alerts.get("load", 0)),
        Check("inbox events the load posted (one per 202)", load_accepted, events.get("load", 0)),
        Check("posted events never processed", 0, load_unprocessed),
    ]
    live_before, archive_before = before["audit"]["live"], before["audit"]["archive"]
    live_after, archive_after = after["audit"]["live"], after["audit"]["archive"]
    audit_old = plan.audit_old.count
    found += [
        Check("seeded old audit entries in the archive", audit_old, archive_after["seeded_old"]),
        Check("seeded old audit entries left live", 0, live_after["seeded_old"]),
        Check("audit entries past retention left live (any kind)", 0, live_after["past_retention"]),
        Check(
            "seeded recent audit entries kept live",
            plan.audit_recent.count,
            live_after["seeded_recent"],
        ),
        Check(
            "archive rows that are not seeded old entries", 0, archive_after["total"] - audit_old
        ),
        Check("the cleanup's own audit entry", 1, live_after["cleanup_reports"]),
        Check(
            "live before (not the load's) + load's + 1 == live after + archive after",
            live_before["total"] - live_before["load"] + live_after["load"] + 1,
            live_after["total"] + archive_after["total"] - archive_before["total"],
        ),
    ]
    figures = report or {}
    found += [
        Check("report: deleted alerts", old.count, figures.get("deleted_alerts")),
        Check(
            "report: deleted escalation events",
            escalations_of(old),
            figures.get("deleted_escalation_events"),
        ),
        Check(
            "report: deleted inbox events",
            old.count + plan.orphans_old.count,
            figures.get("deleted_inbox_events"),
        ),
        Check(
            "report: deleted notices", plan.notices_old.count, figures.get("deleted_notifications")
        ),
        Check("report: archived audit entries", audit_old, figures.get("archived_audit_entries")),
        Check("report: kept for incidents", incident.count, figures.get("kept_for_incidents")),
    ]
    return found


# ---------------------------------------------------------------------------
# Figures per phase


@dataclass
class PhaseSpan:
    name: str
    start: float  # time.monotonic()
    end: float = 0.0

    @property
    def seconds(self) -> float:
        return self.end - self.start


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


def phase_figures(
    span: PhaseSpan,
    sent: Sequence[Sent],
    load: SteadyLoad,
    inbox: dict[str, tuple[float, float | None]],
    cores: dict[str, float],
    server: dict[str, int],
) -> dict[str, Any]:
    mine = [(index, s) for index, s in enumerate(sent) if span.start <= s.at < span.end]
    statuses = Counter(s.status for _, s in mine)
    accepted = [(index, s) for index, s in mine if s.status == "202"]
    answers = [s.answer_s for _, s in mine if s.answer_s is not None]
    processed: list[float] = []
    received_to_processed: list[float] = []
    unprocessed = 0
    for index, s in accepted:
        stamps = inbox.get(load.fingerprint(index))
        if stamps is None or stamps[1] is None:
            unprocessed += 1
            continue
        processed.append(stamps[1] - s.wall)
        received_to_processed.append(stamps[1] - stamps[0])
    seconds = span.seconds
    # Per second of the phase (by send time): requests, slow answers, the slowest.
    series: dict[int, list[float]] = {}
    start_wall = mine[0][1].wall if mine else 0.0
    for _, s in mine:
        series.setdefault(int(s.wall - start_wall), []).append(s.answer_s or 0.0)
    slow_seconds = [
        {"second": second, "sent": len(answers), "slow": slow, "max_ms": ms(max(answers))}
        for second, answers in sorted(series.items())
        if (slow := sum(a > SLOW_S for a in answers))
    ]
    return {
        "phase": span.name,
        "seconds": round(seconds, 1),
        "sent": len(mine),
        "sent_per_s": round(len(mine) / seconds, 1) if seconds > 0 else None,
        "accepted": len(accepted),
        "accepted_per_s": round(len(accepted) / seconds, 1) if seconds > 0 else None,
        "other_statuses": {k: v for k, v in statuses.items() if k != "202"},
        "answer_p50_ms": ms(percentile(answers, 0.50)),
        "answer_p99_ms": ms(percentile(answers, 0.99)),
        "processed_p50_ms": ms(percentile(processed, 0.50)),
        "processed_p99_ms": ms(percentile(processed, 0.99)),
        "processed_max_ms": ms(max(processed) if processed else None),
        "received_to_processed_p50_ms": ms(percentile(received_to_processed, 0.50)),
        "received_to_processed_p99_ms": ms(percentile(received_to_processed, 0.99)),
        "unprocessed": unprocessed,
        "slow_answers": sum(x["slow"] for x in slow_seconds),
        "slow_seconds": slow_seconds,
        "cpu_cores": cores,
        **server,
    }


def crossing(progress: Sequence[Progress], table: str, base: int, target: float) -> float | None:
    """When the deletions from ``table`` (since ``base``) first reached ``target``."""
    for sample in progress:
        if sample.deleted.get(table, 0) - base >= target:
            return sample.at
    return None


def cleanup_progress(
    progress: Sequence[Progress], start: Progress, end: Progress, deleted_alerts: int
) -> dict[str, Any]:
    """Progress rows over the run, the stages' lengths and the alert rate early vs late."""
    window = [p for p in progress if start.at <= p.at <= end.at]

    def done(p: Progress) -> dict[str, Any]:
        return {
            "seconds": round(p.at - start.at, 1),
            "alerts": p.deleted.get("alert", 0) - start.deleted.get("alert", 0),
            "inbox_events": p.deleted.get("alert_event", 0) - start.deleted.get("alert_event", 0),
            "escalation_events": p.deleted.get("escalation_event", 0)
            - start.deleted.get("escalation_event", 0),
            "audit_archived": p.archived - start.archived,
            "backlog": p.backlog,
        }

    rows_at = sorted({round(i * (len(window) - 1) / 10) for i in range(11)})
    table: list[dict[str, Any]] = []
    for index in rows_at:
        row = done(window[index])
        if not table or row["seconds"] > table[-1]["seconds"]:
            table.append(row)
    base = start.deleted.get("alert", 0)

    def rate(low: float, high: float) -> float | None:
        if deleted_alerts <= 0:
            return None
        early = crossing(window, "alert", base, low * deleted_alerts)
        late = crossing(window, "alert", base, high * deleted_alerts)
        if early is None or late is None or late - early < 2.0:
            return None  # too few samples apart to say
        return round((high - low) * deleted_alerts / (late - early))

    def since_start(at: float | None) -> float | None:
        return None if at is None else round(at - start.at, 1)

    return {
        "rows": table,
        "alerts_begun_s": since_start(crossing(window, "alert", base, 1)),
        "alerts_done_s": since_start(
            crossing(window, "alert", base, deleted_alerts) if deleted_alerts else None
        ),
        "audit_begun_s": since_start(
            next((p.at for p in window if p.archived > start.archived), None)
        ),
        "alerts_per_s_5_to_25": rate(0.05, 0.25),
        "alerts_per_s_75_to_95": rate(0.75, 0.95),
    }


# ---------------------------------------------------------------------------
# The run


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def code_facts() -> dict[str, Any]:
    """What exactly was measured: the cleanup module's hash and the migrations present."""
    source = REPO / "opswatch" / "audit" / "cleanup.py"
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:12] if source.exists() else None
    migrations = sorted(p.stem for p in (REPO / "opswatch" / "migrations").glob("0*.py"))
    return {"cleanup_py_sha256": digest, "migrations": migrations}


async def server_settings(connection: asyncpg.Connection) -> dict[str, str]:
    names = (
        "autovacuum",
        "shared_buffers",
        "work_mem",
        "maintenance_work_mem",
        "max_wal_size",
        "synchronous_commit",
        "fsync",
    )
    return {
        name: str(await connection.fetchval("SELECT current_setting($1)", name)) for name in names
    }


async def wait_drained(
    connection: asyncpg.Connection, timeout: float, lock: asyncio.Lock
) -> float | None:
    """Seconds until no inbox event was waiting; None when it did not happen in time."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        async with lock:
            backlog = int(await connection.fetchval(BACKLOG_SQL))
        if backlog == 0:
            return round(time.monotonic() - began, 1)
        await asyncio.sleep(0.5)
    return None


async def run_bench(args: argparse.Namespace, command: str) -> dict[str, Any]:
    as_of = datetime.now(UTC).replace(microsecond=0)
    plan = Plan.of(args.alerts, args.audit)
    admin_url = with_database(args.postgres_url, "postgres")
    name = f"opswatch_bench_{secrets.token_hex(6)}"
    namespace = f"opswatch_bench_{secrets.token_hex(6)}"
    tmp = Path(tempfile.mkdtemp(prefix="opswatch-bench-cleanup-"))
    report: dict[str, Any] = {"command": command, "as_of": iso(as_of), **code_facts()}
    async with contextlib.AsyncExitStack() as stack:
        if args.keep:
            stack.callback(say, f"kept database {name} and the logs in {tmp}")
        else:
            stack.callback(shutil.rmtree, tmp, True)
        version = await create_database(admin_url, name)
        if not args.keep:
            stack.push_async_callback(drop_database, admin_url, name)
        stack.push_async_callback(redis_cleanup, args.redis_url, namespace)
        dsn = with_database(args.postgres_url, name, "postgres")
        port = free_port()
        env = clean_env(
            {
                "OPSWATCH_DATA_DIR": str(tmp / "data"),
                "OPSWATCH_DATABASE_URL": dsn,
                "OPSWATCH_REDIS_URL": args.redis_url,
                "OPSWATCH_REDIS_NAMESPACE": namespace,
                "OPSWATCH_SECRET_KEY": secrets.token_urlsafe(48),
                "OPSWATCH_HOST": LOOPBACK,
                "OPSWATCH_PORT": str(port),
            }
        )
        cleanup_env = {
            **env,
            "OPSWATCH_DATABASE_URL": f"{dsn}?application_name={CLEANUP_APPLICATION}",
        }
        if args.batch is not None and not await cli_offers(env, "--batch"):
            raise BenchError("--batch: `opswatch cleanup` has no --batch option; leave it out")
        await run_cli(env, "db", "upgrade")
        tenant = await run_cli(env, "tenant", "create", "Bench", "--slug", "bench", "--json")
        key = await run_cli(
            env, "apikey", "create", "--tenant", "bench", "--name", "load", "--json"
        )
        say(f"tenant {tenant['slug']} and an API key created")

        connection = await asyncpg.connect(dsn, timeout=10)
        stack.push_async_callback(connection.close)
        tenant_id = await connection.fetchval("SELECT id FROM tenant WHERE slug = 'bench'")
        report["machine"] = machine(version)
        report["machine"]["redis"] = await redis_version(args.redis_url)
        report["postgres_settings"] = await server_settings(connection)
        report["seeding"] = await seed(connection, tenant_id, as_of, plan)
        report["seeded"] = {k: asdict(v) for k, v in asdict_plan(plan).items()}

        alerts_cutoff = as_of - timedelta(days=90)
        audit_cutoff = as_of - timedelta(days=365)
        say("explaining the cleanup's statements (executed, rolled back)")
        report["plans_before"] = await explain_cleanup(
            connection, tenant_id, alerts_cutoff, audit_cutoff
        )
        load_prefix = f"load-{secrets.token_hex(3)}-"
        # Nothing but the load and the cleanup writes from here on: the seeded
        # categories and the audit log's non-load entries are counted now.
        census_before = await census(connection, tenant_id, load_prefix, audit_cutoff)

        # A fixed pure-Python loop, before anything of ours runs: on a shared machine
        # a slower figure here explains slower figures everywhere.
        report["speed_check_ms"] = await asyncio.to_thread(speed_check)
        worker = Service(
            "opswatch worker",
            [sys.executable, "-m", "opswatch", "worker", "--threads", str(args.worker_threads)],
            env,
            tmp / "worker.log",
        )
        api = Service(
            "opswatch api",
            api_command(port, args.api_workers),
            env,
            tmp / "api.log",
        )
        stack.push_async_callback(api.stop)
        stack.push_async_callback(worker.stop)
        await worker.start()
        await api.start()
        connector = aiohttp.TCPConnector(limit=MAX_IN_FLIGHT)
        session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        )
        stack.push_async_callback(session.close)
        base = f"http://{LOOPBACK}:{port}"
        await wait_http_ok(session, base + "/readyz", api)
        await wait_log_line(worker, "worker running")
        report["processes"] = (
            f"opswatch api --workers {args.api_workers} + "
            f"opswatch worker --threads {args.worker_threads}"
        )

        meter = CpuMeter({"api": api.pgid, "worker": worker.pgid}, database=name)
        own_backend = int(await connection.fetchval("SELECT pg_backend_pid()"))
        sampler = Sampler(connection, meter, own_backend, args.sample_every)
        sampler_task = asyncio.get_running_loop().create_task(sampler.run())
        stack.callback(sampler_task.cancel)  # on failure; normally stopped below
        poster = Poster(session, base + WEBHOOK_PATH, str(key["key"]))
        load = SteadyLoad(poster, args.rate, load_prefix)
        spans: list[PhaseSpan] = []

        def begin(phase: str) -> PhaseSpan:
            now = time.monotonic()
            if spans:
                spans[-1].end = now
            spans.append(PhaseSpan(phase, now))
            say(f"phase {phase}")
            return spans[-1]

        if args.idle_seconds > 0:
            begin("idle")  # CPU of the servers with no load: polling, ticking
            await asyncio.sleep(args.idle_seconds)
        begin("warm-up")
        load_started_wall = time.time()
        load_task = asyncio.get_running_loop().create_task(load.run())
        stack.callback(load_task.cancel)
        await asyncio.sleep(args.warmup_seconds)
        begin("baseline")
        await asyncio.sleep(args.baseline_seconds)
        start_progress = await sampler.take()
        begin("during")
        cleanup = await run_cleanup(
            cleanup_env, as_of, args.batch, tmp / "cleanup.log", args.cleanup_timeout, sampler
        )
        end_progress = await sampler.take()
        if args.after_seconds > 0:
            begin("after")
            await asyncio.sleep(args.after_seconds)
        spans[-1].end = time.monotonic()
        load.stop()
        await load_task
        sampler.stop()
        await sampler_task
        say(f"load stopped: {len(load.sent):,} requests sent; waiting for the backlog")
        drained = await wait_drained(connection, args.drain_timeout, sampler.lock)

        rows = await connection.fetch(
            LOAD_INBOX_TIMES,
            tenant_id,
            datetime.fromtimestamp(load_started_wall - 5, UTC),
            load.prefix + "%",
        )
        inbox = {
            r["fingerprint"]: (
                r["received_at"].timestamp(),
                r["processed_at"].timestamp() if r["processed_at"] else None,
            )
            for r in rows
        }
        # "during" once more in two parts: until the first alert was deleted (the
        # command starting: interpreter, imports, connecting, the kept count), and
        # the deleting itself. The first deletion is sampled, so up to ~2 s late.
        during = next(span for span in spans if span.name == "during")
        first_delete = crossing(
            [p for p in sampler.progress if p.at >= start_progress.at],
            "alert",
            start_progress.deleted.get("alert", 0),
            1,
        )
        if first_delete is not None and during.start < first_delete < during.end:
            index = spans.index(during) + 1
            spans[index:index] = [
                PhaseSpan("during, start-up", during.start, first_delete),
                PhaseSpan("during, deleting", first_delete, during.end),
            ]
        phases = [
            phase_figures(
                span,
                load.sent,
                load,
                inbox,
                sampler.cores(span.start, span.end),
                sampler.server(span.start, span.end),
            )
            for span in spans
            if span.name != "warm-up"
        ]
        census_after = await census(connection, tenant_id, load.prefix, audit_cutoff)
        report["plans_after"] = await explain_after(
            connection, tenant_id, alerts_cutoff, audit_cutoff
        )
        accepted = sum(1 for s in load.sent if s.status == "202")
        unprocessed = sum(
            1
            for index, s in enumerate(load.sent)
            if s.status == "202" and (inbox.get(load.fingerprint(index)) or (0, None))[1] is None
        )
        deleted = cleanup.report or {}
        rows_removed = sum(
            int(deleted.get(k, 0))
            for k in (
                "deleted_alerts",
                "deleted_escalation_events",
                "deleted_inbox_events",
                "deleted_notifications",
                "archived_audit_entries",
            )
        )
        report["cleanup"] = {
            "wall_s": cleanup.wall_s,
            "exit_code": cleanup.exit_code,
            "report": cleanup.report,
            "rows_removed": rows_removed,
            "rows_per_s": round(rows_removed / cleanup.wall_s) if cleanup.wall_s else None,
            "alerts_per_s": round(int(deleted.get("deleted_alerts", 0)) / cleanup.wall_s)
            if cleanup.wall_s
            else None,
            "batch": args.batch,
            "progress": cleanup_progress(
                sampler.progress,
                start_progress,
                end_progress,
                int(deleted.get("deleted_alerts", 0)),
            ),
            "stderr_tail": cleanup.stderr_tail if cleanup.exit_code else "",
        }
        report["load"] = {
            "rate": args.rate,
            "sent": len(load.sent),
            "accepted": accepted,
            "skipped": load.skipped,
            "drained_after_s": drained,
        }
        report["phases"] = phases
        report["census_before"] = census_before
        report["census_after"] = census_after
        report["log"] = log_issues([api, worker])
        checks = checks_of(plan, census_before, census_after, cleanup.report, accepted, unprocessed)
        report["checks"] = [{**asdict(c), "ok": c.ok} for c in checks]
        report["failed_checks"] = [c.name for c in checks if not c.ok]
        if cleanup.exit_code:
            report["failed_checks"].insert(0, f"opswatch cleanup exited {cleanup.exit_code}")
            say(f"opswatch cleanup failed:\n{cleanup.stderr_tail}")
    return report


def asdict_plan(plan: Plan) -> dict[str, Category]:
    return {name: getattr(plan, name) for name in Plan.__dataclass_fields__}


# ---------------------------------------------------------------------------
# Report


def number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.{digits}f}"


def plan_line(plan: dict[str, Any]) -> str:
    scans = "; ".join(plan["scans"]) or "(no scan)"
    triggers = ", ".join(
        f"{t['constraint']} {t['ms']:,.1f} ms / {t['calls']:,} calls" for t in plan["triggers"]
    )
    return (
        f"| {plan['statement']} | {scans} | {triggers or '-'} | {plan['buffers'] or '-'} "
        f"| {number(plan['ms'], 1)} |"
    )


def render(report: dict[str, Any]) -> str:
    m = report["machine"]
    s = report["seeding"]
    c = report["cleanup"]
    figures = c["report"] or {}
    settings = ", ".join(f"{k}={v}" for k, v in report["postgres_settings"].items())
    in_process = figures.get("seconds")
    startup = c["wall_s"] - in_process if in_process is not None else None
    stages = c["progress"]
    seeded = report["seeded"]
    out = [
        "## Data retention",
        "",
        f"- machine: {m['nproc']} CPUs (nproc), {m['cpu']}, {m['memory']} memory",
        f"- Python {m['python']}, PostgreSQL {m['postgresql']} ({settings}), Redis {m['redis']}",
        f"- commit: {m['commit']}; opswatch/audit/cleanup.py sha256 "
        f"{report['cleanup_py_sha256']}; migrations up to {report['migrations'][-1]}",
        f"- command: `{report['command']}`",
        f"- as-of {report['as_of']}; tenant retention: 90 days of alerts, 365 days of audit",
        f"- speed check (bench/ingest's fixed Python loop, before the servers started): "
        f"{report['speed_check_ms']:,.0f} ms",
        f"- processes: {report['processes']}; `opswatch cleanup` as a subprocess; load: this "
        f"process (asyncio client) posting distinct alerts at {report['load']['rate']:g}/s, "
        "**on the same cores**",
        "",
        "### Seeded",
        "",
        f"{seeded['old']['count']:,} old resolved alerts (go), {seeded['in_incident']['count']:,} "
        f"old in an incident, {seeded['recent']['count']:,} recent resolved and "
        f"{seeded['firing']['count']:,} firing (stay); one inbox event each, an escalation "
        f"event for every fifth; {seeded['orphans_old']['count']:,} / "
        f"{seeded['orphans_recent']['count']:,} old / recent inbox events without an alert, "
        f"{seeded['notices_old']['count']:,} / {seeded['notices_recent']['count']:,} notices, "
        f"{seeded['audit_old']['count']:,} / {seeded['audit_recent']['count']:,} audit entries.",
        "",
        "| step | rows | seconds |",
        "|---|---:|---:|",
    ]
    out += [f"| {x['step']} | {x['rows']:,} | {x['seconds']:,.1f} |" for x in s["steps"]]
    out += [
        f"| **all seeding** | **{s['rows']:,}** | **{s['seconds']:,.1f}** |",
        f"| VACUUM (ANALYZE) | | {s['vacuum_analyze_s']:,.1f} |",
        f"| CHECKPOINT | | {number(s['checkpoint_s'], 1)} |",
        "",
        "Sizes after seeding (MiB, with indexes): "
        + ", ".join(f"{k} {v:,}" for k, v in s["table_mib"].items()),
        "",
        "### Cleanup",
        "",
        "| figure | value |",
        "|---|---:|",
        f"| wall time of `opswatch cleanup` (start to exit) | **{number(c['wall_s'], 1)} s** |",
        f"| its report's `seconds` (in-process, the tenant's work) "
        f"| {number(figures.get('seconds'), 1)} s |",
        f"| the rest: interpreter, imports, connecting, runtime | {number(startup, 1)} s |",
        f"| deleted alerts | {number(figures.get('deleted_alerts'))} |",
        f"| deleted escalation events | {number(figures.get('deleted_escalation_events'))} |",
        f"| deleted inbox events | {number(figures.get('deleted_inbox_events'))} |",
        f"| deleted notices | {number(figures.get('deleted_notifications'))} |",
        f"| archived audit entries | {number(figures.get('archived_audit_entries'))} |",
        f"| kept for incidents | {number(figures.get('kept_for_incidents'))} |",
        f"| rows removed per second (all tables, wall time) | {number(c['rows_per_s'])} |",
        f"| alerts deleted per second (wall time) | {number(c['alerts_per_s'])} |",
        f"| alerts/s between 5% and 25% of them "
        f"| {number(c['progress']['alerts_per_s_5_to_25'])} |",
        f"| alerts/s between 75% and 95% of them | "
        f"{number(c['progress']['alerts_per_s_75_to_95'])} |",
        f"| first / last alert deleted after (sampled) "
        f"| {number(stages['alerts_begun_s'], 1)} / {number(stages['alerts_done_s'], 1)} s |",
        f"| first audit entry archived after (sampled) | {number(stages['audit_begun_s'], 1)} s |",
        "",
        "Progress (from `pg_stat_user_tables`, sampled every second):",
        "",
        "| s | alerts | inbox events | escalation events | audit archived | inbox backlog |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    out += [
        f"| {r['seconds']:,.1f} | {r['alerts']:,} | {r['inbox_events']:,} "
        f"| {r['escalation_events']:,} | {r['audit_archived']:,} | {r['backlog']:,} |"
        for r in c["progress"]["rows"]
    ]
    out += [
        "",
        "### Ingest before, during and after",
        "",
        "| phase | s | sent/s | 202 | accepted/s | 202 answer p50 / p99 ms "
        "| POST → processed p50 / p99 / max ms | received → processed p50 / p99 ms "
        "| not processed | checkpoints |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in report["phases"]:
        if p["phase"] == "idle":
            continue
        others = ", ".join(f"{k} {v:,}" for k, v in p["other_statuses"].items())
        out.append(
            f"| {p['phase']} | {p['seconds']:,.1f} | {number(p['sent_per_s'], 1)} "
            f"| {p['accepted']:,}{f' ({others})' if others else ''} "
            f"| **{number(p['accepted_per_s'], 1)}** "
            f"| {number(p['answer_p50_ms'], 1)} / {number(p['answer_p99_ms'], 1)} "
            f"| {number(p['processed_p50_ms'], 1)} / **{number(p['processed_p99_ms'], 1)}** "
            f"/ {number(p['processed_max_ms'], 1)} "
            f"| {number(p['received_to_processed_p50_ms'], 1)} / "
            f"{number(p['received_to_processed_p99_ms'], 1)} | {p['unprocessed']:,} "
            f"| {number(p.get('checkpoints'))} |"
        )
    load = report["load"]
    out += [
        "",
        f"{load['sent']:,} requests in all, {load['accepted']:,} answered 202, "
        f"{load['skipped']:,} sends skipped (sender over a second behind); backlog drained "
        f"{number(load['drained_after_s'], 1)} s after the load stopped.",
        "",
        f"202 answers slower than {SLOW_S * 1000:,.0f} ms, by second of the phase "
        "(second: slow of sent, slowest ms): "
        + "; ".join(
            f"{p['phase']} {p['slow_answers']:,}"
            + (
                " ("
                + ", ".join(
                    f"{x['second']}: {x['slow']}/{x['sent']}, {x['max_ms']:,.0f}"
                    for x in p["slow_seconds"][:8]
                )
                + (", ..." if len(p["slow_seconds"]) > 8 else "")
                + ")"
                if p["slow_seconds"]
                else ""
            )
            for p in report["phases"]
            if p["phase"] != "idle"
        ),
        "",
        "CPU, in cores (2 = the whole machine):",
        "",
    ]
    components = sorted({k for p in report["phases"] for k in p["cpu_cores"]})
    out += [
        "| component | " + " | ".join(p["phase"] for p in report["phases"]) + " |",
        "|---|" + "---:|" * len(report["phases"]),
    ]
    for component in components:
        values = " | ".join(
            f"{p['cpu_cores'][component]:.2f}" if component in p["cpu_cores"] else "-"
            for p in report["phases"]
        )
        out.append(f"| {component} | {values} |")
    out += [
        "",
        "### Plans (EXPLAIN ANALYZE, BUFFERS; one batch of 1,000, rolled back)",
        "",
        "| statement | scans | FK triggers | buffers | ms |",
        "|---|---|---|---|---:|",
    ]
    out += [plan_line(p) for p in report["plans_before"] + report["plans_after"]]
    out += ["", "### Checks", "", "| check | expected | found | |", "|---|---:|---:|---|"]
    out += [
        f"| {x['name']} | {x['expected']:,} | {number(x['found'])} "
        f"| {'ok' if x['ok'] else '**FAILED**'} |"
        for x in report["checks"]
    ]
    logs = report["log"]
    noisy = {
        name: {k: v for k, v in found.items() if v and k != "exceptions"}
        for name, found in logs.items()
    }
    out += [
        "",
        "Server logs: "
        + "; ".join(
            f"{name} " + (", ".join(f"{k} {v}" for k, v in counts.items()) or "clean")
            for name, counts in noisy.items()
        ),
    ]
    if report["failed_checks"]:
        out += ["", "**Failed:** " + "; ".join(report["failed_checks"])]
    else:
        out += ["", "Every check passed."]
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------
# Main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/cleanup.py",
        # The module docstring is the manual: --help shows it whole, line breaks kept.
        description=__doc__,
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "--alerts",
        type=at_least_one,
        default=DEFAULT_ALERTS,
        help="resolved alerts past retention (the other categories scale with it)",
    )
    parser.add_argument(
        "--audit", type=at_least_one, default=DEFAULT_AUDIT, help="audit entries past retention"
    )
    parser.add_argument(
        "--rate", type=positive, default=DEFAULT_RATE, help="distinct alerts posted per second"
    )
    parser.add_argument(
        "--idle-seconds",
        type=not_negative,
        default=DEFAULT_IDLE_S,
        help="servers up, no load, CPU only (0: none)",
    )
    parser.add_argument("--warmup-seconds", type=not_negative, default=DEFAULT_WARMUP_S)
    parser.add_argument("--baseline-seconds", type=positive, default=DEFAULT_BASELINE_S)
    parser.add_argument(
        "--after-seconds",
        type=not_negative,
        default=DEFAULT_AFTER_S,
        help="load after the cleanup exited (0: none)",
    )
    parser.add_argument(
        "--batch",
        type=at_least_one,
        help="passed to `opswatch cleanup --batch` if the CLI has it (default: the module's)",
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the database and the logs (names printed)"
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--api-workers", type=at_least_one, default=1)
    parser.add_argument("--worker-threads", type=at_least_one, default=8)
    parser.add_argument("--sample-every", type=positive, default=DEFAULT_SAMPLE_S, metavar="S")
    parser.add_argument("--cleanup-timeout", type=positive, default=DEFAULT_CLEANUP_TIMEOUT_S)
    parser.add_argument("--drain-timeout", type=positive, default=DEFAULT_DRAIN_TIMEOUT_S)
    args = parser.parse_args(argv)
    for option in ("postgres_url", "redis_url"):
        host = urlsplit(getattr(args, option)).hostname
        if host not in (LOOPBACK, "localhost"):
            parser.error(f"--{option.replace('_', '-')} must point at {LOOPBACK}, not {host!r}")
    return args


async def main_async(args: argparse.Namespace, command: str) -> int:
    task = asyncio.current_task()
    assert task is not None
    # SIGTERM unwinds like Ctrl-C: processes stopped, database dropped.
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        report = await run_bench(args, command)
    except BenchError as error:
        say(f"failed: {error}")
        return 1
    print(render(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2, default=str) + "\n")
        say(f"wrote {args.json}")
    return 1 if report["failed_checks"] else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    command = shlex.join(sys.orig_argv if argv is None else ["bench/cleanup.py", *argv])
    return run_main(lambda: main_async(args, command))


if __name__ == "__main__":
    raise SystemExit(main())
