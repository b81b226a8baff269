"""Incidents as they happen: promoting alerts to one, updating it, resolving it
with its root cause and solution (spec 5), and the live feed of those changes.

Every change is audited in its own transaction and then published on the
``incidents`` topic; the Slack war room follows through a job, so Slack being
down never stops an incident from being recorded.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum

from tortoise.transactions import in_transaction

from opswatch import runtime, validation
from opswatch.alerts import actions
from opswatch.audit.actor import Actor
from opswatch.audit.log import record
from opswatch.errors import Conflict, InvalidInput, NotFound
from opswatch.events.base import LiveEvent
from opswatch.knowledge import matching
from opswatch.knowledge.links import link_matches, signed_link
from opswatch.models import (
    Alert,
    AlertStatus,
    Incident,
    IncidentSource,
    IncidentStatus,
    IncidentUpdate,
    Tenant,
    User,
)
from opswatch.queue import enqueue

TOPIC = "incidents"
WAR_ROOM_JOB = "slack.war_room"
MAX_PROMOTED = 100


class IncidentEventKind(StrEnum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    RESOLVED = "RESOLVED"


def missing_knowledge(incident: Incident) -> bool:
    """Resolved without what the next responder needs to know."""
    return incident.status is IncidentStatus.RESOLVED and not (
        (incident.root_cause or "").strip() and (incident.solution or "").strip()
    )


def incident_url(tenant_id: uuid.UUID, incident_id: uuid.UUID) -> str:
    """The incident's read-only page, signed so that it opens without a login (a
    search result's link); a runbook's signature never opens it, nor it a runbook."""
    return signed_link("incident", tenant_id, incident_id)


def incident_link_is_valid(tenant_id: str, incident_id: str, signature: str) -> bool:
    """Whether ``t`` and ``sig`` of an incident link are the ones ``incident_url`` made."""
    return link_matches("incident", tenant_id, incident_id, signature)


async def publish(incident: Incident, kind: IncidentEventKind) -> str:
    return await runtime.current().events.publish(
        LiveEvent(
            topic=TOPIC,
            tenant_id=str(incident.tenant_id),  # type: ignore[attr-defined]
            kind=kind.value,
            data={"incident_id": str(incident.id)},
        )
    )


async def changed(incident: Incident, *, was: IncidentStatus) -> None:
    """After an edit: tell subscribers, and the war room (a resolution without root
    cause and solution gets the prompt there)."""
    resolved = incident.status is IncidentStatus.RESOLVED and was is not IncidentStatus.RESOLVED
    await publish(incident, IncidentEventKind.RESOLVED if resolved else IncidentEventKind.UPDATED)
    if incident.slack_thread_ts or incident.source is IncidentSource.PROMOTION:
        await enqueue(WAR_ROOM_JOB, incident_id=str(incident.id))


async def get_incident(tenant: Tenant, incident_id: str, field: str = "id") -> Incident:
    try:
        found = await Incident.get_or_none(id=uuid.UUID(str(incident_id)), tenant=tenant)
    except ValueError:
        found = None
    if found is None:
        raise NotFound(f"no incident {incident_id!r}", field=field)
    return found


async def promote(
    *,
    tenant: Tenant,
    alert_ids: list[str],
    title: str | None,
    user: User | None,
    actor: Actor,
) -> Incident:
    """One incident for these alerts: linked, with a war room, escalated if configured."""
    alerts = await _promotable(tenant, alert_ids)
    primary = max(alerts, key=lambda a: (a.severity.rank, -a.created_at.timestamp()))
    name = validation.optional_text("title", title, max_length=500) or primary.title
    async with in_transaction() as connection:
        incident = await Incident.create(
            tenant=tenant,
            title=name,
            severity=primary.severity,
            status=IncidentStatus.INVESTIGATING,
            summary=primary.description or "",
            source=IncidentSource.PROMOTION,
            commander=user,
            match_rule=matching_rule_of(primary),
            using_db=connection,
        )
        linked = (
            await Alert.filter(id__in=[a.id for a in alerts], incident_id=None)
            .using_db(connection)
            .update(incident_id=incident.id)
        )
        if linked != len(alerts):  # another promotion took one of them meanwhile
            raise Conflict("an alert was promoted to another incident meanwhile", field="alertIds")
        await IncidentUpdate.create(
            tenant=tenant,
            incident=incident,
            author=user,
            kind="promoted",
            text="Promoted from " + ", ".join(a.short_id for a in alerts),
            using_db=connection,
        )
        await record(
            tenant_id=tenant.id,
            actor=actor,
            action="incident.promoted",
            target_type="incident",
            target_id=incident.id,
            data={"title": name, "alert_ids": [str(a.id) for a in alerts]},
            connection=connection,
        )
    await publish(incident, IncidentEventKind.CREATED)
    await enqueue(WAR_ROOM_JOB, incident_id=str(incident.id))
    if primary.escalation_policy_id is not None and primary.status is not AlertStatus.RESOLVED:  # type: ignore[attr-defined]
        # A major incident brings in the next tier of the primary alert's policy now.
        await actions.request_escalation(alert=primary, actor=actor)
    return incident


def matching_rule_of(alert: Alert) -> dict[str, object]:
    """The promoted incident becomes the Known Solution of alerts like its primary
    (once it has a solution): same alertname, same namespace and service labels."""
    labels = alert.labels or {}
    return {
        "alertname": str(labels.get("alertname") or alert.title),
        "labels": {k: str(labels[k]) for k in ("namespace", "service") if labels.get(k)},
    }


async def _promotable(tenant: Tenant, alert_ids: list[str]) -> list[Alert]:
    wanted = list(dict.fromkeys(alert_ids))
    if not wanted:
        raise InvalidInput("alertIds must name at least one alert", field="alertIds")
    if len(wanted) > MAX_PROMOTED:
        raise InvalidInput(f"alertIds: at most {MAX_PROMOTED} alerts", field="alertIds")
    alerts = []
    for alert_id in wanted:
        try:
            alerts.append(await actions.get_alert(tenant=tenant, alert_id=alert_id))
        except NotFound:
            raise NotFound(f"no alert {alert_id!r}", field="alertIds") from None
    taken = [a.short_id for a in alerts if a.incident_id is not None]  # type: ignore[attr-defined]
    if taken:
        raise Conflict(f"already part of an incident: {', '.join(taken)}", field="alertIds")
    return alerts


async def resolve(
    *,
    incident: Incident,
    root_cause: str | None,
    solution: str | None,
    user: User | None,
    actor: Actor,
    require_knowledge: bool = True,
) -> Incident:
    """Resolved with its root cause and solution; without them (when allowed) it
    stays flagged as missing knowledge."""
    cause = validation.optional_text("rootCause", root_cause, max_length=20_000)
    fix = validation.optional_text("solution", solution, max_length=20_000)
    if require_knowledge and cause is None:
        raise InvalidInput("rootCause: say what caused it", field="rootCause")
    if require_knowledge and fix is None:
        raise InvalidInput("solution: say what fixed it", field="solution")
    now = datetime.now(UTC)
    values: dict[str, object] = {"status": IncidentStatus.RESOLVED, "updated_at": now}
    if incident.resolved_at is None:
        values["resolved_at"] = now
    if cause is not None:
        values["root_cause"] = cause
    if fix is not None:
        values["solution"] = fix
    async with in_transaction() as connection:
        await Incident.filter(id=incident.id).using_db(connection).update(**values)
        await IncidentUpdate.create(
            tenant_id=incident.tenant_id,  # type: ignore[attr-defined]
            incident=incident,
            author=user,
            kind="resolved",
            text=f"Root cause: {cause or '(not given)'}\nSolution: {fix or '(not given)'}",
            using_db=connection,
        )
        await record(
            tenant_id=incident.tenant_id,  # type: ignore[attr-defined]
            actor=actor,
            action="incident.resolved",
            target_type="incident",
            target_id=incident.id,
            data={
                "before": {"status": incident.status.value},
                "after": {"status": "resolved", "root_cause": cause, "solution": fix},
            },
            connection=connection,
        )
    await incident.refresh_from_db()
    matching.forget(incident.tenant_id)  # type: ignore[attr-defined]
    await publish(incident, IncidentEventKind.RESOLVED)
    await enqueue(WAR_ROOM_JOB, incident_id=str(incident.id))
    return incident
