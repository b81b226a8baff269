"""A user's life after creation: deactivated, reactivated, deleted; never the last admin."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from opswatch.audit.actor import Actor
from opswatch.audit.log import record
from opswatch.errors import Conflict
from opswatch.models import EscalationTier, Override, Role, Roster, RosterMember, Tenant, User
from opswatch.queue.failures import enqueue_or_warn
from opswatch.rosters.handoffs import announcing_holder_changes


async def set_active(
    *,
    tenant: Tenant,
    user: User,
    active: bool,
    actor: Actor,
    editor: User | None,
    now: datetime | None = None,
) -> User:
    """Deactivate (or reactivate) ``user``: they leave (or rejoin) every rotation at
    once, and whoever holds a pager because of it is announced now, not at a tick."""
    if not active and editor is not None and editor.id == user.id:
        raise Conflict("you cannot deactivate yourself: ask another admin", field="id")
    if user.active is active:
        return user  # asked twice: nothing changes, nothing is announced again

    async def change() -> None:
        async with in_transaction() as connection:
            if not active and user.role is Role.ADMIN:
                await keep_an_admin(tenant, user, connection, field="id")
            await User.filter(id=user.id).using_db(connection).update(active=active)
            await record(
                tenant_id=tenant.id,
                actor=actor,
                action="user.reactivated" if active else "user.deactivated",
                target_type="user",
                target_id=user.id,
                data={"email": user.email},
                connection=connection,
            )

    _, announced = await announcing_holder_changes(tenant.id, change, now)
    if announced:
        await enqueue_or_warn(
            "slack.deliver_notices", consequence="the handoff notices go out at the next tick"
        )
    await user.refresh_from_db()
    return user


async def delete_user(*, tenant: Tenant, user: User, actor: Actor, editor: User | None) -> None:
    """Only a user nothing refers to any more; tokens go with them, audit entries stay."""
    if editor is not None and editor.id == user.id:
        raise Conflict("you cannot delete yourself: ask another admin", field="id")
    async with in_transaction() as connection:
        # Roster changes and new policies lock the tenant row too (its config_version
        # triggers), so they cannot add a reference between this check and the delete.
        await lock_tenant(tenant, connection)
        rosters, policies = await _references(user, connection)
        if rosters or policies:
            raise Conflict(_still_referenced(user, rosters, policies), field="id")
        if user.role is Role.ADMIN and user.active:
            await keep_an_admin(tenant, user, connection, field="id", locked=True)
        await User.filter(id=user.id, tenant=tenant).using_db(connection).delete()
        await record(
            tenant_id=tenant.id,
            actor=actor,
            action="user.deleted",
            target_type="user",
            target_id=user.id,
            data={"before": {"name": user.name, "email": user.email, "role": user.role.value}},
            connection=connection,
        )


async def _references(user: User, connection: BaseDBAsyncClient) -> tuple[list[str], list[str]]:
    """Names of the rosters (as member or override) and policies that name ``user``."""
    roster_ids = set(
        await RosterMember.filter(user_id=user.id)
        .using_db(connection)
        .values_list("roster_id", flat=True)
    ) | set(
        await Override.filter(user_id=user.id)
        .using_db(connection)
        .values_list("roster_id", flat=True)
    )
    rosters = (
        await Roster.filter(id__in=roster_ids).using_db(connection).values_list("name", flat=True)
    )
    policies = await (
        EscalationTier.filter(users__id=user.id)
        .using_db(connection)
        .values_list("policy__name", flat=True)
    )
    return sorted(set(map(str, rosters))), sorted(set(map(str, policies)))


def _still_referenced(user: User, rosters: Iterable[str], policies: Iterable[str]) -> str:
    places = []
    if rosters:
        places.append("rosters " + ", ".join(rosters))
    if policies:
        places.append("escalation policies " + ", ".join(policies))
    return (
        f"{user.name} is still on {' and in '.join(places)}: take them off there first, "
        "or deactivate them instead (the usual way: their history stays)"
    )


async def lock_tenant(tenant: Tenant, connection: BaseDBAsyncClient) -> None:
    # PostgreSQL only; SQLite runs one write transaction at a time anyway.
    await Tenant.select_for_update().using_db(connection).get(id=tenant.id)


async def keep_an_admin(
    tenant: Tenant, user: User, connection: BaseDBAsyncClient, *, field: str, locked: bool = False
) -> None:
    """Refuse to leave the tenant without an active admin. The tenant row's lock makes
    two admins demoting each other at once take turns, so the second one is refused."""
    if not locked:
        await lock_tenant(tenant, connection)
    others = (
        await User.filter(tenant=tenant, role=Role.ADMIN, active=True)
        .exclude(id=user.id)
        .using_db(connection)
        .count()
    )
    if others == 0:
        raise Conflict(
            f"{user.name} is the tenant's last active admin: make someone else admin first",
            field=field,
        )
