"""Resolvers of the tenants domain."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON

from opswatch import models
from opswatch.errors import InvalidInput
from opswatch.rosters import calendar_tokens
from opswatch.tenants import apikeys as key_ops
from opswatch.tenants import tenants as tenant_ops
from resolvers.context import Info
from resolvers.ids import id_text
from resolvers.partial import given
from schema.tenants import ApiKey, ApiKeyInput, CreatedApiKey, Tenant, TenantUpdate, Viewer
from schema.users import User


async def viewer(info: Info) -> Viewer:
    principal = info.context.viewer()
    user = principal.user
    assert user is not None
    return Viewer(
        id=User.from_model(user).id,
        name=user.name,
        email=user.email,
        role=User.from_model(user).role,
        timezone=user.timezone,
        tenant=Tenant.from_model(principal.tenant),
        calendar_url=calendar_tokens.feed_url("users", await calendar_tokens.user_feed_token(user)),
    )


async def api_keys(info: Info) -> list[ApiKey]:
    principal = info.context.viewer(models.Role.ADMIN)
    return [ApiKey.from_model(k) for k in await key_ops.list_api_keys(tenant=principal.tenant)]


async def create_api_key(info: Info, input: ApiKeyInput) -> CreatedApiKey:
    principal = info.context.viewer(models.Role.ADMIN)
    created = await key_ops.create_api_key(
        tenant=principal.tenant,
        name=input.name,
        field_map=input.field_map,  # type: ignore[arg-type]
        rate_limit_per_minute=input.rate_limit_per_minute,
        actor=principal.actor("graphql"),
    )
    return CreatedApiKey(api_key=ApiKey.from_model(created.api_key), key=created.clear)


async def update_api_key(
    info: Info,
    id: strawberry.ID,
    name: str | None = strawberry.UNSET,
    field_map: JSON | None = strawberry.UNSET,
    rate_limit_per_minute: int | None = strawberry.UNSET,
) -> ApiKey:
    """Partial: an argument left out is unchanged; null clears fieldMap or
    rateLimitPerMinute, and is refused for name."""
    principal = info.context.viewer(models.Role.ADMIN)
    if name is None:
        raise InvalidInput("name cannot be null; leave it out to keep it", field="name")
    key = await key_ops.update_api_key(
        tenant=principal.tenant,
        key_id=id_text(id),
        name=_given_or_none(name),
        field_map={} if field_map is None else _given_or_none(field_map),
        rate_limit_per_minute=_given_or_none(rate_limit_per_minute),
        clear_rate_limit=rate_limit_per_minute is None,
        actor=principal.actor("graphql"),
    )
    return ApiKey.from_model(key)


def _given_or_none(value: Any) -> Any:
    return None if value is strawberry.UNSET else value


async def update_tenant(info: Info, input: TenantUpdate) -> Tenant:
    """The caller's own tenant, admins only; only the fields given change."""
    principal = info.context.viewer(models.Role.ADMIN)
    tenant = await tenant_ops.update_tenant(
        tenant=principal.tenant,
        changes=given(input, required=["name", "timezone"]),
        actor=principal.actor("graphql"),
    )
    return Tenant.from_model(tenant)


async def revoke_api_key(info: Info, id: strawberry.ID) -> ApiKey:
    principal = info.context.viewer(models.Role.ADMIN)
    key = await key_ops.revoke_api_key(
        tenant=principal.tenant, key_id=id_text(id), actor=principal.actor("graphql")
    )
    return ApiKey.from_model(key)
