"""Types of the tenants domain: the viewer, tenants, users and services."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from opswatch import models
from resolvers.context import Info
from schema.scalars import Role


@strawberry.type
class Tenant:
    id: strawberry.ID
    name: str
    slug: str
    retention_days_alerts: int = strawberry.field(
        description="Resolved alerts older than this are deleted (not those of incidents)."
    )
    retention_days_audit: int = strawberry.field(
        description="Audit entries older than this move to the archive."
    )

    @classmethod
    def from_model(cls, tenant: models.Tenant) -> Tenant:
        from opswatch.audit.retention import retention_of

        alerts, audit = retention_of(tenant)
        return cls(
            id=strawberry.ID(str(tenant.id)),
            name=tenant.name,
            slug=tenant.slug,
            retention_days_alerts=alerts,
            retention_days_audit=audit,
        )


@strawberry.type
class User:
    id: strawberry.ID
    name: str
    email: str
    role: Role
    phone: str | None
    timezone: str
    slack_user_id: str | None
    active: bool

    @classmethod
    def from_model(cls, user: models.User) -> User:
        return cls(
            id=strawberry.ID(str(user.id)),
            name=user.name,
            email=user.email,
            role=Role.from_model(user.role),
            phone=user.phone,
            timezone=user.timezone,
            slack_user_id=user.slack_user_id,
            active=user.active,
        )


async def load_user(info: Info, user_id: uuid.UUID | None) -> User | None:
    """A user of the caller's tenant through the request's loader; None stays None."""
    if user_id is None:
        return None
    row = await info.context.loaders.user.load(user_id)
    return User.from_model(row) if row else None


@strawberry.type
class Viewer:
    """The authenticated user, with the tenant every query is scoped to."""

    id: strawberry.ID
    name: str
    email: str
    role: Role
    timezone: str
    tenant: Tenant
    calendar_url: str = strawberry.field(
        description="Your personal iCal feed of on-call shifts; the URL is the credential."
    )


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
class UserInput:
    name: str
    email: str
    role: Role = Role.RESPONDER
    phone: str | None = None
    timezone: str | None = None
    slack_user_id: str | None = None


@strawberry.input
class ServiceInput:
    name: str
    cluster: str | None = None
    namespace: str | None = None
    roster_id: strawberry.ID | None = None
    escalation_policy_id: strawberry.ID | None = None
    slack_channel: str | None = None


@strawberry.type
class ApiKey:
    """A webhook key. Its secret is shown once, in ``CreatedApiKey.key``."""

    id: strawberry.ID
    name: str
    prefix: str
    field_map: JSON
    rate_limit_per_minute: int | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def from_model(cls, key: models.ApiKey) -> ApiKey:
        return cls(
            id=strawberry.ID(str(key.id)),
            name=key.name,
            prefix=key.prefix,
            field_map=cast(JSON, key.field_map),
            rate_limit_per_minute=key.rate_limit_per_minute,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )


@strawberry.type
class CreatedApiKey:
    api_key: ApiKey
    key: str


@strawberry.input
class ApiKeyInput:
    name: str
    field_map: JSON | None = strawberry.field(
        default=None,
        description='Generic webhook field -> dotted path, e.g. {"title": "alert.name"}.',
    )
    rate_limit_per_minute: int | None = None
