"""Types of the users domain: people, their roles and contact details."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry

from opswatch import models
from resolvers.context import Info
from schema.scalars import Role


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
    created_at: datetime

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
            created_at=user.created_at,
        )


async def load_user(info: Info, user_id: uuid.UUID | None) -> User | None:
    """A user of the caller's tenant through the request's loader; None stays None."""
    if user_id is None:
        return None
    row = await info.context.loaders.user.load(user_id)
    return User.from_model(row) if row else None


@strawberry.input
class UserInput:
    name: str
    email: str
    role: Role = Role.RESPONDER
    phone: str | None = None
    timezone: str | None = None
    slack_user_id: str | None = None


@strawberry.input(
    description="A field left out is unchanged; null clears phone or slackUserId "
    "(and is refused for the others)."
)
class UserUpdate:
    name: str | None = strawberry.UNSET
    email: str | None = strawberry.UNSET
    phone: str | None = strawberry.UNSET
    timezone: str | None = strawberry.UNSET
    role: Role | None = strawberry.UNSET
    slack_user_id: str | None = strawberry.UNSET


@strawberry.type(description="A personal token for GraphQL; its secret is shown only once.")
class UserToken:
    id: strawberry.ID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    user_id: strawberry.ID

    @classmethod
    def from_model(cls, token: models.UserToken) -> UserToken:
        return cls(
            id=strawberry.ID(str(token.id)),
            name=token.name,
            prefix=token.prefix,
            created_at=token.created_at,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
            user_id=strawberry.ID(str(token.user_id)),  # type: ignore[attr-defined]
        )


@strawberry.type
class CreatedUserToken:
    user_token: UserToken
    token: str = strawberry.field(description="The token in clear: shown now and never again.")
