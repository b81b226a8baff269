"""Escalation policies: ordered tiers of who to reach, how, and how long to wait."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from opswatch import validation
from opswatch.audit.actor import Actor
from opswatch.audit.log import record
from opswatch.errors import Conflict, InvalidInput, NotFound
from opswatch.models import (
    Channel,
    EscalationPolicy,
    EscalationTier,
    Roster,
    Service,
    Severity,
    Tenant,
    User,
)
from opswatch.tenants.owned import get_owned

MAX_TIERS = 10
MAX_REPEAT = 10
MAX_DELAY_MINUTES = 24 * 60


@dataclass(frozen=True)
class TierSpec:
    delay_minutes: int
    channels: list[Channel]
    roster_ids: list[str] = field(default_factory=list)
    user_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PolicySpec:
    name: str
    tiers: list[TierSpec]
    repeat: int = 0
    minimum_severity: Severity | None = None
    is_default: bool = False


async def get_policy(tenant: Tenant, policy_id: str, field_name: str = "id") -> EscalationPolicy:
    return await get_owned(EscalationPolicy, tenant, policy_id, field_name, "escalation policy")


async def create_policy(*, tenant: Tenant, spec: PolicySpec, actor: Actor) -> EscalationPolicy:
    name, tiers = await _validated(tenant, spec)
    try:
        async with in_transaction() as connection:
            if spec.is_default:
                await _clear_default(tenant, connection)
            policy = await EscalationPolicy.create(
                tenant=tenant,
                name=name,
                repeat=spec.repeat,
                minimum_severity=spec.minimum_severity,
                is_default=spec.is_default,
                using_db=connection,
            )
            await _write_tiers(policy, tiers, connection)
            await record(
                tenant_id=tenant.id,
                actor=actor,
                action="escalation_policy.created",
                target_type="escalation_policy",
                target_id=policy.id,
                data={"after": _described(spec, name)},
                connection=connection,
            )
    except IntegrityError:
        raise Conflict(
            f"an escalation policy named {name!r} already exists", field="name"
        ) from None
    return policy


# What ``change_policy`` may change (Python names).
CHANGEABLE = ("name", "tiers", "repeat", "minimum_severity", "is_default")


async def update_policy(
    *, tenant: Tenant, policy: EscalationPolicy, spec: PolicySpec, actor: Actor
) -> EscalationPolicy:
    """Replace the policy's settings and tiers, all of them."""
    changes = {name: getattr(spec, name) for name in CHANGEABLE}
    return await change_policy(tenant=tenant, policy=policy, changes=changes, actor=actor)


async def change_policy(
    *, tenant: Tenant, policy: EscalationPolicy, changes: dict[str, Any], actor: Actor
) -> EscalationPolicy:
    """Change only the settings in ``changes`` (``tiers``, a list of ``TierSpec``, are
    replaced as a whole when given), every one checked before anything is written.
    Alerts already escalating carry on from the tier they reached, under the new tiers."""
    unknown = set(changes) - set(CHANGEABLE)
    if unknown:
        raise ValueError(f"not a policy field: {sorted(unknown)}")  # a programming error
    values: dict[str, Any] = {}
    if "name" in changes:
        values["name"] = _checked_name(changes["name"])
    if "repeat" in changes:
        values["repeat"] = _checked_repeat(changes["repeat"])
    if "minimum_severity" in changes:
        values["minimum_severity"] = changes["minimum_severity"]
    if "is_default" in changes:
        values["is_default"] = bool(changes["is_default"])
    tiers = await _checked_tiers(tenant, changes["tiers"]) if "tiers" in changes else None
    before = await _current(policy)
    try:
        async with in_transaction() as connection:
            if values.get("is_default"):
                await _clear_default(tenant, connection, keep=policy.id)
            if values:
                await EscalationPolicy.filter(id=policy.id).using_db(connection).update(**values)
            if tiers is not None:
                await EscalationTier.filter(policy=policy).using_db(connection).delete()
                await _write_tiers(policy, tiers, connection)
            await record(
                tenant_id=tenant.id,
                actor=actor,
                action="escalation_policy.updated",
                target_type="escalation_policy",
                target_id=policy.id,
                data={
                    "before": {name: before[name] for name in changes},
                    "after": _described_changes(values, changes),
                },
                connection=connection,
            )
    except IntegrityError:
        name = values.get("name", policy.name)
        raise Conflict(
            f"an escalation policy named {name!r} already exists", field="name"
        ) from None
    await policy.refresh_from_db()
    return policy


async def delete_policy(*, tenant: Tenant, policy: EscalationPolicy, actor: Actor) -> None:
    """Services using it fall back to the tenant default; escalating alerts stop."""
    async with in_transaction() as connection:
        await EscalationPolicy.filter(id=policy.id).using_db(connection).delete()
        await record(
            tenant_id=tenant.id,
            actor=actor,
            action="escalation_policy.deleted",
            target_type="escalation_policy",
            target_id=policy.id,
            data={"before": {"name": policy.name}},
            connection=connection,
        )


async def assign_policy(
    *, tenant: Tenant, service_id: str, policy_id: str | None, actor: Actor
) -> Service:
    service = await get_owned(Service, tenant, service_id, "serviceId", "service")
    policy = await get_policy(tenant, policy_id, "policyId") if policy_id else None
    before = service.escalation_policy_id  # type: ignore[attr-defined]
    async with in_transaction() as connection:
        await Service.filter(id=service.id).using_db(connection).update(escalation_policy=policy)
        await record(
            tenant_id=tenant.id,
            actor=actor,
            action="service.escalation_policy_assigned",
            target_type="service",
            target_id=service.id,
            data={
                "before": {"escalation_policy_id": str(before) if before else None},
                "after": {"escalation_policy_id": str(policy.id) if policy else None},
            },
            connection=connection,
        )
    await service.refresh_from_db()
    return service


@dataclass(frozen=True)
class _Tier:
    delay_minutes: int
    channels: list[Channel]
    rosters: list[Roster]
    users: list[User]


async def _validated(tenant: Tenant, spec: PolicySpec) -> tuple[str, list[_Tier]]:
    name = _checked_name(spec.name)
    _checked_repeat(spec.repeat)
    return name, await _checked_tiers(tenant, spec.tiers)


def _checked_name(name: str) -> str:
    return validation.required_text("name", name, max_length=200)


def _checked_repeat(repeat: int) -> int:
    if not 0 <= repeat <= MAX_REPEAT:
        raise InvalidInput(f"repeat must be between 0 and {MAX_REPEAT}", field="repeat")
    return repeat


async def _checked_tiers(tenant: Tenant, specs: list[TierSpec]) -> list[_Tier]:
    if not 1 <= len(specs) <= MAX_TIERS:
        raise InvalidInput(f"tiers: give 1 to {MAX_TIERS} tiers", field="tiers")
    tiers = []
    for index, tier in enumerate(specs):
        where = f"tiers[{index}]"
        if not 1 <= tier.delay_minutes <= MAX_DELAY_MINUTES:
            raise InvalidInput(
                f"{where}.delayMinutes must be between 1 and {MAX_DELAY_MINUTES}",
                field=f"{where}.delayMinutes",
            )
        if not tier.channels:
            raise InvalidInput(f"{where}.channels: name at least one", field=f"{where}.channels")
        rosters = await _owned(Roster, tenant, tier.roster_ids, f"{where}.rosterIds")
        users = await _owned(User, tenant, tier.user_ids, f"{where}.userIds")
        if not rosters and not users:
            raise InvalidInput(
                f"{where}: name at least one roster or user to reach", field=f"{where}.rosterIds"
            )
        tiers.append(_Tier(tier.delay_minutes, list(dict.fromkeys(tier.channels)), rosters, users))
    return tiers


Owned = TypeVar("Owned", Roster, User)


async def _owned(model: type[Owned], tenant: Tenant, ids: list[str], where: str) -> list[Owned]:
    keys = []
    for index, raw in enumerate(ids):
        try:
            keys.append(uuid.UUID(str(raw)))
        except ValueError:
            raise NotFound(f"{where}[{index}]: no such record", field=f"{where}[{index}]") from None
    rows = {row.id: row for row in await model.filter(id__in=keys, tenant=tenant)}
    for index, key in enumerate(keys):
        if key not in rows:
            raise NotFound(f"{where}[{index}]: no such record", field=f"{where}[{index}]")
    return [rows[key] for key in dict.fromkeys(keys)]


async def _write_tiers(
    policy: EscalationPolicy, tiers: list[_Tier], connection: BaseDBAsyncClient
) -> None:
    for position, tier in enumerate(tiers, start=1):
        row = await EscalationTier.create(
            policy=policy,
            position=position,
            delay_minutes=tier.delay_minutes,
            channels=[c.value for c in tier.channels],
            using_db=connection,
        )
        if tier.rosters:
            await row.rosters.add(*tier.rosters, using_db=connection)
        if tier.users:
            await row.users.add(*tier.users, using_db=connection)


async def _clear_default(
    tenant: Tenant, connection: BaseDBAsyncClient, keep: uuid.UUID | None = None
) -> None:
    query = EscalationPolicy.filter(tenant=tenant, is_default=True)
    if keep is not None:
        query = query.exclude(id=keep)
    await query.using_db(connection).update(is_default=False)


def _described(spec: PolicySpec, name: str) -> dict[str, object]:
    return {
        "name": name,
        "repeat": spec.repeat,
        "minimum_severity": spec.minimum_severity.value if spec.minimum_severity else None,
        "is_default": spec.is_default,
        "tiers": _described_tiers(spec.tiers),
    }


def _described_tiers(tiers: list[TierSpec]) -> list[dict[str, object]]:
    return [
        {
            "delay_minutes": t.delay_minutes,
            "channels": [c.value for c in t.channels],
            "roster_ids": t.roster_ids,
            "user_ids": t.user_ids,
        }
        for t in tiers
    ]


def _described_changes(values: dict[str, Any], changes: dict[str, Any]) -> dict[str, object]:
    """The changed settings as the audit log shows them."""
    described: dict[str, object] = {
        name: value.value if isinstance(value, Severity) else value
        for name, value in values.items()
    }
    if "tiers" in changes:
        described["tiers"] = _described_tiers(changes["tiers"])
    return described


async def _current(policy: EscalationPolicy) -> dict[str, object]:
    """The policy before a change, as the audit log shows it."""
    tiers = (
        await EscalationTier.filter(policy=policy)
        .order_by("position")
        .prefetch_related("rosters", "users")
    )
    return {
        "name": policy.name,
        "repeat": policy.repeat,
        "minimum_severity": policy.minimum_severity.value if policy.minimum_severity else None,
        "is_default": policy.is_default,
        "tiers": [
            {
                "delay_minutes": t.delay_minutes,
                "channels": list(t.channels),
                "roster_ids": sorted(str(r.id) for r in t.rosters),
                "user_ids": sorted(str(u.id) for u in t.users),
            }
            for t in tiers
        ],
    }
