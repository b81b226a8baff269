"""What is left after the run, per category, and the checks that exactly the right rows went."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from .seed import Plan, escalations_of

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
