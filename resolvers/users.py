"""Resolvers of the users domain."""

from __future__ import annotations

import strawberry

from opswatch import models
from opswatch.tenants import users as user_ops
from resolvers.context import Info
from resolvers.ids import parse_id
from schema.users import User, UserInput


async def users(info: Info) -> list[User]:
    principal = info.context.viewer()
    rows = await models.User.filter(tenant=principal.tenant).order_by("name").limit(1000)
    return [User.from_model(row) for row in rows]


async def user(info: Info, id: strawberry.ID) -> User | None:
    info.context.viewer()
    row = await info.context.loaders.user.load(parse_id(id))
    return User.from_model(row) if row else None


async def create_user(info: Info, input: UserInput) -> User:
    principal = info.context.viewer(models.Role.ADMIN)
    created = await user_ops.create_user(
        tenant=principal.tenant,
        name=input.name,
        email=input.email,
        role=input.role.to_model(),
        phone=input.phone,
        timezone=input.timezone,
        slack_user_id=input.slack_user_id,
        actor=principal.actor("graphql"),
        with_token=False,
    )
    return User.from_model(created.user)
