"""Resolvers of the tenants domain."""

from __future__ import annotations

import strawberry
from strawberry.scalars import JSON

from opswatch import models
from opswatch.rosters import calendar_tokens
from opswatch.tenants import apikeys as key_ops
from resolvers.context import Info
from resolvers.ids import id_text
from schema.tenants import ApiKey, ApiKeyInput, CreatedApiKey, Tenant, Viewer
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
    field_map: JSON | None = None,
    rate_limit_per_minute: int | None = None,
) -> ApiKey:
    principal = info.context.viewer(models.Role.ADMIN)
    key = await key_ops.update_api_key(
        tenant=principal.tenant,
        key_id=id_text(id),
        field_map=field_map,  # type: ignore[arg-type]
        rate_limit_per_minute=rate_limit_per_minute,
        actor=principal.actor("graphql"),
    )
    return ApiKey.from_model(key)


async def revoke_api_key(info: Info, id: strawberry.ID) -> ApiKey:
    principal = info.context.viewer(models.Role.ADMIN)
    key = await key_ops.revoke_api_key(
        tenant=principal.tenant, key_id=id_text(id), actor=principal.actor("graphql")
    )
    return ApiKey.from_model(key)
