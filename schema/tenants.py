"""Types of the tenants domain: the viewer, the tenant and its webhook API keys."""

from __future__ import annotations

from datetime import datetime
from typing import cast

import strawberry
from strawberry.scalars import JSON

from opswatch import models
from schema.scalars import Role


@strawberry.type
class Tenant:
    id: strawberry.ID
    name: str
    slug: str
    timezone: str = strawberry.field(
        description="The default IANA time zone of new users and rosters."
    )
    severity_mapping: JSON = strawberry.field(
        description='Senders\' severity words -> OpsWatch severity, e.g. {"sev1": "critical"}.'
    )
    retention_days_alerts: int = strawberry.field(
        description="Resolved alerts older than this are deleted (not those of incidents)."
    )
    retention_days_audit: int = strawberry.field(
        description="Audit entries older than this move to the archive."
    )

    @classmethod
    def from_model(cls, tenant: models.Tenant) -> Tenant:
        from opswatch.audit.retention import retention_of
        from opswatch.tenants.tenants import severity_mapping_of, timezone_of

        alerts, audit = retention_of(tenant)
        return cls(
            id=strawberry.ID(str(tenant.id)),
            name=tenant.name,
            slug=tenant.slug,
            timezone=timezone_of(tenant),
            severity_mapping=cast(JSON, severity_mapping_of(tenant)),
            retention_days_alerts=alerts,
            retention_days_audit=audit,
        )


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


@strawberry.input(
    description="A field left out is unchanged; name and timezone cannot be null, "
    "a null severityMapping clears it."
)
class TenantUpdate:
    name: str | None = strawberry.UNSET
    timezone: str | None = strawberry.field(
        default=strawberry.UNSET, description="An IANA time zone name, like Europe/Berlin."
    )
    severity_mapping: JSON | None = strawberry.field(
        default=strawberry.UNSET,
        description="Replaces the mapping: up to 100 words (64 characters each, stored "
        "trimmed and lower-cased), each to critical, high, warning, low or info.",
    )
