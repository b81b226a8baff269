"""Resolvers of the users domain."""

from __future__ import annotations

import strawberry

from opswatch import models
from opswatch.tenants import user_lifecycle, user_tokens
from opswatch.tenants import users as user_ops
from resolvers.context import Info
from resolvers.ids import id_text, parse_id
from resolvers.partial import given
from schema.users import CreatedUserToken, User, UserInput, UserToken, UserUpdate


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


async def update_user(info: Info, id: strawberry.ID, input: UserUpdate) -> User:
    """Admins change anyone; a responder only their own contact details and time zone."""
    principal = info.context.viewer(models.Role.RESPONDER)
    changes = given(input, required=list(user_ops.MUST_HAVE))
    if changes.get("role") is not None:
        changes["role"] = changes["role"].to_model()
    row = await user_ops.get_user(principal.tenant, id_text(id))
    row = await user_ops.update_user(
        tenant=principal.tenant,
        user=row,
        changes=changes,
        actor=principal.actor("graphql"),
        editor=principal.user,
    )
    return User.from_model(row)


async def deactivate_user(info: Info, id: strawberry.ID) -> User:
    """They leave every rotation now; their tokens and calendar feed stop working."""
    return await _set_active(info, id, active=False)


async def reactivate_user(info: Info, id: strawberry.ID) -> User:
    return await _set_active(info, id, active=True)


async def _set_active(info: Info, id: strawberry.ID, *, active: bool) -> User:
    principal = info.context.viewer(models.Role.ADMIN)
    row = await user_ops.get_user(principal.tenant, id_text(id))
    row = await user_lifecycle.set_active(
        tenant=principal.tenant,
        user=row,
        active=active,
        actor=principal.actor("graphql"),
        editor=principal.user,
    )
    return User.from_model(row)


async def delete_user(info: Info, id: strawberry.ID) -> strawberry.ID:
    """Refused while a roster or escalation policy names them; deactivate is the usual way."""
    principal = info.context.viewer(models.Role.ADMIN)
    row = await user_ops.get_user(principal.tenant, id_text(id))
    await user_lifecycle.delete_user(
        tenant=principal.tenant, user=row, actor=principal.actor("graphql"), editor=principal.user
    )
    return id


async def _token_owner(info: Info, user_id: strawberry.ID | None) -> models.User:
    """The user named by ``userId``, or the caller when it is left out."""
    principal = info.context.viewer()
    assert principal.user is not None
    if user_id is None:
        return principal.user
    return await user_ops.get_user(principal.tenant, id_text(user_id, "userId"), "userId")


async def create_user_token(
    info: Info, name: str, user_id: strawberry.ID | None = None
) -> CreatedUserToken:
    """``userId`` left out: a token of your own; only admins issue tokens for others."""
    principal = info.context.viewer()
    issued = await user_tokens.create_user_token(
        owner=await _token_owner(info, user_id),
        name=name,
        actor=principal.actor("graphql"),
        editor=principal.user,
    )
    return CreatedUserToken(user_token=UserToken.from_model(issued.token), token=issued.clear)


async def user_tokens_list(info: Info, user_id: strawberry.ID | None = None) -> list[UserToken]:
    """Your own tokens, or (admins) anyone's in the tenant; revoked ones included."""
    principal = info.context.viewer()
    rows = await user_tokens.list_user_tokens(
        owner=await _token_owner(info, user_id), editor=principal.user
    )
    return [UserToken.from_model(row) for row in rows]


async def revoke_user_token(info: Info, id: strawberry.ID) -> UserToken:
    """Your own, or (admins) any in the tenant; revoking twice is harmless."""
    principal = info.context.viewer()
    token = await user_tokens.find_user_token(principal.tenant, id_text(id))
    token = await user_tokens.revoke_user_token(
        token=token, actor=principal.actor("graphql"), editor=principal.user
    )
    return UserToken.from_model(token)
