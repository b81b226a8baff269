"""Types of the knowledge domain."""

from __future__ import annotations

from datetime import datetime

import strawberry

from opswatch import models


@strawberry.type
class Incident:
    id: strawberry.ID
    title: str
    severity: str
    status: str
    summary: str
    root_cause: str | None
    solution: str | None
    source: str
    occurrences: int
    created_at: datetime
    resolved_at: datetime | None

    @classmethod
    def from_model(cls, incident: models.Incident) -> Incident:
        return cls(
            id=strawberry.ID(str(incident.id)),
            title=incident.title,
            severity=incident.severity.value,
            status=incident.status.value,
            summary=incident.summary,
            root_cause=incident.root_cause,
            solution=incident.solution,
            source=incident.source.value,
            occurrences=incident.occurrences,
            created_at=incident.created_at,
            resolved_at=incident.resolved_at,
        )
