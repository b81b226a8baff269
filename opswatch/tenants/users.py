"""Users, their roles, and the personal tokens they use for GraphQL."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from opswatch import validation
from opswatch.audit.actor import Actor
from opswatch.audit.log import record
from opswatch.crypto import credential_matches, credential_prefix, issue_credential
from opswatch.errors import Conflict, Forbidden, InvalidInput, NotFound
from opswatch.models import Role, Tenant, User, UserToken
from opswatch.tenants.owned import get_owned
from opswatch.tenants.user_lifecycle import keep_an_admin

TOKEN_KIND = "u"  # noqa: S105  (a prefix letter, not a secret)

# Columns a change may name (Python names), and how clients spell each in errors.
CHANGEABLE = {
    "name": "name",
    "email": "email",
    "phone": "phone",
    "timezone": "timezone",
    "role": "role",
    "slack_user_id": "slackUserId",
}
MUST_HAVE = ("name", "email", "timezone", "role")


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


@dataclass(frozen=True)
class IssuedToken:
    token: UserToken
    clear: str  # shown once, never stored


async def mint_token(*, user: User, name: str, actor: Actor) -> IssuedToken:
    """A new personal token for ``user`` (who must be checked as allowed one already)."""
    issued = issue_credential(TOKEN_KIND)
    label = validation.required_text("name", name, max_length=200)
    async with in_transaction() as connection:
        token = await UserToken.create(
            tenant_id=user.tenant_id,  # type: ignore[attr-defined]
            user=user,
            name=label,
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
            data={"user_id": str(user.id), "prefix": issued.prefix, "name": label},
            connection=connection,
        )
    return IssuedToken(token=token, clear=issued.clear)


async def issue_token(*, user: User, name: str, actor: Actor) -> str:
    return (await mint_token(user=user, name=name, actor=actor)).clear


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


async def get_user(tenant: Tenant, user_id: object, field: str = "id") -> User:
    return await get_owned(User, tenant, user_id, field, "user")


async def get_user_by_email(tenant: Tenant, email: str, field: str = "email") -> User:
    user = await User.get_or_none(tenant=tenant, email=email.strip().lower())
    if user is None:
        raise NotFound(f"no user with e-mail {email.strip()!r} in this tenant", field=field)
    return user


def check_may_change(editor: User | None, user: User, changes: dict[str, Any]) -> None:
    """Admins change anyone; others only their own contact details and time zone
    (their own role given unchanged, as a form sends it, is no change).
    ``editor`` None is an operator at the CLI."""
    if editor is None or editor.role is Role.ADMIN:
        return
    if editor.id != user.id:
        raise Forbidden("only admins may change other people", field="id")
    role = changes.get("role")
    if role is not None and parse_role(role) is not user.role:
        raise Forbidden("only admins may change roles", field="role")


async def update_user(
    *, tenant: Tenant, user: User, changes: dict[str, Any], actor: Actor, editor: User | None
) -> User:
    """Apply only the fields in ``changes`` (Python names; None clears phone or Slack
    user id), all validated before anything is written; the audit entry keeps before
    and after."""
    unknown = set(changes) - set(CHANGEABLE)
    if unknown:
        raise ValueError(f"not a user field: {sorted(unknown)}")  # a programming error
    # Who may change what comes first: someone else's record is refused, not validated.
    check_may_change(editor, user, changes)
    values = {column: _checked(column, value) for column, value in changes.items()}
    demoted = user.role is Role.ADMIN and values.get("role", Role.ADMIN) is not Role.ADMIN
    before = {column: _plain(getattr(user, column)) for column in values}
    try:
        async with in_transaction() as connection:
            if demoted and user.active:
                await keep_an_admin(tenant, user, connection, field="role")
            if values:
                await User.filter(id=user.id).using_db(connection).update(**values)
            await record(
                tenant_id=tenant.id,
                actor=actor,
                action="user.updated",
                target_type="user",
                target_id=user.id,
                data={"before": before, "after": {c: _plain(v) for c, v in values.items()}},
                connection=connection,
            )
    except IntegrityError:
        raise Conflict(
            f"a user with e-mail {values.get('email', user.email)} already exists", field="email"
        ) from None
    await user.refresh_from_db()
    return user


def _checked(column: str, value: Any) -> Any:
    field = CHANGEABLE[column]
    if value is None and column in MUST_HAVE:
        raise InvalidInput(f"{field} cannot be null; leave it out to keep it", field=field)
    if column == "name":
        return validation.required_text(field, value, max_length=200)
    if column == "email":
        return validation.email(field, value)
    if column == "phone":
        return validation.phone(field, value)
    if column == "timezone":
        return validation.timezone(field, value)
    if column == "role":
        return parse_role(value)
    return validation.optional_text(field, value, max_length=32)


def _plain(value: object) -> object:
    return None if value is None else value if isinstance(value, str) else str(value)
