"""Knowledge written by remediation agents: one entry per fingerprint, counted."""

from __future__ import annotations

import uuid
from datetime import datetime

from opswatch.alerts.normalize import NormalizedEvent
from opswatch.sql import Statement


async def record(
    sql: Statement, tenant_id: uuid.UUID, event: NormalizedEvent, severity: str, now: datetime
) -> uuid.UUID:
    """Create or update the incident whose solution is what the agent did."""
    agent = event.agent_metadata or {}
    action = str(agent.get("action_taken") or "").strip()
    rows = await sql.rows(
        "INSERT INTO incident (id, tenant_id, title, severity, status, summary, solution, tags, "
        "source, agent_fingerprint, agent_metadata, occurrences, resolved_at, created_at, "
        "updated_at) "
        "VALUES (:id, :tenant, :title, :severity, 'resolved', :summary, :solution, :tags, "
        "'agent', :fingerprint, :agent, 1, :now, :now, :now) "
        "ON CONFLICT (tenant_id, agent_fingerprint) DO UPDATE SET "
        "occurrences = incident.occurrences + 1, solution = excluded.solution, "
        "agent_metadata = excluded.agent_metadata, resolved_at = excluded.resolved_at, "
        "updated_at = excluded.updated_at "
        "RETURNING id",
        id=uuid.uuid4(),
        tenant=tenant_id,
        title=event.title,
        severity=severity,
        summary=event.description,
        solution=action or None,
        tags=["agent"],
        fingerprint=event.fingerprint,
        agent=agent,
        now=now,
    )
    value = rows[0]["id"]
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
