"""Types of the services domain: what an alert belongs to."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated

import strawberry

from opswatch import models
from resolvers.context import Info

if TYPE_CHECKING:
    # Rosters and policies are loaded lazily by name: their modules import this one's
    # neighbours, and a plain import here would make the schema modules a cycle.
    from schema.escalation import EscalationPolicy
    from schema.rosters import Roster


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

    @strawberry.field(description="Whose pager the service's alerts ring.")
    async def roster(
        self, info: Info
    ) -> Annotated[Roster, strawberry.lazy("schema.rosters")] | None:
        from schema.rosters import Roster

        if self.roster_id is None:
            return None
        row = await info.context.loaders.roster.load(uuid.UUID(str(self.roster_id)))
        return Roster.from_model(row) if row else None

    @strawberry.field(description="How the service's alerts escalate (null: the tenant default).")
    async def escalation_policy(
        self, info: Info
    ) -> Annotated[EscalationPolicy, strawberry.lazy("schema.escalation")] | None:
        from schema.escalation import EscalationPolicy

        if self.escalation_policy_id is None:
            return None
        row = await info.context.loaders.escalation_policy.load(
            uuid.UUID(str(self.escalation_policy_id))
        )
        return EscalationPolicy.from_model(row) if row else None


@strawberry.input
class ServiceInput:
    name: str
    cluster: str | None = None
    namespace: str | None = None
    roster_id: strawberry.ID | None = None
    escalation_policy_id: strawberry.ID | None = None
    slack_channel: str | None = None


@strawberry.input(description="A field left out is unchanged; null clears it (not `name`).")
class ServiceUpdate:
    name: str | None = strawberry.UNSET
    cluster: str | None = strawberry.UNSET
    namespace: str | None = strawberry.UNSET
    roster_id: strawberry.ID | None = strawberry.UNSET
    escalation_policy_id: strawberry.ID | None = strawberry.UNSET
    slack_channel: str | None = strawberry.UNSET
