"""Data retention (spec 6), per tenant:

- resolved alerts older than ``retention_days_alerts`` are deleted with their
  escalation events and inbox events (inbox events that opened no alert, and
  notices, go by the same age); alerts linked to an incident stay;
- audit entries older than ``retention_days_audit`` move to the archive table
  (and, with an export directory, also to gzipped JSON lines);
- incidents and runbooks are never deleted.

Work goes in bounded batches, each its own short transaction, so a run over
millions of rows never holds long locks or blocks ingest, and a run that
crashes loses nothing: the next one carries on. Two runs at once split the
rows between them (PostgreSQL: ``FOR UPDATE SKIP LOCKED``; SQLite has one
writer), so each row is deleted or archived once.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tortoise.transactions import in_transaction

from opswatch.audit.actor import Actor
from opswatch.audit.log import record
from opswatch.audit.retention import retention_of
from opswatch.models import Tenant
from opswatch.sql import Statement, statement

BATCH = 1_000
_AUDIT_COLUMNS = (
    "id, tenant_id, actor_type, actor_id, actor_name, action, target_type, target_id, "
    "source, data, created_at"
)


@dataclass
class TenantReport:
    tenant: str
    alerts_before: str  # resolved before this instant are deleted
    audit_before: str  # written before this instant are archived
    deleted_alerts: int = 0
    deleted_escalation_events: int = 0
    deleted_inbox_events: int = 0
    deleted_notifications: int = 0
    archived_audit_entries: int = 0
    exported_to: str | None = None
    seconds: float = 0.0
    dry_run: bool = False
    kept_for_incidents: int = field(default=0)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


async def cleanup(
    *,
    as_of: datetime | None = None,
    tenant_slug: str | None = None,
    dry_run: bool = False,
    export_dir: Path | None = None,
    actor: Actor | None = None,
    batch: int = BATCH,
) -> list[TenantReport]:
    moment = as_of or datetime.now(UTC)
    query = Tenant.all().order_by("slug")
    if tenant_slug is not None:
        query = query.filter(slug=tenant_slug)
    reports = []
    for tenant in await query:
        started = time.monotonic()
        alert_days, audit_days = retention_of(tenant)
        report = TenantReport(
            tenant=tenant.slug,
            alerts_before=(moment - timedelta(days=alert_days)).isoformat(),
            audit_before=(moment - timedelta(days=audit_days)).isoformat(),
            dry_run=dry_run,
        )
        alerts_cutoff = moment - timedelta(days=alert_days)
        audit_cutoff = moment - timedelta(days=audit_days)
        if dry_run:
            await _count(tenant, alerts_cutoff, audit_cutoff, report)
        else:
            report.kept_for_incidents = await _kept(tenant, alerts_cutoff)
            await _delete_alerts(tenant, alerts_cutoff, report, batch)
            await _delete_leftovers(tenant, alerts_cutoff, report, batch)
            await _archive_audit(tenant, audit_cutoff, report, batch, moment, export_dir)
        report.seconds = round(time.monotonic() - started, 3)
        if not dry_run:
            await record(
                tenant_id=tenant.id,
                actor=actor or Actor.system(),
                action="retention.cleanup",
                target_type="tenant",
                target_id=tenant.id,
                data=report.as_json(),
            )
        reports.append(report)
    return reports


def _lock(sql: Statement) -> str:
    return "" if sql.sqlite else " FOR UPDATE SKIP LOCKED"


async def _ids(sql: Statement, query: str, **params: Any) -> list[Any]:
    return [row["id"] for row in await sql.rows(query, **params)]


async def _delete_alerts(
    tenant: Tenant, cutoff: datetime, report: TenantReport, batch: int
) -> None:
    while True:
        async with in_transaction() as connection:
            sql = Statement(connection)
            ids = await _ids(
                sql,
                "SELECT id FROM alert WHERE tenant_id = :tenant AND status = 'resolved' "  # noqa: S608
                "AND resolved_at < :cutoff AND incident_id IS NULL "
                f"ORDER BY resolved_at LIMIT {int(batch)}{_lock(sql)}",
                tenant=tenant.id,
                cutoff=cutoff,
            )
            if not ids:
                return
            report.deleted_escalation_events += await _delete(
                sql, "escalation_event", "alert_id", ids
            )
            report.deleted_inbox_events += await _delete(sql, "alert_event", "alert_id", ids)
            report.deleted_alerts += await _delete(sql, "alert", "id", ids)


async def _delete_leftovers(
    tenant: Tenant, cutoff: datetime, report: TenantReport, batch: int
) -> None:
    """Inbox events that opened no alert, and notices, by the same age."""
    for table, column, counter, extra in (
        ("alert_event", "received_at", "deleted_inbox_events", "AND processed_at IS NOT NULL "),
        ("notification", "created_at", "deleted_notifications", ""),
    ):
        while True:
            async with in_transaction() as connection:
                sql = Statement(connection)
                ids = await _ids(
                    sql,
                    f"SELECT id FROM {table} WHERE tenant_id = :tenant "  # noqa: S608
                    f"AND {column} < :cutoff {extra}"
                    + ("AND alert_id IS NULL " if table == "alert_event" else "")
                    + f"LIMIT {int(batch)}{_lock(sql)}",
                    tenant=tenant.id,
                    cutoff=cutoff,
                )
                if not ids:
                    break
                deleted = await _delete(sql, table, "id", ids)
                setattr(report, counter, getattr(report, counter) + deleted)


async def _archive_audit(
    tenant: Tenant,
    cutoff: datetime,
    report: TenantReport,
    batch: int,
    now: datetime,
    export_dir: Path | None,
) -> None:
    export = None
    if export_dir is not None:
        await asyncio.to_thread(export_dir.mkdir, parents=True, exist_ok=True)
        stamp = now.strftime("%Y%m%dT%H%M%SZ")
        export = export_dir / f"audit-{tenant.slug}-{stamp}-{uuid.uuid4().hex[:6]}.jsonl.gz"
    while True:
        async with in_transaction() as connection:
            sql = Statement(connection)
            rows = await sql.rows(
                f"SELECT {_AUDIT_COLUMNS} FROM audit_log WHERE tenant_id = :tenant "  # noqa: S608
                f"AND created_at < :cutoff ORDER BY created_at LIMIT {int(batch)}{_lock(sql)}",
                tenant=tenant.id,
                cutoff=cutoff,
            )
            if not rows:
                break
            ids = [r["id"] for r in rows]
            marks, params = _in(ids)
            # Written before the commit: a crash may repeat lines in an export,
            # never lose an entry from the archive.
            if export is not None:
                await asyncio.to_thread(_export, export, rows)
            await sql.rows(
                f"INSERT INTO audit_log_archive ({_AUDIT_COLUMNS}, archived_at) "  # noqa: S608
                f"SELECT {_AUDIT_COLUMNS}, :archived_at FROM audit_log WHERE id IN ({marks})",
                archived_at=now,
                **params,
            )
            report.archived_audit_entries += await _delete(sql, "audit_log", "id", ids)
    if export is not None and await asyncio.to_thread(export.exists):
        report.exported_to = str(export)


def _export(path: Path, rows: list[dict[str, Any]]) -> None:
    with gzip.open(path, "at", encoding="utf-8") as out:
        for row in rows:
            entry = dict(row)
            if isinstance(entry.get("data"), str):  # JSON as the driver hands it over
                entry["data"] = json.loads(entry["data"])
            out.write(json.dumps(entry, default=str, sort_keys=True) + "\n")


async def _count(
    tenant: Tenant, alerts_cutoff: datetime, audit_cutoff: datetime, report: TenantReport
) -> None:
    sql = statement()
    old = "FROM alert WHERE tenant_id = :tenant AND status = 'resolved' AND resolved_at < :cutoff"

    async def count(query: str, cutoff: datetime) -> int:
        rows = await sql.rows(query, tenant=tenant.id, cutoff=cutoff)
        return int(rows[0]["n"])

    report.deleted_alerts = await count(
        f"SELECT COUNT(*) AS n {old} AND incident_id IS NULL", alerts_cutoff
    )
    report.kept_for_incidents = await _kept(tenant, alerts_cutoff)
    doomed = f"SELECT id {old} AND incident_id IS NULL"
    report.deleted_escalation_events = await count(
        f"SELECT COUNT(*) AS n FROM escalation_event WHERE alert_id IN ({doomed})",  # noqa: S608
        alerts_cutoff,
    )
    report.deleted_inbox_events = await count(
        "SELECT COUNT(*) AS n FROM alert_event WHERE tenant_id = :tenant AND "  # noqa: S608
        f"(alert_id IN ({doomed}) OR (alert_id IS NULL AND processed_at IS NOT NULL "
        "AND received_at < :cutoff))",
        alerts_cutoff,
    )
    report.deleted_notifications = await count(
        "SELECT COUNT(*) AS n FROM notification WHERE tenant_id = :tenant AND created_at < :cutoff",
        alerts_cutoff,
    )
    report.archived_audit_entries = await count(
        "SELECT COUNT(*) AS n FROM audit_log WHERE tenant_id = :tenant AND created_at < :cutoff",
        audit_cutoff,
    )


async def _kept(tenant: Tenant, cutoff: datetime) -> int:
    rows = await statement().rows(
        "SELECT COUNT(*) AS n FROM alert WHERE tenant_id = :tenant AND status = 'resolved' "
        "AND resolved_at < :cutoff AND incident_id IS NOT NULL",
        tenant=tenant.id,
        cutoff=cutoff,
    )
    return int(rows[0]["n"])


def _in(ids: list[Any]) -> tuple[str, dict[str, Any]]:
    params = {f"id{i}": value for i, value in enumerate(ids)}
    return ", ".join(f":id{i}" for i in range(len(ids))), params


async def _delete(sql: Statement, table: str, column: str, ids: list[Any]) -> int:
    """Delete the rows whose ``column`` is one of ``ids``; how many there were."""
    marks, params = _in(ids)
    # Only fixed table and column names and ":name" markers are interpolated.
    rows = await sql.rows(
        f"DELETE FROM {table} WHERE {column} IN ({marks}) RETURNING id",  # noqa: S608
        **params,
    )
    return len(rows)
