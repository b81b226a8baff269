"""Overrides: someone else holds a roster's pager for a while (a swap, a sick day)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from tortoise.transactions import in_transaction

from opswatch.audit.actor import Actor
from opswatch.audit.log import record
from opswatch.errors import InvalidInput, NotFound
from opswatch.models import Override, Roster, Tenant, User
from opswatch.rosters.resolve import MAX_OVERRIDE_DAYS


async def create_override(
    *,
    tenant: Tenant,
    roster: Roster,
    user_id: str,
    start: datetime,
    end: datetime,
    actor: Actor,
    created_by: User | None = None,
    now: datetime | None = None,
) -> Override:
    """On a follow-the-sun roster itself it covers every hour; on one of its
    sub-rosters, only that sub-roster's coverage window."""
    start, end = _aware(start, "start"), _aware(end, "end")
    if end <= start:
        raise InvalidInput("end must be after start", field="end")
    if end - start > timedelta(days=MAX_OVERRIDE_DAYS):
        raise InvalidInput(f"an override lasts at most {MAX_OVERRIDE_DAYS} days", field="end")
    if end <= (now or datetime.now(UTC)):
        raise InvalidInput("end is in the past: the override would change nothing", field="end")
    try:
        user = await User.get_or_none(id=uuid.UUID(str(user_id)), tenant=tenant, active=True)
    except ValueError:
        user = None
    if user is None:
        raise NotFound("userId: no such user", field="userId")
    async with in_transaction() as connection:
        override = await Override.create(
            tenant=tenant,
            roster=roster,
            user=user,
            start_at=start,
            end_at=end,
            created_by=created_by,
            using_db=connection,
        )
        await record(
            tenant_id=tenant.id,
            actor=actor,
            action="roster.override_created",
            target_type="roster",
            target_id=roster.id,
            data={"after": _described(override, user)},
            connection=connection,
        )
    return override


async def delete_override(*, tenant: Tenant, override_id: str, actor: Actor) -> Override:
    try:
        key = uuid.UUID(str(override_id))
    except ValueError:
        raise NotFound("id: no such override", field="id") from None
    override = await Override.get_or_none(id=key, tenant=tenant).prefetch_related("user")
    if override is None:
        raise NotFound("id: no such override", field="id")
    async with in_transaction() as connection:
        deleted = await Override.filter(id=key).using_db(connection).delete()
        if deleted:
            await record(
                tenant_id=tenant.id,
                actor=actor,
                action="roster.override_deleted",
                target_type="roster",
                target_id=override.roster_id,  # type: ignore[attr-defined]
                data={"before": _described(override, override.user)},
                connection=connection,
            )
    return override


def _aware(moment: datetime, field: str) -> datetime:
    if moment.tzinfo is None:
        raise InvalidInput(f"{field} needs a UTC offset, like 2026-05-01T08:00:00Z", field=field)
    return moment.astimezone(UTC)


def _described(override: Override, user: User) -> dict[str, str]:
    return {
        "override_id": str(override.id),
        "user_id": str(user.id),
        "user": user.name,
        "start": override.start_at.isoformat(),
        "end": override.end_at.isoformat(),
    }
