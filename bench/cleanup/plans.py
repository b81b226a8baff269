"""The cleanup's statements (written out again from ``opswatch/audit/cleanup.py``) under
``EXPLAIN (ANALYZE, BUFFERS)``."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import asyncpg

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
