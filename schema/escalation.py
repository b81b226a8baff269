"""Types of the escalation domain: policies, their tiers, and every attempt to reach someone."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import Enum

import strawberry

from opswatch import models
from resolvers.context import Info
from schema.users import User, load_user


@strawberry.enum
class Channel(Enum):
    SLACK_DM = "slack_dm"
    SMS = "sms"
    PHONE = "phone"
    SLACK_CHANNEL = "slack_channel"


@strawberry.enum
class EscalationState(Enum):
    NONE = "none"
    ACTIVE = "active"
    STOPPED = "stopped"
    EXHAUSTED = "exhausted"


@strawberry.enum
class DeliveryStatus(Enum):
    PENDING = "pending"
    SENDING = "sending"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    THROTTLED = "throttled"
    UNKNOWN = "unknown"
    CANCELED = "canceled"


@strawberry.type
class EscalationTier:
    position: int
    delay_minutes: int = strawberry.field(description="How long this tier has before the next.")
    channels: list[Channel]
    roster_ids: list[strawberry.ID]
    users: list[User]


@strawberry.type
class EscalationPolicy:
    id: strawberry.ID
    name: str
    repeat: int = strawberry.field(description="How many more times the tiers run after the first.")
    minimum_severity: str | None
    is_default: bool
    tiers: list[EscalationTier]

    @classmethod
    def from_model(cls, policy: models.EscalationPolicy) -> EscalationPolicy:
        tiers = sorted(policy.tiers, key=lambda t: t.position)  # type: ignore[attr-defined]
        return cls(
            id=strawberry.ID(str(policy.id)),
            name=policy.name,
            repeat=policy.repeat,
            minimum_severity=policy.minimum_severity.value if policy.minimum_severity else None,
            is_default=policy.is_default,
            tiers=[
                EscalationTier(
                    position=t.position,
                    delay_minutes=t.delay_minutes,
                    channels=[Channel(c) for c in t.channels],
                    roster_ids=[strawberry.ID(str(r.id)) for r in t.rosters],
                    users=[User.from_model(u) for u in t.users],
                )
                for t in tiers
            ],
        )


@strawberry.type
class EscalationEvent:
    """One attempt to reach one person (or channel) for one tier of one cycle."""

    id: strawberry.ID
    cycle: int
    tier: int
    channel: Channel
    status: DeliveryStatus
    target: str
    reason: str | None
    provider: str | None
    provider_ref: str | None
    to_address: str | None
    message: str | None
    sent_at: datetime | None
    created_at: datetime
    updated_at: datetime
    user_id: strawberry.Private[uuid.UUID | None]

    @classmethod
    def from_model(cls, row: models.EscalationEvent) -> EscalationEvent:
        return cls(
            id=strawberry.ID(str(row.id)),
            cycle=row.cycle,
            tier=row.tier,
            channel=Channel(row.channel.value),
            status=DeliveryStatus(row.status.value),
            target=row.target,
            reason=row.reason,
            provider=row.provider,
            provider_ref=row.provider_ref,
            to_address=row.to_address,
            message=row.message,
            sent_at=row.sent_at,
            created_at=row.created_at,
            updated_at=row.updated_at,
            user_id=row.user_id,  # type: ignore[attr-defined]
        )

    @strawberry.field
    async def user(self, info: Info) -> User | None:
        return await load_user(info, self.user_id)


@strawberry.input
class EscalationTierInput:
    delay_minutes: int
    channels: list[Channel]
    roster_ids: list[strawberry.ID] = strawberry.field(default_factory=list)
    user_ids: list[strawberry.ID] = strawberry.field(default_factory=list)


@strawberry.input
class EscalationPolicyInput:
    name: str
    tiers: list[EscalationTierInput]
    repeat: int = 0
    minimum_severity: str | None = None
    is_default: bool = False


@strawberry.input(
    description="A field left out is unchanged; null clears minimumSeverity only. "
    "`tiers` given replaces the whole list."
)
class EscalationPolicyUpdate:
    name: str | None = strawberry.UNSET
    tiers: list[EscalationTierInput] | None = strawberry.UNSET
    repeat: int | None = strawberry.UNSET
    minimum_severity: str | None = strawberry.UNSET
    is_default: bool | None = strawberry.UNSET
