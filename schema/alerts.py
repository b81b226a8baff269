"""Types of the alerts domain."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from opswatch import models
from opswatch.alerts import live
from resolvers.context import Info
from schema.audit import AuditEntry
from schema.enums import Severity
from schema.escalation import EscalationEvent, EscalationPolicy, EscalationState
from schema.knowledge import Incident
from schema.services import Service
from schema.users import User, load_user


@strawberry.enum
class AlertStatus(Enum):
    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


@strawberry.enum
class AlertEventKind(Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RESOLVED = "RESOLVED"
    ESCALATED = "ESCALATED"


@strawberry.type
class Alert:
    id: strawberry.ID
    short_id: str
    fingerprint: str
    title: str
    description: str
    severity: Severity
    status: AlertStatus
    source: str
    source_format: str
    labels: JSON
    annotations: JSON
    occurrences: int
    first_received_at: datetime
    last_received_at: datetime
    starts_at: datetime | None
    ends_at: datetime | None
    runbook_url: str | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    resolution_notes: str | None
    agent_metadata: JSON | None
    escalation_tier: int = strawberry.field(description="The tier last notified (0: none yet).")
    escalation_cycle: int
    escalation_state: EscalationState
    escalation_next_at: datetime | None = strawberry.field(
        description="When the next tier is due, while escalating."
    )
    generator_url: str | None
    service_id: strawberry.Private[uuid.UUID | None]
    incident_id: strawberry.Private[uuid.UUID | None]
    known_solution_id: strawberry.Private[uuid.UUID | None]
    acknowledged_by_id: strawberry.Private[uuid.UUID | None]
    resolved_by_id: strawberry.Private[uuid.UUID | None]
    oncall_user_id: strawberry.Private[uuid.UUID | None]
    escalation_policy_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field
    async def service(self, info: Info) -> Service | None:
        if self.service_id is None:
            return None
        row = await info.context.loaders.service.load(self.service_id)
        return Service.from_model(row) if row else None

    @strawberry.field
    async def incident(self, info: Info) -> Incident | None:
        return await _incident(info, self.incident_id)

    @strawberry.field(description="The knowledge entry whose solution matches this alert.")
    async def known_solution(self, info: Info) -> Incident | None:
        return await _incident(info, self.known_solution_id)

    @strawberry.field
    async def acknowledged_by(self, info: Info) -> User | None:
        return await load_user(info, self.acknowledged_by_id)

    @strawberry.field(description="Every attempt to reach someone, oldest first.")
    async def escalation_events(self, info: Info) -> list[EscalationEvent]:
        rows = await info.context.loaders.escalation_events.load(uuid.UUID(str(self.id)))
        return [EscalationEvent.from_model(row) for row in rows]

    @strawberry.field
    async def escalation_policy(self, info: Info) -> EscalationPolicy | None:
        if self.escalation_policy_id is None:
            return None
        row = await info.context.loaders.escalation_policy.load(self.escalation_policy_id)
        return EscalationPolicy.from_model(row) if row else None

    @strawberry.field(description="Who held the service roster's pager when the alert opened.")
    async def oncall_user(self, info: Info) -> User | None:
        return await load_user(info, self.oncall_user_id)

    @strawberry.field
    async def timeline(self, info: Info) -> list[AuditEntry]:
        """Who did what to this alert, oldest first (its audit entries, at most 200)."""
        rows = await info.context.loaders.alert_timeline.load(str(self.id))
        return [AuditEntry.from_model(row) for row in rows]

    @strawberry.field
    async def resolved_by(self, info: Info) -> User | None:
        return await load_user(info, self.resolved_by_id)

    @classmethod
    def from_model(cls, alert: models.Alert) -> Alert:
        return cls.from_snapshot(live.snapshot(alert))

    @classmethod
    def from_snapshot(cls, data: dict[str, Any]) -> Alert:
        """From the JSON-safe form that live events carry (``opswatch.alerts.live``)."""
        return cls(
            id=strawberry.ID(data["id"]),
            short_id=data["short_id"],
            fingerprint=data["fingerprint"],
            title=data["title"],
            description=data["description"],
            severity=Severity(data["severity"]),
            status=AlertStatus(data["status"]),
            source=data["source"],
            source_format=data["source_format"],
            labels=cast(JSON, data["labels"]),
            annotations=cast(JSON, data["annotations"]),
            occurrences=data["occurrences"],
            first_received_at=datetime.fromisoformat(data["first_received_at"]),
            last_received_at=datetime.fromisoformat(data["last_received_at"]),
            starts_at=live.time_of(data, "starts_at"),
            ends_at=live.time_of(data, "ends_at"),
            runbook_url=data["runbook_url"],
            acknowledged_at=live.time_of(data, "acknowledged_at"),
            resolved_at=live.time_of(data, "resolved_at"),
            resolution_notes=data["resolution_notes"],
            agent_metadata=cast(JSON, data["agent_metadata"]),
            escalation_tier=data["escalation_tier"],
            escalation_cycle=data["escalation_cycle"],
            generator_url=data["generator_url"],
            service_id=live.reference_of(data, "service_id"),
            incident_id=live.reference_of(data, "incident_id"),
            known_solution_id=live.reference_of(data, "known_solution_id"),
            acknowledged_by_id=live.reference_of(data, "acknowledged_by_id"),
            resolved_by_id=live.reference_of(data, "resolved_by_id"),
            oncall_user_id=live.reference_of(data, "oncall_user_id"),
            escalation_policy_id=live.reference_of(data, "escalation_policy_id"),
            escalation_state=EscalationState(data.get("escalation_state") or "none"),
            escalation_next_at=live.time_of(data, "escalation_next_at"),
        )


async def _incident(info: Info, incident_id: uuid.UUID | None) -> Incident | None:
    if incident_id is None:
        return None
    row = await info.context.loaders.incident.load(incident_id)
    return Incident.from_model(row) if row else None


@strawberry.type
class AlertEdge:
    cursor: str
    node: Alert


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class AlertConnection:
    edges: list[AlertEdge]
    page_info: PageInfo

    @strawberry.field
    def nodes(self) -> list[Alert]:
        return [edge.node for edge in self.edges]


@strawberry.input
class AlertFilter:
    status: list[AlertStatus] | None = None
    severity: list[Severity] | None = None
    service_id: strawberry.ID | None = None
    fingerprint: str | None = None
    text: str | None = strawberry.field(
        default=None, description="Case-insensitive match in the title."
    )
    received_after: datetime | None = None
    received_before: datetime | None = None


@strawberry.type
class AlertEvent:
    """One change to an alert, as streamed live; ``cursor`` resumes the feed."""

    kind: AlertEventKind
    cursor: str
    alert: Alert
