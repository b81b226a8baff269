"""Types of the knowledge domain: incidents (the knowledge unit), search hits."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry

from opswatch import models
from opswatch.knowledge.incidents import missing_knowledge
from resolvers.context import Info
from schema.enums import Severity
from schema.users import User, load_user

if TYPE_CHECKING:
    from schema.alerts import Alert


@strawberry.enum
class IncidentStatus(Enum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    RESOLVED = "resolved"


@strawberry.enum
class IncidentSource(Enum):
    MANUAL = "manual"
    SLACK = "slack"
    AGENT = "agent"
    PROMOTION = "promotion"


@strawberry.type
class IncidentTimelineEntry:
    """One entry of an incident's timeline. (Called ``IncidentUpdate`` before that name
    went to the input of ``updateIncident``.)"""

    kind: str
    text: str
    created_at: datetime
    author_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field
    async def author(self, info: Info) -> User | None:
        return await load_user(info, self.author_id)


@strawberry.type
class Incident:
    id: strawberry.ID
    title: str
    severity: Severity
    status: IncidentStatus
    summary: str
    root_cause: str | None
    solution: str | None
    tags: list[str]
    match_rule: str | None = strawberry.field(
        description='Alerts it is the Known Solution of, e.g. "alertname=X, namespace=Y".'
    )
    source: IncidentSource
    occurrences: int
    missing_knowledge: bool = strawberry.field(
        description="Resolved without a root cause and a solution."
    )
    slack_thread: str | None = strawberry.field(description="The war room: channel:ts.")
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None
    commander_id: strawberry.Private[uuid.UUID | None]

    @strawberry.field
    async def commander(self, info: Info) -> User | None:
        return await load_user(info, self.commander_id)

    @strawberry.field(description="The alerts linked to it (at most 100, oldest first).")
    async def alerts(self, info: Info) -> list[Annotated[Alert, strawberry.lazy("schema.alerts")]]:
        from schema.alerts import Alert

        rows = await info.context.loaders.incident_alerts.load(uuid.UUID(str(self.id)))
        return [Alert.from_model(row) for row in rows]

    @strawberry.field(description="What happened, oldest first (at most 200 entries).")
    async def timeline(self, info: Info) -> list[IncidentTimelineEntry]:
        rows = await info.context.loaders.incident_updates.load(uuid.UUID(str(self.id)))
        return [
            IncidentTimelineEntry(
                kind=r.kind,
                text=r.text,
                created_at=r.created_at,
                author_id=r.author_id,  # type: ignore[attr-defined]
            )
            for r in rows
        ]

    @classmethod
    def from_model(cls, incident: models.Incident) -> Incident:
        return cls(
            id=strawberry.ID(str(incident.id)),
            title=incident.title,
            severity=Severity(incident.severity.value),
            status=IncidentStatus(incident.status.value),
            summary=incident.summary,
            root_cause=incident.root_cause,
            solution=incident.solution,
            tags=list(incident.tags or []),
            match_rule=rule_text(incident.match_rule),
            source=IncidentSource(incident.source.value),
            occurrences=incident.occurrences,
            missing_knowledge=missing_knowledge(incident),
            slack_thread=f"{incident.slack_channel}:{incident.slack_thread_ts}"
            if incident.slack_thread_ts
            else None,
            created_at=incident.created_at,
            updated_at=incident.updated_at,
            resolved_at=incident.resolved_at,
            commander_id=incident.commander_id,  # type: ignore[attr-defined]
        )


def rule_text(rule: dict[str, object] | None) -> str | None:
    """{"alertname": "X", "labels": {"namespace": "Y"}} -> "alertname=X, namespace=Y"."""
    if not rule:
        return None
    terms = [f"alertname={rule['alertname']}"] if rule.get("alertname") else []
    labels = rule.get("labels")
    if isinstance(labels, dict):
        terms += [f"{k}={v}" for k, v in labels.items()]
    return ", ".join(terms) or None


@strawberry.type
class IncidentEdge:
    cursor: str
    node: Incident


@strawberry.type
class IncidentPageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class IncidentConnection:
    edges: list[IncidentEdge]
    page_info: IncidentPageInfo

    @strawberry.field
    def nodes(self) -> list[Incident]:
        return [edge.node for edge in self.edges]


@strawberry.input
class IncidentFilter:
    status: list[IncidentStatus] | None = None
    severity: list[Severity] | None = None
    source: list[IncidentSource] | None = None
    missing_knowledge: bool | None = None
    text: str | None = strawberry.field(
        default=None, description="Case-insensitive match in the title."
    )


@strawberry.input
class IncidentInput:
    title: str
    severity: Severity = Severity.WARNING
    status: IncidentStatus | None = None
    summary: str | None = None
    root_cause: str | None = None
    solution: str | None = None
    tags: list[str] | None = None
    match_rule: str | None = strawberry.field(
        default=None, description='label=value pairs: "alertname=X, namespace=Y".'
    )


@strawberry.input(
    name="IncidentUpdate",
    description="A field left out is unchanged; null clears rootCause, solution or matchRule.",
)
class IncidentChanges:
    title: str | None = strawberry.UNSET
    severity: Severity | None = strawberry.UNSET
    status: IncidentStatus | None = strawberry.UNSET
    summary: str | None = strawberry.UNSET
    root_cause: str | None = strawberry.UNSET
    solution: str | None = strawberry.UNSET
    tags: list[str] | None = strawberry.UNSET
    match_rule: str | None = strawberry.field(
        default=strawberry.UNSET,
        description='label=value pairs: "alertname=X, namespace=Y"; null or "" clears it.',
    )


@strawberry.enum
class IncidentEventKind(Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    RESOLVED = "RESOLVED"


@strawberry.type
class IncidentEvent:
    kind: IncidentEventKind
    cursor: str
    incident: Incident


@strawberry.enum
class KnowledgeKind(Enum):
    INCIDENT = "incident"
    RUNBOOK = "runbook"


@strawberry.type
class KnowledgeHit:
    kind: KnowledgeKind
    id: strawberry.ID
    title: str
    severity: str = strawberry.field(description='The incident\'s severity, or "runbook".')
    preview: str = strawberry.field(description="The solution (or body) around the match.")
    highlight_start: int | None = strawberry.field(description="Where the match starts.")
    highlight_end: int | None
    score: int
    link: str | None = strawberry.field(description="The runbook's or incident's signed page.")
