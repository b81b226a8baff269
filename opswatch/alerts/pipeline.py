"""Processing inbox events: dedup, enrich, persist, then publish.

Every statement that decides "new alert or repeat" is enforced by the
database (the partial unique index on open alerts), and an inbox event is
claimed and marked processed in the same transaction as its effect, so
processing an event twice, or in two workers at once, changes nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from opswatch.alerts.enrich import Enricher
from opswatch.alerts.live import AlertEventKind, publish_alert_event
from opswatch.alerts.normalize import NormalizedEvent
from opswatch.alerts.shortid import new_short_id
from opswatch.knowledge import agent as agent_knowledge
from opswatch.models import AlertEvent, AlertStatus, Tenant
from opswatch.sql import Statement

log = logging.getLogger(__name__)

MAX_INSERT_ATTEMPTS = 8


@dataclass(frozen=True)
class Outcome:
    event_id: uuid.UUID
    tenant_id: uuid.UUID
    alert_id: uuid.UUID | None
    kind: AlertEventKind | None  # None: nothing changed (e.g. resolve of an unknown alert)
    label: str


async def process_events(event_ids: Sequence[str]) -> list[Outcome]:
    ids = [uuid.UUID(i) for i in event_ids]
    async with in_transaction() as connection:
        sql = Statement(connection)
        claimed = await _claim(sql, ids)
        enrichers: dict[uuid.UUID, Enricher] = {}
        outcomes = []
        for event in claimed:
            tenant_id: uuid.UUID = event.tenant_id  # type: ignore[attr-defined]
            if tenant_id not in enrichers:
                tenant = await Tenant.get(id=tenant_id, using_db=connection)
                enrichers[tenant_id] = await Enricher.for_tenant(tenant)
            outcome = await _apply(sql, event, enrichers[tenant_id])
            await (
                AlertEvent.filter(id=event.id)
                .using_db(connection)
                .update(
                    processed_at=datetime.now(UTC),
                    outcome=outcome.label,
                    alert_id=outcome.alert_id,
                    attempts=event.attempts + 1,
                )
            )
            outcomes.append(outcome)
    for outcome in outcomes:
        if outcome.kind is not None and outcome.alert_id is not None:
            await publish_alert_event(
                tenant_id=outcome.tenant_id, alert_id=outcome.alert_id, kind=outcome.kind
            )
    return outcomes


async def _claim(sql: Statement, ids: list[uuid.UUID]) -> list[AlertEvent]:
    """Unprocessed events among ``ids``, locked for this transaction (PostgreSQL) so a
    concurrent worker skips them; SQLite serialises writers anyway."""
    query = AlertEvent.filter(id__in=ids, processed_at__isnull=True).using_db(sql.connection)
    if not sql.sqlite:
        query = query.select_for_update(skip_locked=True)
    rows = await query.order_by("received_at", "id")
    # Every transaction takes alert row locks in the same global order, so two
    # batches touching the same fingerprints wait for each other but never
    # deadlock; per fingerprint, events still apply in the order they arrived.
    return sorted(rows, key=lambda r: (str(r.tenant_id), r.fingerprint, r.received_at))  # type: ignore[attr-defined]


async def _apply(sql: Statement, row: AlertEvent, enricher: Enricher) -> Outcome:
    event = NormalizedEvent.from_json(row.normalized)
    tenant_id: uuid.UUID = row.tenant_id  # type: ignore[attr-defined]

    def outcome(alert_id: uuid.UUID | None, kind: AlertEventKind | None, label: str) -> Outcome:
        return Outcome(row.id, tenant_id, alert_id, kind, label)

    if event.status is None:
        return outcome(None, None, "ignored")
    now = datetime.now(UTC)
    agent = event.agent_metadata or {}
    if event.status is AlertStatus.RESOLVED and agent.get("auto_resolved"):
        alert_id = await _resolve_or_record(sql, tenant_id, event, enricher, now)
        severity = enricher.enrich(event).severity.value
        incident_id = await agent_knowledge.record(sql, tenant_id, event, severity, now)
        await sql.rows(
            "UPDATE alert SET known_solution_id = :incident WHERE id = :id",
            incident=incident_id,
            id=alert_id,
        )
        return outcome(alert_id, AlertEventKind.RESOLVED, "agent_resolved")
    if event.status is AlertStatus.RESOLVED:
        resolved = await _resolve_open(sql, tenant_id, event, now)
        if resolved is None:
            return outcome(None, None, "no_open_alert")
        return outcome(resolved, AlertEventKind.RESOLVED, "resolved")

    alert_id, created = await _fire(sql, tenant_id, event, enricher, now)
    if event.status is AlertStatus.ACKNOWLEDGED:
        acknowledged = await sql.rows(
            "UPDATE alert SET status = 'acknowledged', acknowledged_at = :now, updated_at = :now, "
            "escalation_state = CASE WHEN escalation_state = 'active' THEN 'stopped' "
            "ELSE escalation_state END, escalation_next_at = NULL "
            "WHERE id = :id AND status = 'firing' RETURNING id",
            now=now,
            id=alert_id,
        )
        if acknowledged:
            return outcome(alert_id, AlertEventKind.ACKNOWLEDGED, "acknowledged")
    if created:
        return outcome(alert_id, AlertEventKind.CREATED, "created")
    return outcome(alert_id, AlertEventKind.UPDATED, "repeated")


_REPEAT = (
    "UPDATE alert SET occurrences = occurrences + 1, last_received_at = :now, "
    "title = :title, description = :description, severity = :severity, labels = :labels, "
    "annotations = :annotations, runbook_url = COALESCE(:runbook_url, runbook_url), "
    "updated_at = :now "
    "WHERE tenant_id = :tenant AND fingerprint = :fingerprint AND status <> 'resolved' "
    "RETURNING id"
)

_INSERT = (
    "INSERT INTO alert (id, tenant_id, fingerprint, short_id, title, description, severity, "
    "status, source, source_format, labels, annotations, runbook_url, group_key, "
    "generator_url, external_url, starts_at, ends_at, first_received_at, last_received_at, "
    "occurrences, service_id, agent_metadata, escalation_state, escalation_tier, "
    "escalation_cycle, notify_pending, created_at, updated_at, resolved_at) "
    "VALUES (:id, :tenant, :fingerprint, :short_id, :title, :description, :severity, "
    ":status, :source, :source_format, :labels, :annotations, :runbook_url, :group_key, "
    ":generator_url, :external_url, :starts_at, :ends_at, :now, :now, "
    "1, :service, :agent_metadata, 'none', 0, 0, :notify, :now, :now, :resolved_at) "
    "ON CONFLICT DO NOTHING RETURNING id"
)


async def _fire(
    sql: Statement,
    tenant_id: uuid.UUID,
    event: NormalizedEvent,
    enricher: Enricher,
    now: datetime,
) -> tuple[uuid.UUID, bool]:
    """Repeat the open alert, or open a new one. Returns (alert id, created).

    Update first, insert if there was nothing to update. An insert that hits
    a unique index does nothing: either another worker just opened the same
    alert (the next update finds it) or the short id was taken (a new one is
    drawn). Both are settled by going round again.
    """
    enrichment = enricher.enrich(event)
    for _ in range(MAX_INSERT_ATTEMPTS):
        repeated = await sql.rows(
            _REPEAT,
            now=now,
            title=event.title,
            description=event.description,
            severity=enrichment.severity.value,
            labels=event.labels,
            annotations=event.annotations,
            runbook_url=enrichment.runbook_url,
            tenant=tenant_id,
            fingerprint=event.fingerprint,
        )
        if repeated:
            return _as_uuid(repeated[0]["id"]), False
        inserted = await _insert(sql, tenant_id, event, enricher, now, AlertStatus.FIRING)
        if inserted is not None:
            return inserted, True
    raise RuntimeError(f"could not open or repeat alert {event.fingerprint!r}")


async def _insert(
    sql: Statement,
    tenant_id: uuid.UUID,
    event: NormalizedEvent,
    enricher: Enricher,
    now: datetime,
    status: AlertStatus,
) -> uuid.UUID | None:
    enrichment = enricher.enrich(event)
    new_id = uuid.uuid4()
    rows = await sql.rows(
        _INSERT,
        id=new_id,
        tenant=tenant_id,
        fingerprint=event.fingerprint,
        short_id=new_short_id(),
        title=event.title,
        description=event.description,
        severity=enrichment.severity.value,
        status=status.value,
        source=event.source[:200],
        source_format=event.source_format.value,
        labels=event.labels,
        annotations=event.annotations,
        runbook_url=enrichment.runbook_url,
        group_key=event.group_key,
        generator_url=event.generator_url,
        external_url=event.external_url,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        now=now,
        service=enrichment.service_id,
        agent_metadata=event.agent_metadata,
        notify=True,
        resolved_at=now if status is AlertStatus.RESOLVED else None,
    )
    return new_id if rows else None


async def _resolve_open(
    sql: Statement, tenant_id: uuid.UUID, event: NormalizedEvent, now: datetime
) -> uuid.UUID | None:
    rows = await sql.rows(
        "UPDATE alert SET status = 'resolved', resolved_at = :now, ends_at = :ends_at, "
        "last_received_at = :now, updated_at = :now, notify_pending = :notify, "
        "agent_metadata = COALESCE(:agent_metadata, agent_metadata), "
        "escalation_state = CASE WHEN escalation_state = 'active' THEN 'stopped' "
        "ELSE escalation_state END, escalation_next_at = NULL "
        "WHERE tenant_id = :tenant AND fingerprint = :fingerprint AND status <> 'resolved' "
        "RETURNING id",
        now=now,
        ends_at=event.ends_at or now,
        notify=True,
        agent_metadata=event.agent_metadata,
        tenant=tenant_id,
        fingerprint=event.fingerprint,
    )
    return _as_uuid(rows[0]["id"]) if rows else None


async def _resolve_or_record(
    sql: Statement,
    tenant_id: uuid.UUID,
    event: NormalizedEvent,
    enricher: Enricher,
    now: datetime,
) -> uuid.UUID:
    """An agent fixed something: resolve the open alert, or store one already resolved."""
    for _ in range(MAX_INSERT_ATTEMPTS):
        resolved = await _resolve_open(sql, tenant_id, event, now)
        if resolved is not None:
            return resolved
        inserted = await _insert(sql, tenant_id, event, enricher, now, AlertStatus.RESOLVED)
        if inserted is not None:
            return inserted
    raise RuntimeError(f"could not record agent alert {event.fingerprint!r}")


def _as_uuid(value: object) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
