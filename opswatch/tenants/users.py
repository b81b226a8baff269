"""Users, their roles, and the personal tokens they use for GraphQL."""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from opswatch import validation
from opswatch.audit.actor import Actor
from opswatch.audit.log import record
from opswatch.crypto import credential_matches, credential_prefix, issue_credential
from opswatch.errors import Conflict, InvalidInput
from opswatch.models import Role, Tenant, User, UserToken

TOKEN_KIND = "u"  # noqa: S105  (a prefix letter, not a secret)


@dataclass(frozen=True)
class CreatedUser:
    user: User
    token: str | None  # clear text, shown once


def parse_role(value: str | Role) -> Role:
    try:
        return Role(value.lower() if isinstance(value, str) else value)
    except ValueError:
        allowed = ", ".join(role.value for role in Role)
        raise InvalidInput(f"role must be one of {allowed}", field="role") from None


async def create_user(
    *,
    tenant: Tenant,
    name: str,
    email: str,
    actor: Actor,
    role: Role = Role.RESPONDER,
    phone: str | None = None,
    timezone: str | None = None,
    slack_user_id: str | None = None,
    with_token: bool = True,
) -> CreatedUser:
    name = validation.required_text("name", name, max_length=200)
    address = validation.email("email", email)
    number = validation.phone("phone", phone)
    zone = validation.timezone("timezone", timezone or tenant.settings.get("timezone", "UTC"))
    slack_id = validation.optional_text("slackUserId", slack_user_id, max_length=32)
    issued = issue_credential(TOKEN_KIND) if with_token else None
    try:
        async with in_transaction() as connection:
            user = await User.create(
                tenant=tenant,
                name=name,
                email=address,
                role=role,
                phone=number,
                timezone=zone,
                slack_user_id=slack_id,
                using_db=connection,
            )
            if issued is not None:
                await UserToken.create(
                    tenant=tenant,
                    user=user,
                    prefix=issued.prefix,
                    token_hash=issued.digest,
                    using_db=connection,
                )
            await record(
                tenant_id=tenant.id,
                actor=actor,
                action="user.created",
                target_type="user",
                target_id=user.id,
                data={"email": address, "role": role.value},
                connection=connection,
            )
    except IntegrityError:
        raise Conflict(f"a user with e-mail {address} already exists", field="email") from None
    return CreatedUser(user=user, token=issued.clear if issued else None)


async def issue_token(*, user: User, name: str, actor: Actor) -> str:
    issued = issue_credential(TOKEN_KIND)
    async with in_transaction() as connection:
        token = await UserToken.create(
            tenant_id=user.tenant_id,  # type: ignore[attr-defined]
            user=user,
            name=validation.required_text("name", name, max_length=200),
            prefix=issued.prefix,
            token_hash=issued.digest,
            using_db=connection,
        )
        await record(
            tenant_id=user.tenant_id,  # type: ignore[attr-defined]
            actor=actor,
            action="user.token_issued",
            target_type="user_token",
            target_id=token.id,
            data={"user_id": str(user.id), "prefix": issued.prefix},
            connection=connection,
        )
    return issued.clear


async def authenticate_token(clear: str) -> UserToken | None:
    """The live token (with its user and tenant) for a presented bearer token, or None."""
    prefix = credential_prefix(clear, TOKEN_KIND)
    if prefix is None:
        return None
    token = await UserToken.get_or_none(prefix=prefix).select_related("user", "tenant")
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    if not credential_matches(clear, token.token_hash):
        return None
    return token
