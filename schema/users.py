"""Types of the users domain: people, their roles and contact details."""

from __future__ import annotations

import uuid

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


@strawberry.input
class UserInput:
    name: str
    email: str
    role: Role = Role.RESPONDER
    phone: str | None = None
    timezone: str | None = None
    slack_user_id: str | None = None
