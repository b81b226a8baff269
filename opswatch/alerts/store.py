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

_COLUMNS = (
    "id, tenant_id, fingerprint, short_id, title, description, severity, status, source, "
    "source_format, labels, annotations, runbook_url, group_key, generator_url, external_url, "
    "starts_at, ends_at, first_received_at, last_received_at, occurrences, service_id, "
    "agent_metadata, oncall_user_id, escalation_policy_id, escalation_state, "
    "escalation_next_at, known_solution_id, escalation_tier, escalation_cycle, "
    "notify_pending, created_at, updated_at, resolved_at"
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


def _values(i: int) -> str:
    names = [
        "id", "tenant", "fingerprint", "short_id", "title", "description", "severity",
        "status", "source", "source_format", "labels", "annotations", "runbook_url",
        "group_key", "generator_url", "external_url", "starts_at", "ends_at", "first",
        "last", "count", "service", "agent_metadata", "oncall", "policy", "escalation",
        "due", "solution",
    ]  # fmt: skip
    marks = ", ".join(f":{name}_{i}" for name in names)
    return f"({marks}, 0, 0, :notify_{i}, :now, :now, :resolved_{i})"


def _params(
    i: int, new_id: uuid.UUID, short_id: str, run: FiringRun, status: AlertStatus
) -> dict[str, object]:
    event = run.latest
    escalating = status is AlertStatus.FIRING and run.enrichment.escalation_policy_id is not None
    return {
        f"id_{i}": new_id,
        f"tenant_{i}": run.tenant_id,
        f"fingerprint_{i}": event.fingerprint,
        f"short_id_{i}": short_id,
        f"title_{i}": event.title,
        f"description_{i}": event.description,
        f"severity_{i}": run.enrichment.severity.value,
        f"status_{i}": status.value,
        f"source_{i}": event.source[:200],
        f"source_format_{i}": event.source_format.value,
        f"labels_{i}": event.labels,
        f"annotations_{i}": event.annotations,
        f"runbook_url_{i}": run.enrichment.runbook_url,
        f"group_key_{i}": event.group_key,
        f"generator_url_{i}": event.generator_url,
        f"external_url_{i}": event.external_url,
        f"starts_at_{i}": event.starts_at,
        f"ends_at_{i}": event.ends_at,
        f"first_{i}": run.first_received_at,
        f"last_{i}": run.last_received_at,
        f"count_{i}": run.count,
        f"service_{i}": run.enrichment.service_id,
        f"agent_metadata_{i}": event.agent_metadata,
        f"oncall_{i}": run.enrichment.oncall_user_id,
        # An alert that opens firing under a policy is due for tier 1 at once.
        f"policy_{i}": run.enrichment.escalation_policy_id,
        f"escalation_{i}": (EscalationState.ACTIVE if escalating else EscalationState.NONE).value,
        f"due_{i}": run.last_received_at if escalating else None,
        f"solution_{i}": run.enrichment.known_solution_id,
        f"resolved_{i}": run.last_received_at if status is AlertStatus.RESOLVED else None,
        # Only tenants with Slack have a message to post; the others skip the sync.
        f"notify_{i}": run.enrichment.posts_to_slack,
    }


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
    params: dict[str, object] = {"now": now}
    for i, (new_id, run) in enumerate(zip(new_ids, runs, strict=True)):
        params.update(_params(i, new_id, short_ids[i], run, AlertStatus.FIRING))
    # Only column names and ":name" markers are interpolated; values are parameters.
    rows = await sql.rows(
        f"INSERT INTO alert ({_COLUMNS}) VALUES "  # noqa: S608
        + ", ".join(_values(i) for i in range(len(runs)))
        + " ON CONFLICT (tenant_id, fingerprint) WHERE status <> 'resolved' DO UPDATE SET "
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
        **params,
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
        taken = {
            (str(tenant), short)
            # tenant_id first: the (tenant_id, short_id) unique index answers this;
            # short_id alone would scan every alert ever kept.
            for tenant, short in await Alert.filter(
                tenant_id__in=list(set(tenant_ids)), short_id__in=drawn
            )
            .using_db(sql.connection)
            .values_list("tenant_id", "short_id")
        }
        clashes = [i for i, t in enumerate(tenant_ids) if (str(t), drawn[i]) in taken]
        if not clashes:
            break
        for i in clashes:
            drawn[i] = new_short_id()
    return drawn


async def insert_resolved(sql: Statement, run: FiringRun, now: datetime) -> uuid.UUID | None:
    """Store an alert already resolved (an agent fixed it); None if the short id was taken."""
    new_id = uuid.uuid4()
    rows = await sql.rows(
        f"INSERT INTO alert ({_COLUMNS}) VALUES {_values(0)} "  # noqa: S608
        "ON CONFLICT DO NOTHING RETURNING id",
        now=now,
        **_params(0, new_id, new_short_id(), run, AlertStatus.RESOLVED),
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
