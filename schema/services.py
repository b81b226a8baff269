"""Types of the services domain: what an alert belongs to."""

from __future__ import annotations

import uuid

import strawberry

from opswatch import models


@strawberry.type
class Service:
    id: strawberry.ID
    name: str
    cluster: str | None
    namespace: str | None
    slack_channel: str | None
    roster_id: strawberry.ID | None
    escalation_policy_id: strawberry.ID | None

    @classmethod
    def from_model(cls, service: models.Service) -> Service:
        roster_id: uuid.UUID | None = service.roster_id  # type: ignore[attr-defined]
        policy_id: uuid.UUID | None = service.escalation_policy_id  # type: ignore[attr-defined]
        return cls(
            id=strawberry.ID(str(service.id)),
            name=service.name,
            cluster=service.cluster,
            namespace=service.namespace,
            slack_channel=service.slack_channel,
            roster_id=strawberry.ID(str(roster_id)) if roster_id else None,
            escalation_policy_id=strawberry.ID(str(policy_id)) if policy_id else None,
        )


@strawberry.input
class ServiceInput:
    name: str
    cluster: str | None = None
    namespace: str | None = None
    roster_id: strawberry.ID | None = None
    escalation_policy_id: strawberry.ID | None = None
    slack_channel: str | None = None
