"""Personal tokens as their owners and admins manage them: issued, listed, revoked.

Anyone may hold tokens of their own; only an admin issues, lists or revokes
someone else's. A token is shown in clear once, when issued.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from tortoise.transactions import in_transaction

from opswatch.audit.actor import Actor
from opswatch.audit.log import record
from opswatch.errors import Conflict, Forbidden, NotFound
from opswatch.models import Role, Tenant, User, UserToken
from opswatch.tenants.users import IssuedToken, mint_token

MAX_LISTED = 1000


def check_may_manage(editor: User | None, owner: User) -> None:
    """``editor`` None is an operator at the CLI."""
    if editor is not None and editor.role is not Role.ADMIN and editor.id != owner.id:
        raise Forbidden("only admins may manage other people's tokens", field="userId")


async def create_user_token(
    *, owner: User, name: str, actor: Actor, editor: User | None
) -> IssuedToken:
    check_may_manage(editor, owner)
    if not owner.active:
        raise Conflict(
            f"{owner.name} is deactivated: reactivate them before issuing a token",
            field="userId",
        )
    return await mint_token(user=owner, name=name, actor=actor)


async def list_user_tokens(*, owner: User, editor: User | None) -> list[UserToken]:
    """Newest first, revoked ones included (they show when they were revoked)."""
    check_may_manage(editor, owner)
    return await UserToken.filter(user=owner).order_by("-created_at", "id").limit(MAX_LISTED)


async def find_user_token(tenant: Tenant, token_id: str, field: str = "id") -> UserToken:
    """By id or prefix, within the tenant only."""
    query = UserToken.filter(tenant=tenant).select_related("user")
    try:
        token = await query.get_or_none(id=uuid.UUID(token_id))
    except ValueError:
        token = await query.get_or_none(prefix=token_id.strip())
    if token is None:
        raise NotFound(f"no token {token_id!r} in this tenant", field=field)
    return token


async def revoke_user_token(*, token: UserToken, actor: Actor, editor: User | None) -> UserToken:
    """Revoking twice keeps the first revocation time."""
    check_may_manage(editor, token.user)
    if token.revoked_at is None:
        async with in_transaction() as connection:
            # Only a live token is revoked, so two revocations at once record one time.
            revoked = (
                await UserToken.filter(id=token.id, revoked_at__isnull=True)
                .using_db(connection)
                .update(revoked_at=datetime.now(UTC))
            )
            if revoked:
                await record(
                    tenant_id=token.tenant_id,  # type: ignore[attr-defined]
                    actor=actor,
                    action="user.token_revoked",
                    target_type="user_token",
                    target_id=token.id,
                    data={"user_id": str(token.user.id), "prefix": token.prefix},
                    connection=connection,
                )
        await token.refresh_from_db()
    return token
