"""The statements that turn events into alert rows. Each is one atomic SQL
statement whose outcome the database decides (never a read-then-write)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from opswatch.alerts.enrich import Enrichment
from opswatch.alerts.normalize import NormalizedEvent
from opswatch.alerts.shortid import new_short_id
from opswatch.models import Alert, AlertStatus, EscalationState
from opswatch.sql import Statement

MAX_INSERT_ATTEMPTS = 8

# The columns a new alert is written with, and their PostgreSQL types.
_COLUMNS = (
    ("id", "uuid"),
    ("tenant_id", "uuid"),
    ("fingerprint", "text"),
    ("short_id", "text"),
    ("title", "text"),
    ("description", "text"),
    ("severity", "text"),
    ("status", "text"),
    ("source", "text"),
    ("source_format", "text"),
    ("labels", "jsonb"),
    ("annotations", "jsonb"),
    ("runbook_url", "text"),
    ("group_key", "text"),
    ("generator_url", "text"),
    ("external_url", "text"),
    ("starts_at", "timestamptz"),
    ("ends_at", "timestamptz"),
    ("first_received_at", "timestamptz"),
    ("last_received_at", "timestamptz"),
    ("occurrences", "int"),
    ("service_id", "uuid"),
    ("agent_metadata", "jsonb"),
    ("oncall_user_id", "uuid"),
    ("escalation_policy_id", "uuid"),
    ("escalation_state", "text"),
    ("escalation_next_at", "timestamptz"),
    ("known_solution_id", "uuid"),
    ("escalation_tier", "int"),
    ("escalation_cycle", "int"),
    ("notify_pending", "bool"),
    ("created_at", "timestamptz"),
    ("updated_at", "timestamptz"),
    ("resolved_at", "timestamptz"),
)


@dataclass(frozen=True)
class FiringRun:
    """Consecutive firing events of one fingerprint, applied as one occurrence bump."""

    tenant_id: uuid.UUID
    latest: NormalizedEvent
    enrichment: Enrichment
    count: int
    first_received_at: datetime
    last_received_at: datetime


def _row(
    new_id: uuid.UUID, short_id: str, run: FiringRun, status: AlertStatus, now: datetime
) -> tuple[object, ...]:
    """A new alert's values, in _COLUMNS order."""
    event = run.latest
    enrichment = run.enrichment
    # An alert that opens firing under a policy is due for tier 1 at once.
    escalating = status is AlertStatus.FIRING and enrichment.escalation_policy_id is not None
    values: dict[str, object] = {
        "id": new_id,
        "tenant_id": run.tenant_id,
        "fingerprint": event.fingerprint,
        "short_id": short_id,
        "title": event.title,
        "description": event.description,
        "severity": enrichment.severity.value,
        "status": status.value,
        "source": event.source[:200],
        "source_format": event.source_format.value,
        "labels": event.labels,
        "annotations": event.annotations,
        "runbook_url": enrichment.runbook_url,
        "group_key": event.group_key,
        "generator_url": event.generator_url,
        "external_url": event.external_url,
        "starts_at": event.starts_at,
        "ends_at": event.ends_at,
        "first_received_at": run.first_received_at,
        "last_received_at": run.last_received_at,
        "occurrences": run.count,
        "service_id": enrichment.service_id,
        "agent_metadata": event.agent_metadata,
        "oncall_user_id": enrichment.oncall_user_id,
        "escalation_policy_id": enrichment.escalation_policy_id,
        "escalation_state": (EscalationState.ACTIVE if escalating else EscalationState.NONE).value,
        "escalation_next_at": run.last_received_at if escalating else None,
        "known_solution_id": enrichment.known_solution_id,
        "escalation_tier": 0,
        "escalation_cycle": 0,
        # Only tenants with Slack have a message to post; the others skip the sync.
        "notify_pending": enrichment.posts_to_slack,
        "created_at": now,
        "updated_at": now,
        "resolved_at": run.last_received_at if status is AlertStatus.RESOLVED else None,
    }
    return tuple(values[name] for name, _ in _COLUMNS)


async def upsert_firing(
    sql: Statement, runs: Sequence[FiringRun], now: datetime
) -> list[tuple[uuid.UUID, bool]]:
    """One statement for many fingerprints: open each alert, or count its repeats.

    Returns (alert id, created) per run, in order. Runs must have distinct
    (tenant, fingerprint) pairs and come sorted, so that concurrent batches lock
    rows in one order. A rare short-id collision fails the statement; the job is
    then retried whole with fresh short ids, which is safe as nothing committed.
    """
    new_ids = [uuid.uuid4() for _ in runs]
    short_ids = await _free_short_ids(sql, [run.tenant_id for run in runs])
    rows = await sql.insert_rows(
        "alert",
        _COLUMNS,
        [
            _row(new_id, short_id, run, AlertStatus.FIRING, now)
            for new_id, short_id, run in zip(new_ids, short_ids, runs, strict=True)
        ],
        "ON CONFLICT (tenant_id, fingerprint) WHERE status <> 'resolved' DO UPDATE SET "
        "occurrences = alert.occurrences + excluded.occurrences, "
        "last_received_at = excluded.last_received_at, title = excluded.title, "
        "description = excluded.description, severity = excluded.severity, "
        "labels = excluded.labels, annotations = excluded.annotations, "
        "runbook_url = COALESCE(excluded.runbook_url, alert.runbook_url), "
        # Who was on call when the alert opened stays; a repeat only fills a gap.
        "oncall_user_id = COALESCE(alert.oncall_user_id, excluded.oncall_user_id), "
        "known_solution_id = COALESCE(alert.known_solution_id, excluded.known_solution_id), "
        "updated_at = excluded.updated_at "
        "RETURNING id, tenant_id, fingerprint",
    )
    found = {(str(r["tenant_id"]), r["fingerprint"]): _as_uuid(r["id"]) for r in rows}
    result = []
    for new_id, run in zip(new_ids, runs, strict=True):
        alert_id = found[(str(run.tenant_id), run.latest.fingerprint)]
        result.append((alert_id, alert_id == new_id))
    return result


async def _free_short_ids(sql: Statement, tenant_ids: list[uuid.UUID]) -> list[str]:
    """Draw short ids and redraw those a tenant already uses, so an old tenant with
    many alerts does not make whole batches fail on the unique index. (Two batches
    drawing the same new id at once remains possible; then the job is retried.)"""
    drawn = [new_short_id() for _ in tenant_ids]
    for _ in range(MAX_INSERT_ATTEMPTS):
        taken = await _taken_short_ids(sql, tenant_ids, drawn)
        clashes = [i for i, t in enumerate(tenant_ids) if (str(t), drawn[i]) in taken]
        if not clashes:
            break
        for i in clashes:
            drawn[i] = new_short_id()
    return drawn


async def _taken_short_ids(
    sql: Statement, tenant_ids: list[uuid.UUID], drawn: list[str]
) -> set[tuple[str, str]]:
    if sql.sqlite:
        rows = await (
            Alert.filter(tenant_id__in=list(set(tenant_ids)), short_id__in=drawn)
            .using_db(sql.connection)
            .values_list("tenant_id", "short_id")
        )
        return {(str(tenant), short) for tenant, short in rows}
    # One probe of the (tenant_id, short_id) unique index per drawn id, whatever the
    # planner believes: a table that grew fast since its last ANALYZE looked small,
    # and the plain IN query read every alert of the tenant instead, at every batch.
    found = await sql.connection.execute_query_dict(
        "SELECT drawn.tenant_id, drawn.short_id "
        "FROM unnest($1::uuid[], $2::text[]) AS drawn(tenant_id, short_id) "
        "CROSS JOIN LATERAL (SELECT 1 FROM alert WHERE alert.tenant_id = drawn.tenant_id "
        "AND alert.short_id = drawn.short_id LIMIT 1) AS taken",
        [tenant_ids, drawn],
    )
    return {(str(row["tenant_id"]), row["short_id"]) for row in found}


async def insert_resolved(sql: Statement, run: FiringRun, now: datetime) -> uuid.UUID | None:
    """Store an alert already resolved (an agent fixed it); None if the short id was taken."""
    new_id = uuid.uuid4()
    rows = await sql.insert_rows(
        "alert",
        _COLUMNS,
        [_row(new_id, new_short_id(), run, AlertStatus.RESOLVED, now)],
        "ON CONFLICT DO NOTHING RETURNING id",
    )
    return new_id if rows else None


async def resolve_open(
    sql: Statement, tenant_id: uuid.UUID, event: NormalizedEvent, at: datetime
) -> uuid.UUID | None:
    rows = await sql.rows(
        "UPDATE alert SET status = 'resolved', resolved_at = :at, ends_at = :ends_at, "
        "last_received_at = :at, updated_at = :at, notify_pending = :notify, "
        "agent_metadata = COALESCE(:agent_metadata, agent_metadata), "
        "escalation_state = CASE WHEN escalation_state = 'active' THEN 'stopped' "
        "ELSE escalation_state END, escalation_next_at = NULL "
        "WHERE tenant_id = :tenant AND fingerprint = :fingerprint AND status <> 'resolved' "
        "RETURNING id",
        at=at,
        ends_at=event.ends_at or at,
        notify=True,
        agent_metadata=event.agent_metadata,
        tenant=tenant_id,
        fingerprint=event.fingerprint,
    )
    return _as_uuid(rows[0]["id"]) if rows else None


async def acknowledge_firing(sql: Statement, alert_id: uuid.UUID, at: datetime) -> bool:
    """Keep reported the alert acknowledged at its source."""
    rows = await sql.rows(
        "UPDATE alert SET status = 'acknowledged', acknowledged_at = :at, updated_at = :at, "
        "notify_pending = :notify, "
        "escalation_state = CASE WHEN escalation_state = 'active' THEN 'stopped' "
        "ELSE escalation_state END, escalation_next_at = NULL "
        "WHERE id = :id AND status = 'firing' RETURNING id",
        at=at,
        notify=True,
        id=alert_id,
    )
    return bool(rows)


async def link_known_solution(sql: Statement, alert_id: uuid.UUID, incident_id: uuid.UUID) -> None:
    await sql.rows(
        "UPDATE alert SET known_solution_id = :incident WHERE id = :id",
        incident=incident_id,
        id=alert_id,
    )


def _as_uuid(value: object) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
